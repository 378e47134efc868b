"""One database password in Cloud SQL and Secret Manager, whatever a failed apply left behind.

A first apply that stops after one of the two writes, then a full re-run, must leave both with
the same password, in either order; raising db_password_version (with the role's new password)
rewrites both, once each. The stand-in records every write-only value it receives
(ENGLAB_STANDIN_RECORD), which is what the database and the secret would hold.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from conftest import DB_PASSWORD, PROJECT, Workdir, make_workdir

pytestmark = pytest.mark.terraform

USER = "google_sql_user"
SM_VERSION = "google_secret_manager_secret_version"
TARGETS = {USER: "google_sql_user.mlflow", SM_VERSION: "google_secret_manager_secret_version.db_password"}
APPLY = ("apply", "-no-color", "-input=false", "-auto-approve", f"-var=project_id={PROJECT}")
ROTATED = "standin-db-password-v2-9876543210"


def _fresh(tmp_path: Path, mirror: Path, initialized: Workdir) -> Workdir:
    work = make_workdir(tmp_path / "terraform", mirror)
    shutil.copytree(initialized.path / ".terraform", work.path / ".terraform")
    shutil.copy(initialized.path / ".terraform.lock.hcl", work.path / ".terraform.lock.hcl")
    return work


def _written(work: Workdir) -> dict[str, list[str]]:
    """Every password each resource type received, in order."""
    out: dict[str, list[str]] = {USER: [], SM_VERSION: []}
    for entry in work.records("write_only"):
        out[entry["type"]].append(entry["value"])
    return out


def _current(work: Workdir) -> dict[str, str]:
    """What Cloud SQL and Secret Manager hold now: the last value each received."""
    written = _written(work)
    assert written[USER] and written[SM_VERSION], f"a side was never written: {written}"
    return {kind: values[-1] for kind, values in written.items()}


@pytest.mark.parametrize("first", [SM_VERSION, USER], ids=["secret-written-first", "user-written-first"])
def test_partial_first_apply_then_rerun_keeps_one_password(
    tmp_path: Path, mirror: Path, initialized: Workdir, first: str
) -> None:
    work = _fresh(tmp_path, mirror, initialized)
    # A first apply that got as far as one of the two writes (the other failed or never ran).
    work.run(*APPLY, f"-target={TARGETS[first]}")
    written = _written(work)
    other = USER if first == SM_VERSION else SM_VERSION
    assert written[first] and not written[other], f"the partial apply did not stop half-way: {written}"
    # The re-run: the user runs provision again.
    work.run(*APPLY)
    current = _current(work)
    assert current[USER] == current[SM_VERSION], "Cloud SQL and Secret Manager hold different passwords"
    assert current[USER] == DB_PASSWORD
    # And a further re-run changes nothing.
    plan = work.run("plan", "-no-color", "-input=false", "-detailed-exitcode", f"-var=project_id={PROJECT}",
                    check=False)  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_rotation_writes_one_new_password_to_both(tmp_path: Path, mirror: Path, initialized: Workdir) -> None:
    work = _fresh(tmp_path, mirror, initialized)
    work.run(*APPLY)
    before = _written(work)
    assert _current(work) == {USER: DB_PASSWORD, SM_VERSION: DB_PASSWORD}
    # The role's rotation: a higher version and the new password generated for it.
    rotated = dataclasses.replace(work, env={**work.env, "TF_VAR_db_password": ROTATED})
    # A rotation that stopped after the secret version, then its re-run.
    rotated.run(*APPLY, "-var=db_password_version=2", f"-target={TARGETS[SM_VERSION]}")
    rotated.run(*APPLY, "-var=db_password_version=2")
    after = _written(work)
    new = {kind: after[kind][len(before[kind]) :] for kind in (USER, SM_VERSION)}
    assert new == {USER: [ROTATED], SM_VERSION: [ROTATED]}, new
    # A new password without a new version writes nothing: the version is what moves both.
    same_version = dataclasses.replace(work, env={**work.env, "TF_VAR_db_password": DB_PASSWORD})
    plan = same_version.run("plan", "-no-color", "-input=false", "-detailed-exitcode",
                            f"-var=project_id={PROJECT}", "-var=db_password_version=2", check=False)  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr
