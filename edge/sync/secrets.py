"""The inventory token: loaded from a 0600 file or the environment, and kept out of every output.

The official ``inventree`` client puts the token into exception text and log lines (its
``HTTPError`` carries the request headers; ``list()`` logs that error at ERROR level). So the token
is scrubbed in three places, and tests search every output for it:

* log records, at creation (a record factory) and again on every handler (a filter, which also
  scrubs formatted tracebacks), from the moment ``logging`` is imported (:func:`install_redaction`
  with ``edge/lazylog.py``: most commands never import it);
* any exception text before it is stored in the outbox or shown in status (:func:`describe_error`);
* nothing else ever receives the token: it lives only in the backend's request headers.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

# Tokens as InvenTree mints them (inv-<hex>-<yyyymmdd>) and any auth header value, whatever the
# token: these catch a token that was rotated on disk after we loaded the old one.
# Compiled on first use (~0.7 ms): every command installs the redaction, few ever log.
_PATTERN_TEXTS = (
    r"inv-[0-9a-fA-F]{8,}(?:-\d{8})?",
    r"(?i)((?:token|bearer|basic)\s+)[A-Za-z0-9._~+/=-]{6,}",
    r"(?i)((?:authorization|x-api-key|api[-_]?key)['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+",
)
_compiled: tuple[re.Pattern[str], ...] | None = None


def _patterns() -> tuple[re.Pattern[str], ...]:
    global _compiled
    if _compiled is None:  # (two threads may both compile: each gets the same patterns)
        _compiled = tuple(re.compile(text) for text in _PATTERN_TEXTS)
    return _compiled


MASK = "[REDACTED]"


class TokenError(RuntimeError):
    """The token cannot be used safely or at all; the message tells the technician what to do."""


class Redactor:
    """Replaces every known secret and anything shaped like a credential with ``[REDACTED]``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add_secret(self, secret: str) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for s in secrets:
            text = text.replace(s, MASK)
        for pattern in _patterns():
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
        return text


# One process-wide redactor: logging is process-wide too.
REDACTOR = Redactor()


def load_token(token_file: Path | None, token_env: str | None) -> str:
    """The token from ``token_file`` (must be 0600-ish: no group/other access) or ``token_env``.

    The file wins when both are configured: a file is what the installer writes, the variable is
    for development. An empty result is an error, not an anonymous session.
    """
    if token_file is not None:
        path = Path(token_file)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise TokenError(f"inventory token file {path} does not exist") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            mode = stat.S_IMODE(st.st_mode)
            raise TokenError(
                f"inventory token file {path} is readable by other users (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenError(f"cannot read inventory token file {path}: {exc.strerror}") from None
        if not token:
            raise TokenError(f"inventory token file {path} is empty")
        REDACTOR.add_secret(token)
        return token
    if token_env:
        token = os.environ.get(token_env, "").strip()
        if token:
            REDACTOR.add_secret(token)
            return token
        raise TokenError(f"no inventory token: set {token_env} or configure [sync] token_file")
    raise TokenError("no inventory token configured: set [sync] token_file or token_env")


def describe_error(exc: BaseException, limit: int = 400) -> str:
    """``Type: message`` with secrets removed and length bounded, safe to store and display."""
    text = f"{type(exc).__name__}: {exc}"
    return REDACTOR.redact(text)[:limit]


class RedactionFilter:
    """Scrubs the message and any traceback of a record before a handler writes it.

    A handler takes any object with a ``filter(record)`` method (logging's own ``Filter`` class
    is not needed): this module is imported by every command, ``logging`` by few."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            import logging  # (imported: it is what made the record)

            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


_installed_lock = threading.Lock()
_factory_installed = False


def install_redaction(redactor: Redactor = REDACTOR) -> None:
    """Put the filter on every handler that exists now and redact records as they are created.

    Handlers added later still get clean messages from the record factory; the per-handler filter
    adds traceback scrubbing. Safe to call again after new handlers are configured. If ``logging``
    is not imported yet, all this happens as it is imported, before it can make a record or hold
    a handler (``edge/lazylog.py``); a command that never logs never imports it.
    """
    from edge import lazylog

    lazylog.when_imported(_install_redaction, redactor)


def _install_redaction(redactor: Redactor) -> None:
    import logging

    global _factory_installed
    with _installed_lock:
        if not _factory_installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs):
                record = previous(*args, **kwargs)
                with contextlib.suppress(Exception):  # logging must never raise from here
                    record.msg = redactor.redact(record.getMessage())
                    record.args = None
                    # Formatted now, so a handler added later (without our filter) still prints
                    # the scrubbed traceback: Formatter.format uses exc_text when it is set.
                    if record.exc_info:
                        record.exc_text = redactor.redact(
                            logging.Formatter().formatException(record.exc_info))
                    if record.stack_info:
                        record.stack_info = redactor.redact(record.stack_info)
                return record

            logging.setLogRecordFactory(factory)
            _factory_installed = True
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for lg in loggers:
        for handler in lg.handlers:
            if not any(isinstance(f, RedactionFilter) for f in handler.filters):
                handler.addFilter(RedactionFilter(redactor))
    # The client logs full request details at DEBUG/INFO; nothing below WARNING is useful to us.
    logging.getLogger("inventree").setLevel(logging.WARNING)
