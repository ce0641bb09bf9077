"""The one exception root for files a shop writes and the station cannot use.

Configuration (``station.toml``), test plans, fixture files, sync settings and simulated-fault
names all fail the same way for an operator or installer: the file is wrong, a person must fix
it, and restarting will not help. The command line catches :class:`SettingsFileError` once,
prints its message (which names the file, line and key where they are known) and exits 78
(``EX_CONFIG``); the systemd unit does not restart the service on that code.
"""

from __future__ import annotations


class SettingsFileError(ValueError):
    """A configuration, plan, fixture or sync-settings file that cannot be used."""


__all__ = ["SettingsFileError"]
