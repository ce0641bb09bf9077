"""Run ids, digests and free space read without uuid, hashlib and shutil (issue 14: start-up) are
what those modules give."""

from __future__ import annotations

import hashlib
import uuid

from edge.digest import sha256
from edge.run_ids import is_canonical, new_run_id


def test_a_new_run_id_is_a_canonical_random_uuid():
    ids = {new_run_id() for _ in range(500)}
    assert len(ids) == 500
    for run_id in ids:
        parsed = uuid.UUID(run_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == run_id and is_canonical(run_id)


def test_canonical_means_what_str_of_uuid_spells():
    good = str(uuid.uuid4())
    for candidate in (good, good.upper(), good.replace("-", ""), "{" + good + "}",
                      "urn:uuid:" + good, good + "\n", good[:-1], "", None, 42, b"x" * 36,
                      # the same length with a dash moved, one more, or a letter past f
                      good[:7] + "-" + good[7] + good[9:], "-" + good[1:], good[:-1] + "g",
                      good.replace("-", "0"), "-" * 36):
        try:
            canonical = str(uuid.UUID(candidate)) == candidate  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError):
            canonical = False
        assert is_canonical(candidate) is canonical, candidate


def test_the_digest_is_hashlibs_sha256():
    for data in (b"", b"abc", bytes(range(256)) * 40):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_stations_disk_view_is_what_shutil_reports(tmp_path):
    """edge/service/health.py reads free space with os.statvfs (shutil's import is start-up
    time); the figures are shutil.disk_usage's."""
    import shutil

    from edge.service.health import disk_view

    view, usage = disk_view(tmp_path), shutil.disk_usage(tmp_path)
    assert view["total_bytes"] == usage.total
    assert abs(view["free_bytes"] - usage.free) < 64 * 2**20  # (others write meanwhile)
    missing = disk_view(tmp_path / "gone")
    assert missing["free_bytes"] is None and missing["low"] is True
