"""Session fixtures: a stand-in provider mirror, one init, one plan and one apply shared by all tests.

Terraform is found through ENGLAB_TERRAFORM, else on PATH. The only network access is the first
``npm pack`` of the cdktf provider packages into ``.cache/terraform-standin`` at the repo root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
from standin.mirror import PROVIDERS, schema_file, write_cli_config, write_mirror

REPO = Path(__file__).resolve().parents[2]

# This checkout as ansible_collections.englab.mlops (as tests/unit/plugins/conftest.py does), so
# test_contract.py feeds the real root's outputs to the working tree's inventory contract.
_collections = Path(tempfile.mkdtemp(prefix="englab-terraform-"))
(_collections / "ansible_collections" / "englab").mkdir(parents=True)
(_collections / "ansible_collections" / "englab" / "mlops").symlink_to(REPO)
_AnsibleCollectionFinder(paths=[str(_collections)])._install()
ROOT = REPO / "terraform"
CACHE = REPO / ".cache" / "terraform-standin"
PROJECT = "englab-test-123456"
# What the provision role passes as the ephemeral db_password (TF_VAR_, as a user without the role
# would): one value for every run of one db_password_version.
DB_PASSWORD = "standin-db-password-v1-0123456789"  # noqa: S105 - a test value for the stand-in

pytestmark = pytest.mark.terraform


def terraform_binary() -> str:
    """ENGLAB_TERRAFORM if set, else terraform on PATH; the suite fails loudly without one."""
    found = os.environ.get("ENGLAB_TERRAFORM") or shutil.which("terraform")
    if not found:
        pytest.fail("no terraform: set ENGLAB_TERRAFORM or put terraform on PATH")
    return found


@dataclass
class Workdir:
    """A temporary copy of terraform/ wired to the stand-in providers."""

    path: Path
    env: dict[str, str]
    record: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run terraform here; on unexpected failure show its output in the assertion."""
        proc = subprocess.run(
            [terraform_binary(), *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if check:
            assert proc.returncode == 0, f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def records(self, event: str) -> list[dict]:
        """What the stand-in recorded (ephemeral values generated, write-only values received)."""
        if not self.record.exists():
            return []
        lines = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [entry for entry in lines if entry["event"] == event]


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Provider mirror + CLI config (TF_CLI_CONFIG_FILE is preset to a missing file on CI hosts)."""
    base = tmp_path_factory.mktemp("standin")
    schemas = {provider: schema_file(provider, CACHE) for provider in PROVIDERS}
    write_mirror(base / "mirror", schemas)
    return write_cli_config(base / "terraformrc", base / "mirror", plugin_cache=None)


def make_workdir(target: Path, cli_config: Path) -> Workdir:
    """Copy the root; replace the gcs backend by a local one (tests must not need a bucket)."""
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "*_override.tf"))
    (target / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    record = target / "standin-record.jsonl"
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "ENGLAB_STANDIN_RECORD": str(record),
        "TF_VAR_db_password": DB_PASSWORD,
    }
    env.pop("TF_LOG", None)
    return Workdir(target, env, record)


@pytest.fixture(scope="session")
def initialized(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Workdir:
    """One ``terraform init`` against the mirror, reused by validate and plan."""
    work = make_workdir(tmp_path_factory.mktemp("root") / "terraform", mirror)
    work.run("init", "-no-color", "-input=false")
    return work


@dataclass
class Planned:
    """The default plan: the work dir, the saved plan file and its JSON rendering."""

    work: Workdir
    plan_file: Path
    plan: dict


@pytest.fixture(scope="session")
def planned(initialized: Workdir) -> Planned:
    """Plan once with only the required variable, as a first-time user would."""
    plan_file = initialized.path / "default.tfplan"
    initialized.run("plan", "-no-color", "-input=false", f"-var=project_id={PROJECT}", f"-out={plan_file}")
    shown = initialized.run("show", "-json", str(plan_file))
    return Planned(initialized, plan_file, json.loads(shown.stdout))


@pytest.fixture(scope="session")
def applied(planned: Planned) -> dict:
    """Apply the saved plan against the stand-in (computed values become deterministic fakes)."""
    planned.work.run("apply", "-no-color", "-input=false", str(planned.plan_file))
    return json.loads(planned.work.run("output", "-json").stdout)


@pytest.fixture(scope="session")
def scratch(
    tmp_path_factory: pytest.TempPathFactory, mirror: Path, initialized: Workdir
) -> Iterator[Workdir]:
    """A second initialised copy for tests that edit the configuration (validate error cases)."""
    target = tmp_path_factory.mktemp("scratch") / "terraform"
    work = make_workdir(target, mirror)
    shutil.copytree(initialized.path / ".terraform", target / ".terraform")
    shutil.copy(initialized.path / ".terraform.lock.hcl", target / ".terraform.lock.hcl")
    yield work


def resources(plan: dict) -> list[dict]:
    """Every planned managed resource (root module), from ``planned_values``."""
    return [r for r in plan["planned_values"]["root_module"]["resources"] if r["mode"] == "managed"]


def by_type(plan: dict, kind: str) -> list[dict]:
    """Planned resources of one type."""
    return [r for r in resources(plan) if r["type"] == kind]


def plan_file_text(plan_file: Path) -> str:
    """A saved plan is a zip: every member, decompressed, as one string to search."""
    with zipfile.ZipFile(plan_file) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
