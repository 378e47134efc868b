"""Backup sets: the manifest, its verification (truncated, corrupted, incomplete) and retention."""

import hashlib
import json
import os
import re

import pytest
from ansible_collections.englab.mlops.plugins.module_utils import backup_set as bs

META = {"platform": "englab", "target": "local", "created": "2026-11-29T23:00:00Z", "database": {"runs": 3}}


def make_set(
    parent, name="20261129T230000Z.partial", dump=b"PGDMP" + b"x" * 5000, archive=b"\x1f\x8b" + b"a" * 300
):
    directory = parent / name
    directory.mkdir(parents=True)
    (directory / "database.dump").write_bytes(dump)
    (directory / "artifacts.tar.gz").write_bytes(archive)
    return directory


def test_write_manifest_lists_every_file_with_size_and_sha256_and_is_private(tmp_path):
    directory = make_set(tmp_path)
    manifest = bs.write_manifest(str(directory), META)
    on_disk = json.loads((directory / bs.MANIFEST).read_text())
    assert on_disk == manifest
    assert manifest["format"] == bs.FORMAT and manifest["platform"] == "englab"
    dump = (directory / "database.dump").read_bytes()
    assert manifest["files"]["database.dump"] == {
        "sha256": hashlib.sha256(dump).hexdigest(),
        "size": len(dump),
    }
    assert set(manifest["files"]) == {"database.dump", "artifacts.tar.gz"}
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_write_refuses_a_set_without_the_files_a_restore_needs(tmp_path):
    directory = make_set(tmp_path)
    (directory / "artifacts.tar.gz").unlink()
    with pytest.raises(bs.BackupSetError, match=re.escape("lacks artifacts.tar.gz")):
        bs.write_manifest(str(directory), META)
    assert not (directory / bs.MANIFEST).exists()


def test_verify_accepts_an_unchanged_set(tmp_path):
    directory = make_set(tmp_path, name="20261129T230000Z")
    bs.write_manifest(str(directory), META)
    assert bs.verify(str(directory), "local")["database"] == {"runs": 3}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda d: (d / "database.dump").write_bytes((d / "database.dump").read_bytes()[:100]),
            "truncated or altered",
        ),
        (
            lambda d: (d / "database.dump").write_bytes(b"Q" + (d / "database.dump").read_bytes()[1:]),
            "is corrupted",
        ),
        (lambda d: (d / "artifacts.tar.gz").unlink(), "artifacts.tar.gz is missing"),
        (lambda d: (d / bs.MANIFEST).unlink(), "not a complete backup set"),
        (lambda d: (d / bs.MANIFEST).write_text("{not json"), "cannot be read"),
        (lambda d: (d / bs.MANIFEST).write_text(json.dumps({"format": 99, "files": {}})), "format 99"),
    ],
    ids=["truncated", "corrupted", "missing-file", "no-manifest", "bad-manifest", "other-format"],
)
def test_verify_refuses_a_damaged_set_naming_what_is_wrong(tmp_path, damage, message):
    directory = make_set(tmp_path, name="20261129T230000Z")
    bs.write_manifest(str(directory), META)
    damage(directory)
    with pytest.raises(bs.BackupSetError, match=re.escape(message)):
        bs.verify(str(directory), "local")


def test_verify_refuses_another_targets_set_and_a_missing_directory(tmp_path):
    directory = make_set(tmp_path, name="20261129T230000Z")
    bs.write_manifest(str(directory), META)
    with pytest.raises(bs.BackupSetError, match=re.escape("a local platform; this platform's target is gcp")):
        bs.verify(str(directory), "gcp")
    with pytest.raises(bs.BackupSetError, match="there is no backup set at"):
        bs.verify(str(tmp_path / "nothing"), "local")
    with pytest.raises(bs.BackupSetError, match="is a file"):
        bs.verify(str(directory / "database.dump"), "local")


def test_prune_keeps_the_newest_sets_and_removes_stale_partial_ones(tmp_path):
    names = ["20261101T000000Z", "20261102T000000Z", "20261103T000000Z", "20261104T000000Z"]
    for name in names:
        bs.write_manifest(str(make_set(tmp_path, name=name)), META)
    make_set(tmp_path, name="20261030T000000Z.partial")  # an interrupted backup
    current = make_set(tmp_path, name="20261105T000000Z.partial")  # the one being written
    (tmp_path / "notes").mkdir()  # not a set: never touched
    removed = bs.prune(str(tmp_path), 2, current=current.name)
    assert removed == ["20261101T000000Z", "20261102T000000Z", "20261030T000000Z.partial"]
    assert sorted(os.listdir(tmp_path)) == [
        "20261103T000000Z",
        "20261104T000000Z",
        "20261105T000000Z.partial",
        "notes",
    ]
    with pytest.raises(bs.BackupSetError, match="at least 1"):
        bs.prune(str(tmp_path), 0)


def test_resolve_latest_is_the_newest_complete_set(tmp_path):
    for name in ["20261101T000000Z", "20261103T000000Z"]:
        bs.write_manifest(str(make_set(tmp_path, name=name)), META)
    make_set(tmp_path, name="20261104T000000Z.partial")
    assert bs.resolve("latest", str(tmp_path)) == str(tmp_path / "20261103T000000Z")
    assert bs.resolve("~/x", str(tmp_path)) == os.path.expanduser("~/x")
    with pytest.raises(bs.BackupSetError, match="no complete backup set"):
        bs.resolve("latest", str(tmp_path / "empty"))
