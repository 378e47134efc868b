# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup sets of a platform: a dated directory, its files and a manifest with their checksums.

A set is `<backup dir>/<YYYYmmddTHHMMSSZ>/`: the files a restore needs (database.dump,
artifacts.tar.gz) and manifest.json, written last, which describes the set (platform, target,
MLflow version, schema revision, counts) and gives every file's size and SHA-256. While a
backup is being taken the directory is `<id>.partial`; only a complete set is renamed to its id,
so a set without a manifest is never taken for one. Used by the englab.mlops.backup_set action.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import shutil

FORMAT = 1
MANIFEST = "manifest.json"
SET_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
PARTIAL_SUFFIX = ".partial"
# What a restore of each target needs from a set.
REQUIRED_FILES = {"local": ("database.dump", "artifacts.tar.gz")}
_CHUNK = 1024 * 1024


class BackupSetError(ValueError):
    """A backup set that cannot be written, found or trusted; the message says which and why."""


def sha256_file(path):
    """(hex SHA-256, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _private_write(path, text):
    """Write text to path atomically, readable by its owner only."""
    tmp = "%s.tmp" % path
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_manifest(directory, meta):
    """Checksum every file of directory, write manifest.json (0600) last; return the manifest.

    meta: what describes the set (platform, target, created, mlflow_version, counts, ...).
    """
    if not os.path.isdir(directory):
        raise BackupSetError("the backup directory %s does not exist" % directory)
    files = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name == MANIFEST or name.endswith(".tmp") or not os.path.isfile(path):
            continue
        os.chmod(path, 0o600)
        digest, size = sha256_file(path)
        files[name] = {"sha256": digest, "size": size}
    target = meta.get("target")
    missing = [name for name in REQUIRED_FILES.get(target, ()) if name not in files]
    if missing:
        raise BackupSetError("the backup in %s lacks %s; nothing was kept" % (directory, ", ".join(missing)))
    manifest = dict(meta, format=FORMAT, files=files)
    _private_write(os.path.join(directory, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(directory):
    """The manifest of a set, or BackupSetError saying why there is none to trust."""
    if not os.path.exists(directory):
        raise BackupSetError("mlops_restore_from: there is no backup set at %s" % directory)
    if not os.path.isdir(directory):
        raise BackupSetError("mlops_restore_from: %s is a file; name a backup set's directory" % directory)
    path = os.path.join(directory, MANIFEST)
    if not os.path.isfile(path):
        raise BackupSetError(
            "mlops_restore_from: %s is not a complete backup set (it has no %s: an interrupted backup, "
            "or another directory)" % (directory, MANIFEST)
        )
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as err:
        raise BackupSetError(
            "mlops_restore_from: %s of %s cannot be read: %s" % (MANIFEST, directory, err)
        ) from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BackupSetError("mlops_restore_from: %s of %s is not a backup manifest" % (MANIFEST, directory))
    if manifest.get("format") != FORMAT:
        raise BackupSetError(
            "mlops_restore_from: %s is a backup of format %r; this collection restores format %d"
            % (directory, manifest.get("format"), FORMAT)
        )
    return manifest


def verify(directory, target):
    """The manifest of a set whose every file is present and unchanged; BackupSetError otherwise.

    Nothing on the platform is touched before this passes: a truncated or corrupted file is
    named with the size or checksum that differs.
    """
    manifest = read_manifest(directory)
    if manifest.get("target") != target:
        raise BackupSetError(
            "mlops_restore_from: %s is a backup of a %s platform; this platform's target is %s"
            % (directory, manifest.get("target"), target)
        )
    files = manifest["files"]
    for name in REQUIRED_FILES.get(target, ()):
        if name not in files:
            raise BackupSetError("mlops_restore_from: the manifest of %s lists no %s" % (directory, name))
    for name in sorted(files):
        expected = files[name]
        path = os.path.join(directory, name)
        if os.path.basename(name) != name or not os.path.isfile(path):
            raise BackupSetError(
                "mlops_restore_from: %s is missing from the backup set %s" % (name, directory)
            )
        digest, size = sha256_file(path)
        if size != expected.get("size"):
            raise BackupSetError(
                "mlops_restore_from: %s in %s is truncated or altered: %d bytes, the manifest says %s; "
                "nothing was restored" % (name, directory, size, expected.get("size"))
            )
        if digest != expected.get("sha256"):
            raise BackupSetError(
                "mlops_restore_from: %s in %s is corrupted: its SHA-256 differs from the manifest's; "
                "nothing was restored" % (name, directory)
            )
    return manifest


def complete_sets(parent):
    """Names of the complete sets in parent, oldest first."""
    if not os.path.isdir(parent):
        return []
    return sorted(
        name
        for name in os.listdir(parent)
        if SET_ID.match(name) and os.path.isfile(os.path.join(parent, name, MANIFEST))
    )


def prune(parent, keep, current=None):
    """Remove complete sets beyond the newest `keep`, and partial ones other than current's.

    Returns the removed directory names. The newest set is never removed.
    """
    if not isinstance(keep, int) or keep < 1:
        raise BackupSetError("mlops_backup_keep must be a whole number of at least 1, got %r" % (keep,))
    removed = []
    sets = complete_sets(parent)
    for name in sets[: max(len(sets) - keep, 0)]:
        shutil.rmtree(os.path.join(parent, name))
        removed.append(name)
    if os.path.isdir(parent):
        for name in sorted(os.listdir(parent)):
            if (
                name.endswith(PARTIAL_SUFFIX)
                and SET_ID.match(name[: -len(PARTIAL_SUFFIX)])
                and name != current
            ):
                shutil.rmtree(os.path.join(parent, name))
                removed.append(name)
    return removed


def resolve(location, parent):
    """The set directory mlops_restore_from names: a path, or `latest` (newest complete set)."""
    if location == "latest":
        sets = complete_sets(parent)
        if not sets:
            raise BackupSetError("mlops_restore_from=latest: there is no complete backup set in %s" % parent)
        return os.path.join(parent, sets[-1])
    if not isinstance(location, str) or not location:
        raise BackupSetError(
            "mlops_restore_from must be a backup set's directory or 'latest', got %r" % (location,)
        )
    return os.path.abspath(os.path.expanduser(location))
