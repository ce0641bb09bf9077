"""Parsed TOML files kept between commands, as Python keeps compiled modules (issue 14).

Every ``pibench run`` and station start reads the same few TOML files (station.toml, both
products' plans, the fixture). Parsing them meant importing ``tomllib`` (with its regular
expressions and ``string``) and scanning each file for the line of every key: ~4.5 ms of a
~70 ms run on the installed layout. An entry here holds what :func:`edge.tomlfile.parse_toml`
made of one file, in ``marshal``'s format (built into the interpreter: nothing to import), and
is used only for a file whose bytes are exactly those it was made from.

* **Where**: ``<data dir>/cache/toml/``, one entry per file read (the name is the digest of
  the file's absolute path and the interpreter's tag, as ``__pycache__`` names do). The data
  directory is the one place every command knows and may write; the cache never creates it
  (an entry waits for the first command that made it: the store does). Results are never read
  from there, and nothing in it is needed: delete it at any time.
* **When an entry is used**: its file is still read at every start, and the entry is used only
  if the length and SHA-256 of those bytes are those it was made from (never the file's mtime:
  a plan edited within the same second, to the same size, is read anew). The digest recorded
  with each run is that of the bytes just read, as without a cache.
* **What makes an entry unusable**, each of which means "parse the file as if there were no
  cache" (and write a new entry): none yet; another format, interpreter or pibench version
  (``_HEAD``); a truncated, damaged or foreign file (a SHA-256 of the entry's body is checked
  before ``marshal`` reads it, so a flipped bit can never become another limit); a file whose
  bytes changed.
* **What is never cached**: a file that is not UTF-8 or not TOML (every start must say so), and
  one holding a TOML date or time (``marshal`` has no ``datetime``): those are parsed every time.
* **Writing** happens only when a file was parsed, so only when it changed (the SD card), into
  a temporary file renamed over the entry (``os.replace``): a station and a ``pibench run``
  starting together never read half an entry. Mode 0600 in a 0700 directory, owned by the data
  directory's owner even when root writes it (``sudo pibench …``: the service must still use
  it). Any failure (a read-only or full disk, another user's directory) is ignored: the command
  works as without a cache, and says nothing about it.

Only the command line turns it on (:func:`use_data_dir`); a library caller parses every time.
"""

import contextlib
import marshal
import os
import sys

from edge import __version__
from edge.digest import sha256

# What an entry was made by. A change to any of these makes every older entry unusable: the
# layout of an entry or of what tomlfile keeps in it (FORMAT: raise it whenever either
# changes), the interpreter (tomllib and marshal come with it, and a patch release may fix
# tomllib), and pibench's own version.
FORMAT = 1
_HEAD = (f"pibench-toml-cache {FORMAT} {sys.implementation.cache_tag} {sys.hexversion:x} "
         f"marshal-{marshal.version} pibench-{__version__}\n").encode()
_DIGEST_SIZE = 32  # SHA-256 of the body, right after the head

_directory: str | None = None


def use_data_dir(data_dir: str | os.PathLike[str] | None) -> None:
    """Keep entries under ``<data_dir>/cache/toml`` from now on (None: no cache)."""
    global _directory
    _directory = None if data_dir is None else os.path.join(os.fspath(data_dir), "cache", "toml")


def entry_path(source_path: str) -> str | None:
    """The entry for the file at ``source_path``, or None when there is no cache."""
    if _directory is None:
        return None
    key = sha256(os.path.abspath(source_path).encode()).hexdigest()[:32]
    return os.path.join(_directory, f"{key}.{sys.implementation.cache_tag}")


def recall(source_path: str, size: int, digest: str) -> object | None:
    """What :func:`keep` was given for a file of exactly ``size`` bytes with SHA-256 ``digest``
    (hex) at ``source_path``, or None: no cache, no entry, or one that cannot be trusted."""
    try:
        path = entry_path(source_path)  # (abspath may ask for a working directory since removed)
        if path is None:
            return None
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        return None
    start = len(_HEAD) + _DIGEST_SIZE
    body = memoryview(blob)[start:]
    if not blob.startswith(_HEAD) or sha256(body).digest() != blob[len(_HEAD):start]:
        return None
    try:
        entry = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    if type(entry) is not tuple or len(entry) != 3 or entry[0] != size or entry[1] != digest:
        return None
    return entry[2]


def keep(source_path: str, size: int, digest: str, payload: object) -> None:
    """Write ``payload`` as the entry for the file at ``source_path`` whose bytes are ``size``
    long with SHA-256 ``digest``; silently nothing if it holds what ``marshal`` cannot write
    (a date) or the entry cannot be written."""
    if _directory is None:
        return
    try:
        body = marshal.dumps((size, digest, payload))
    except ValueError:  # a TOML date or time: this file is parsed every time
        return
    blob = b"".join((_HEAD, sha256(body).digest(), body))
    try:
        path = entry_path(source_path)  # (abspath may ask for a working directory since removed)
        if path is None:
            return
        temporary = f"{path}.{os.getpid()}-{os.urandom(4).hex()}.tmp"
        owner = _make_directory()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with open(fd, "wb") as f:
                if owner is not None:
                    os.fchown(f.fileno(), *owner)
                f.write(blob)
            os.replace(temporary, path)
        except BaseException:
            _remove(temporary)
            raise
    except OSError:  # read-only, full, not ours: the command goes on without a cache
        return


def _make_directory() -> tuple[int, int] | None:
    """``cache/toml`` inside the data directory, which must exist already (the cache never
    creates a data directory: that is the store's, with its own mode). Returns the owner what
    is written must be given, or None: as root (``sudo pibench …`` on a station), the data
    directory's owner, so the service can still read and replace what root wrote."""
    assert _directory is not None
    cache = os.path.dirname(_directory)
    owner = None
    if os.geteuid() == 0:
        data = os.stat(os.path.dirname(cache))
        owner = (data.st_uid, data.st_gid) if data.st_uid != 0 else None
    for folder in (cache, _directory):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        if owner is not None:
            os.chown(folder, *owner)
    return owner


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
