"""A full apply, the role's pre-destroy apply with destroy_data, then destroy, against the stand-in.

Terraform destroys with the force_destroy stored in state, not the one in the configuration; so
roles/provision applies destroy_data=true first and destroys after. This replays that sequence.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT, Workdir, make_workdir

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, mirror: Path, initialized: Workdir) -> Workdir:
    target = tmp_path_factory.mktemp("destroy") / "terraform"
    work = make_workdir(target, mirror)
    shutil.copytree(initialized.path / ".terraform", target / ".terraform")
    shutil.copy(initialized.path / ".terraform.lock.hcl", target / ".terraform.lock.hcl")
    return work


def _state(work: Workdir) -> dict:
    return json.loads((work.path / "terraform.tfstate").read_text())


def _bucket(work: Workdir) -> dict:
    found = [
        inst["attributes"]
        for r in _state(work)["resources"]
        if r["type"] == "google_storage_bucket"
        for inst in r["instances"]
    ]
    assert len(found) == 1, found
    return found[0]


def test_apply_flag_then_destroy(fresh: Workdir) -> None:
    base = ["-no-color", "-input=false", "-auto-approve", f"-var=project_id={PROJECT}"]
    fresh.run("apply", *base, "-var=deletion_protection=false")
    assert _bucket(fresh)["force_destroy"] is False
    # The role's pre-destroy apply: only the flag changes, in place.
    flags = ["-var=deletion_protection=false", "-var=destroy_data=true"]
    plan = fresh.run("plan", "-no-color", "-input=false", "-detailed-exitcode", f"-var=project_id={PROJECT}",
                     *flags, check=False)  # fmt: skip
    assert plan.returncode == 2, plan.stdout
    assert "1 to change, 0 to destroy" in plan.stdout, plan.stdout
    fresh.run("apply", *base, *flags)
    assert _bucket(fresh)["force_destroy"] is True
    fresh.run("destroy", *base, *flags)
    assert _state(fresh)["resources"] == []
