"""Loggers that import :mod:`logging` only when a record is really written (issue 14: start-up).

``logging`` brings ``traceback``, ``linecache``, ``tokenize``, ``textwrap``, ``string`` and
``weakref`` with it: ~4-5 ms of every ``pibench run`` and station start on this machine (several
times that on a Pi), and at the default level (WARNING) those commands write no record at all.
So the station's modules take their loggers from here::

    from edge import lazylog
    _log = lazylog.getLogger("edge.engine")   # same names, messages and levels as before

What :func:`getLogger` gives behaves as ``logging.getLogger(name)`` would, in every case:

* once ``logging`` is imported (by a test's caplog, the sync's HTTP client, the run thread's
  executor, anyone), it *is* the real logger: :func:`getLogger` returns ``logging.getLogger(name)``
  itself, and a stand-in made earlier hands every call to it (levels, handlers, filters, caplog:
  all logging's own);
* before that, a record below the level the command line configured (:func:`configure`: WARNING,
  or DEBUG with ``-v``; without a configuration, the WARNING of logging's unconfigured root) is
  dropped without importing ``logging``: logging would drop it too, since nothing could have
  lowered a level without importing it. Anything at or above imports ``logging`` and goes to the
  real logger, with the caller's file, line and function (``stacklevel``).

**Configuration and the secrets' redaction follow the import**, not the command's start:
:func:`configure` (the command line's ``logging.basicConfig``) and :func:`when_imported`
(``edge.sync.secrets.install_redaction``) run at once if ``logging`` is imported already, and
otherwise right after ``logging``'s own module code has run, while the import still holds its lock:
whoever imports it (a stand-in about to write a record, a library) gets it configured, with the
redaction in place before any record can be made or any handler added. A small finder at the
head of ``sys.meta_path`` watches for that one import, then steps aside.

Not here: ``drivers/`` (it cannot import ``edge``; its one logger, the serial scanner's, comes
with pyserial and a configured scanner), ``python -m edge.sync`` (its own process configures
logging at once) and the HMI (Textual imports ``logging`` anyway).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

# logging's level numbers (tests/edge/test_lazylog.py checks they are logging's).
CRITICAL = 50
ERROR = 40
WARNING = 30
INFO = 20
DEBUG = 10

# Below this level a stand-in drops a record while logging is not imported: the configured
# level, else what an unconfigured root logger lets through (its WARNING, then lastResort).
_threshold = WARNING
_pending: list[tuple[Callable[..., None], tuple[Any, ...], dict[str, Any]]] = []
_lock = threading.Lock()

# What a stand-in hands to the real logger once there is one (its own bound methods, from then on).
_METHODS = ("debug", "info", "warning", "error", "exception", "critical", "log", "isEnabledFor",
            "getEffectiveLevel")


def getLogger(name: str) -> logging.Logger:  # logging's name and answer: a drop-in
    """``logging.getLogger(name)`` if logging is imported, else a :class:`Logger` standing in."""
    if "logging" in sys.modules:
        import logging

        return logging.getLogger(name)
    return Logger(name)  # type: ignore[return-value]  (it answers as a logging.Logger does)


def configure(level: int, **basic_config: Any) -> None:
    """``logging.basicConfig(level=level, **basic_config)``, when logging is imported (now if it
    is); until then stand-ins drop records below ``level``."""
    global _threshold
    _threshold = level
    when_imported(_basic_config, level=level, **basic_config)


def when_imported(action: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """``action(*args, **kwargs)`` now if logging is imported, else right after it is (once: the
    same action with the same arguments asked again while waiting is not repeated)."""
    with _lock:
        if "logging" not in sys.modules:
            if (action, args, kwargs) not in _pending:
                _pending.append((action, args, kwargs))
            if _WatchLoggingImport not in sys.meta_path:
                _set_meta_path([_WatchLoggingImport, *sys.meta_path])
            return
    action(*args, **kwargs)


def _set_meta_path(finders: list[Any]) -> None:
    """A new list, never a change in place: another thread's import may be walking the old one
    (a finder removed under it would make it skip the next)."""
    sys.meta_path = finders


def _basic_config(**kwargs: Any) -> None:
    import logging

    logging.basicConfig(**kwargs)


def _run_pending() -> None:
    with _lock:
        actions = _pending[:]
        _pending.clear()
    for action, args, kwargs in actions:  # (an exception fails the import: never unredacted)
        action(*args, **kwargs)


class _WatchLoggingImport:
    """A meta path finder for ``logging`` alone: it asks the other finders for the module and has
    the pending actions run right after the module's code. It steps aside when ``logging`` is
    imported, not when asked (``importlib.util.find_spec`` asks without importing)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
        if name != "logging":
            return None
        for finder in sys.meta_path:
            if finder is _WatchLoggingImport:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenRunPending(spec.loader)
                return spec
        return None


class _ThenRunPending:
    """The loader of ``logging``, then the pending actions (the module lock is still held: no
    other thread sees ``logging`` before they have run)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with _lock:
            _set_meta_path([f for f in sys.meta_path if f is not _WatchLoggingImport])
        # The module keeps its own loader, as if imported plainly.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _run_pending()


class Logger:
    """Stands in for ``logging.getLogger(name)`` until ``logging`` is imported (see above).

    Its methods and attributes read through to the real logger; assigning one does not (configure
    a logger with ``logging.getLogger(name)``, as the tests do)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _real(self) -> logging.Logger:
        import logging  # (configured and redacted by the time this returns: see when_imported)

        if _pending:  # (only if a finder ahead of ours loaded logging: late, but not never)
            _run_pending()
        real = logging.getLogger(self.name)
        for method in _METHODS:  # from now on, the real logger answers directly
            setattr(self, method, getattr(real, method))
        return real

    def _emit(self, level: int, msg: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if "logging" not in sys.modules and isinstance(level, int) and level < _threshold:
            return
        # The record names the caller, not this module: its frame and _emit's are two more.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 2
        self._real().log(level, msg, *args, **kwargs)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._emit(DEBUG, msg, args, kwargs)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._emit(INFO, msg, args, kwargs)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._emit(WARNING, msg, args, kwargs)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._emit(ERROR, msg, args, kwargs)

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        self._emit(ERROR, msg, args, {**kwargs, "exc_info": exc_info})

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._emit(CRITICAL, msg, args, kwargs)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        self._emit(level, msg, args, kwargs)

    def isEnabledFor(self, level: int) -> bool:
        if "logging" not in sys.modules:
            return level >= _threshold
        return self._real().isEnabledFor(level)

    def getEffectiveLevel(self) -> int:
        if "logging" not in sys.modules:
            return _threshold
        return self._real().getEffectiveLevel()

    def __getattr__(self, name: str) -> Any:
        """Anything else (``setLevel``, ``handlers``…) is the real logger's."""
        if name.startswith("__"):  # (copy, pickle and friends probing: not a logger's business)
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __repr__(self) -> str:
        return f"<lazylog.Logger {self.name} (logging not imported yet)>"
