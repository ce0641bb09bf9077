"""edge.tomlcache: a TOML file whose bytes have not changed is not parsed again, and nothing
else is ever taken from the cache: an edited file (same size, same mtime), a damaged, truncated
or foreign entry, a file holding a date, a syntax error are all parsed as without a cache; a
cache that cannot be written changes nothing. Real files in a real data directory."""

from __future__ import annotations

import errno
import hashlib
import inspect
import io
import marshal
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import edge.products  # noqa: F401  (the built-in step types the shipped plan uses)
from edge import tomlcache, tomlfile
from edge.config import BUILTIN_FIXTURES, BUILTIN_PLANS, ConfigError, load_config
from edge.fixtures.loader import FixtureFileError, load_fixture
from edge.plans import PlanError, load_plan
from edge.tomlfile import LineIndex, TomlFileError, read_toml

PBF = BUILTIN_PLANS / "powerbank-foolish-revB.toml"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with the cache turned on in it, as the command line does."""
    folder = tmp_path / "data"
    folder.mkdir()
    tomlcache.use_data_dir(folder)
    return folder


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Each text tomllib parses from now on (what the cache saves)."""
    seen: list[str] = []
    real = tomllib.loads

    def counting(text: str, **kwargs):
        seen.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(tomllib, "loads", counting)
    return seen


def plan_copy(tmp_path: Path) -> Path:
    path = tmp_path / "pbf.toml"
    path.write_bytes(PBF.read_bytes())
    return path


def entries(data: Path) -> list[Path]:
    folder = data / "cache" / "toml"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def same(a: tomlfile.TomlSource, b: tomlfile.TomlSource) -> None:
    assert repr(a.data) == repr(b.data)  # (key order, nan and -0.0 included)
    assert a.lines.parts() == b.lines.parts()
    assert (a.path, a.sha256, a.error_class) == (b.path, b.sha256, b.error_class)


def test_a_file_read_again_is_not_parsed_again(data, tmp_path, parses):
    path = plan_copy(tmp_path)
    first = read_toml(path)
    assert len(parses) == 1 and len(entries(data)) == 1
    written = entries(data)[0].stat().st_mtime_ns
    again = read_toml(path)
    assert len(parses) == 1  # from the cache
    same(first, again)
    assert again.sha256 == hashlib.sha256(PBF.read_bytes()).hexdigest()
    assert entries(data)[0].stat().st_mtime_ns == written  # a hit writes nothing
    # A plan loads from it as from the text: the same plan, its digest that of the bytes.
    assert load_plan(path) == load_plan(path) and len(parses) == 1


def test_every_kind_of_value_comes_back_as_parsed(data, tmp_path, parses):
    path = tmp_path / "values.toml"
    path.write_text(
        'title = "caf\u00e9 \\u00e9\\n"\nraw = \'C:\\\\x\'\nmulti = """\na\nb"""\n'
        "big = 9_223_372_036_854_775_807\nneg = -17\nhex = 0x7f\noct = 0o17\n"
        "f = [inf, -inf, nan, -0.0, 1e-300, 6.02e23]\nyes = true\nno = false\n"
        "nested = [[1, 2], ['a', { k = 'v' }], []]\n"
        "[t.'quoted key'.sub]\nx = 1\n[[aot]]\nn = 1\n[[aot]]\nn = 2\n[aot.inner]\ny = 'z'\n",
        encoding="utf-8")
    parsed = read_toml(path)
    cached = read_toml(path)
    assert len(parses) == 1
    same(parsed, cached)
    assert cached.data["aot"][1]["inner"] == {"y": "z"} and math.isnan(cached.data["f"][2])
    assert math.copysign(1, cached.data["f"][3]) == -1
    assert cached.lines.line_of(("aot", 1, "inner", "y")) == 21


def test_without_a_data_directory_nothing_is_cached_or_created(tmp_path, parses):
    path = plan_copy(tmp_path)
    tomlcache.use_data_dir(None)  # a library caller: the command line never turned it on
    read_toml(path)
    read_toml(path)
    assert len(parses) == 2
    # The cache never makes a data directory (the store does, with its own mode).
    tomlcache.use_data_dir(tmp_path / "not-yet")
    read_toml(path)
    read_toml(path)
    assert len(parses) == 4 and not (tmp_path / "not-yet").exists()


def test_a_file_changed_by_one_byte_same_size_same_mtime_is_parsed_again(data, tmp_path,
                                                                         parses):
    path = plan_copy(tmp_path)
    before = read_toml(path)
    assert before.data["parameters"]["R2"]["value"] == 7500
    stat = path.stat()
    text = path.read_bytes()
    edited = text.replace(b"value = 7_500", b"value = 9_500", 1)
    assert len(edited) == len(text) and edited != text
    path.write_bytes(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size
    after = read_toml(path)
    assert len(parses) == 2
    assert after.data["parameters"]["R2"]["value"] == 9500
    assert after.sha256 == hashlib.sha256(edited).hexdigest() != before.sha256
    assert load_plan(path).sha256 == after.sha256
    # The entry now holds the new text's parse: read again, not parsed again.
    assert read_toml(path).data["parameters"]["R2"]["value"] == 9500 and len(parses) == 2


def _damaged(blob: bytes, how: str) -> bytes:
    if how == "empty":
        return b""
    if how == "truncated":
        return blob[: len(blob) // 2]
    if how == "cut by one byte":
        return blob[:-1]
    if how == "one byte more":
        return blob + b"\0"
    if how == "garbage":
        return os.urandom(len(blob))
    if how == "a flipped letter marshal would still read":
        # The plan's name, one letter off: marshal reads it happily, the checksum does not.
        assert b"keep-alive" in blob
        return blob.replace(b"keep-alive", b"keep-alivf")
    if how == "a flipped bit in the checksum":
        at = tomlcache._HEAD.__len__()
        return blob[:at] + bytes([blob[at] ^ 1]) + blob[at + 1:]
    if how == "another head":
        return blob.replace(b"pibench-toml-cache", b"something-else-xx", 1)
    raise AssertionError(how)


@pytest.mark.parametrize("how", [
    "empty", "truncated", "cut by one byte", "one byte more", "garbage",
    "a flipped letter marshal would still read", "a flipped bit in the checksum",
    "another head"])
def test_a_damaged_entry_is_ignored_and_replaced(data, tmp_path, parses, how):
    path = plan_copy(tmp_path)
    first = read_toml(path)
    [entry] = entries(data)
    good = entry.read_bytes()
    entry.write_bytes(_damaged(good, how))
    again = read_toml(path)
    assert len(parses) == 2  # parsed, as without a cache
    same(first, again)
    assert again.data["plan"]["name"] == "PowerBank-Foolish keep-alive"
    assert entry.read_bytes() == good  # replaced by a good one
    read_toml(path)
    assert len(parses) == 2


def test_an_entry_of_another_format_interpreter_or_version_is_not_read(data, tmp_path, parses,
                                                                      monkeypatch):
    path = plan_copy(tmp_path)
    for head in (tomlcache._HEAD.replace(b"cache 1 ", b"cache 0 "),
                 tomlcache._HEAD.replace(b"marshal-", b"marshal-9"),
                 tomlcache._HEAD.replace(b"pibench-0", b"pibench-9")):
        with monkeypatch.context() as m:
            m.setattr(tomlcache, "_HEAD", head)
            read_toml(path)  # written by "another" pibench
        count = len(parses)
        read_toml(path)
        assert len(parses) == count + 1, head  # not read: parsed, and written anew
        read_toml(path)
        assert len(parses) == count + 1
    assert str(tomlcache.FORMAT) in tomlcache._HEAD.decode()
    assert str(marshal.version) in tomlcache._HEAD.decode()


def test_an_entry_made_for_another_file_is_not_used(data, tmp_path, parses):
    """Even written under this file's name (a copy, a hash collision): other bytes, not used."""
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("x = 1\n")
    b.write_text("x = 2\n")
    read_toml(a)
    Path(tomlcache.entry_path(str(b))).write_bytes(Path(tomlcache.entry_path(str(a))).read_bytes())
    assert read_toml(b).data == {"x": 2} and len(parses) == 2


@pytest.mark.parametrize("text", [
    "when = 2026-12-05\n", "at = 07:32:00\n", "stamp = 1979-05-27T07:32:00Z\n",
    "[deep]\nlist = [{ local = 1979-05-27T00:32:00.999999 }]\n"])
def test_a_file_with_a_date_or_time_is_parsed_every_time(data, tmp_path, parses, text):
    path = tmp_path / "dated.toml"
    path.write_text(text)
    first = read_toml(path)
    second = read_toml(path)
    assert len(parses) == 2 and first.data == second.data and entries(data) == []


def test_a_syntax_error_is_never_cached(data, tmp_path, parses):
    path = tmp_path / "bad.toml"
    path.write_text('[plan]\nname = "x"\n[[step]\n')
    for attempt in (1, 2):
        with pytest.raises(PlanError, match=r"bad\.toml:3: TOML syntax error"):
            load_plan(path)
        assert len(parses) == attempt and entries(data) == []
    path.write_bytes(b"a = '\xff'\n")  # not UTF-8: never parsed, never cached
    with pytest.raises(TomlFileError, match=r"bad\.toml:1: not UTF-8"):
        read_toml(path)
    assert entries(data) == []


def _error_twice(load, path: Path, parses: list[str], error: type[Exception]) -> str:
    with pytest.raises(error) as parsed:
        load(path)
    with pytest.raises(error) as cached:
        load(path)
    assert len(parses) == 1  # the second came from the cache
    assert type(parsed.value) is type(cached.value)
    assert str(parsed.value) == str(cached.value)
    return str(cached.value)


def test_a_plan_error_from_a_cached_file_names_file_line_and_key(data, tmp_path, parses):
    path = plan_copy(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("critical = true", "critical = true\nretires = 2", 1),
                    encoding="utf-8")
    line = path.read_text(encoding="utf-8").splitlines().index("retires = 2") + 1
    message = _error_twice(load_plan, path, parses, PlanError)
    assert message.startswith(f"{path}:{line}: step[1].retires: unknown key 'retires'")


def test_a_fixture_error_from_a_cached_file_names_file_line_and_key(data, tmp_path, parses):
    path = tmp_path / "powerbank-v1.toml"
    text = (BUILTIN_FIXTURES / "powerbank-v1.toml").read_text(encoding="utf-8")
    path.write_text(text.replace('pin = "fixture:GPA7"', 'pin = "fixture:GPC7"', 1),
                    encoding="utf-8")
    line = next(n for n, s in enumerate(path.read_text().splitlines(), 1) if "GPC7" in s)
    message = _error_twice(load_fixture, path, parses, FixtureFileError)
    assert message.startswith(f"{path}:{line}: ") and "GPC7" in message


def test_a_station_toml_error_from_a_cached_file_names_file_line_and_key(data, tmp_path,
                                                                        parses):
    path = tmp_path / "station.toml"
    path.write_text("[station]\nid = 'b'\n\n[hardware]\ni2c_bus = 1\nexpander_backend = 'x'\n")
    message = _error_twice(load_config, path, parses, ConfigError)
    assert message.startswith(f"{path}:6: hardware.expander_backend: ")


@pytest.mark.parametrize("failure", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_a_cache_that_cannot_be_written_changes_nothing(data, tmp_path, parses, monkeypatch,
                                                        capsys, caplog, failure):
    """Read-only, full or not ours: the file is parsed, the command goes on, nothing is said,
    and no temporary file is left behind."""
    path = plan_copy(tmp_path)
    real_open = open

    class Full(io.RawIOBase):
        def __init__(self, fd: int) -> None:
            os.close(fd)

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            raise OSError(failure, os.strerror(failure))

    def failing_open(file, *args, **kwargs):
        if isinstance(file, int):  # the temporary entry: its writes fail
            return Full(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(tomlcache, "open", failing_open, raising=False)
    first = read_toml(path)
    second = read_toml(path)
    assert len(parses) == 2
    same(first, second)
    assert list((data / "cache" / "toml").iterdir()) == []  # the temporary file was removed
    assert capsys.readouterr() == ("", "") and caplog.records == []


def test_a_cache_directory_that_cannot_be_made_changes_nothing(data, tmp_path, parses):
    (data / "cache").write_text("not a directory")
    path = plan_copy(tmp_path)
    assert load_plan(path) == load_plan(path)
    assert len(parses) == 2


def test_only_its_owner_can_read_an_entry(data, tmp_path):
    read_toml(plan_copy(tmp_path))
    [entry] = entries(data)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert (data / "cache").stat().st_mode & 0o777 == 0o700
    assert entry.parent.stat().st_mode & 0o777 == 0o700
    assert not [p for p in entry.parent.iterdir() if p.name.endswith(".tmp")]


# What the cache keeps of a file is what LineIndex's scan found. Its entries outlive the code
# that made them (an upgrade keeps the data directory), so a changed scan must raise
# tomlcache.FORMAT: this fingerprint of the scanning code is here to make that a decision.
# Changed the scan? Raise FORMAT in edge/tomlcache.py, then put the new pair here.
SCANNER = (1, "fc51372812514f8e")


def test_a_changed_line_scanner_changes_the_cache_format():
    code = "".join(inspect.getsource(f) for f in (
        LineIndex, tomlfile._split_key, tomlfile.parse_toml))
    patterns = "\n".join((tomlfile._HEADER, tomlfile._BARE_OR_QUOTED, tomlfile._KEY,
                          tomlfile._INLINE_KEY))
    fingerprint = hashlib.sha256((code + patterns).encode()).hexdigest()[:16]
    assert (tomlcache.FORMAT, fingerprint) == SCANNER, (
        "the line scanner (or what parse_toml keeps) changed: raise tomlcache.FORMAT and "
        f"record ({tomlcache.FORMAT}, {fingerprint!r}) here")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root writes for another user")
def test_what_root_writes_belongs_to_the_data_directory_s_owner(data, tmp_path):
    """`sudo pibench run` on a station must not leave the service a cache it cannot use."""
    os.chown(data, 65534, 65534)
    read_toml(plan_copy(tmp_path))
    [entry] = entries(data)
    for path in (data / "cache", entry.parent, entry):
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534), path


def test_a_reader_never_sees_half_an_entry_while_another_process_writes_it(data, tmp_path):
    """A station and a `pibench run` starting together: one process rewrites an entry over and
    over (two versions of the file, alternately) while this one reads it: every read is a
    whole entry, never a torn one (each is checked as recall checks it)."""
    source = str(tmp_path / "plan.toml")
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys; from edge import tomlcache\n"
        "tomlcache.use_data_dir(sys.argv[1])\n"
        "big = {'text': 'x' * 200_000}\n"
        "for n in range(300):\n"
        "    tomlcache.keep(sys.argv[2], n % 2, str(n % 2), (big, {}, {}))\n"),
        str(data), source], cwd=REPO)
    entry = Path(tomlcache.entry_path(source))
    start = len(tomlcache._HEAD) + 32
    whole = torn = 0
    while writer.poll() is None or not whole:
        try:
            blob = entry.read_bytes()
        except FileNotFoundError:
            continue
        if (blob.startswith(tomlcache._HEAD)
                and hashlib.sha256(blob[start:]).digest() == blob[len(tomlcache._HEAD):start]):
            whole += 1
        else:
            torn += 1
    assert writer.wait() == 0
    assert whole and torn == 0
    assert not [p for p in entry.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_working_directory_removed_under_the_command_changes_nothing(data, tmp_path,
                                                                     monkeypatch):
    """A relative path's entry needs the working directory: gone, the file is parsed."""
    path = plan_copy(tmp_path)
    source = path.read_bytes()

    def gone() -> str:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(os, "getcwd", gone)
    first = tomlfile.parse_toml(source, "pbf.toml", cached=True)
    again = tomlfile.parse_toml(source, "pbf.toml", cached=True)
    same(first, again)
    assert entries(data) == []
