"""Shared helpers for the integration tests: the toolchain environment and ansible-playbook runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# tests/support: helpers shared with the other suites that run ansible-playbook.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.recap import parse_recap

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
FIXTURES = REPO / "tests" / "fixtures"
# `make collection` installs here; ANSIBLE_COLLECTIONS_PATH may point at another install.
COLLECTIONS = Path(
    os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".cache" / "collections")).split(":")[0]
)
INSTALLED = COLLECTIONS / "ansible_collections" / "englab" / "mlops"
PREFIX = "englab-itest-"
# What these tests exercise through the installed collection; a stale copy would test old code.
EXERCISED = (
    "roles/provision",
    "plugins/action/terraform.py",
    "plugins/action/check_variables.py",
    "plugins/plugin_utils/variable_check.py",
    "plugins/filter/contract_hosts.py",
    "plugins/filter/gcp_input_problems.py",
    "plugins/module_utils/gcp_inputs.py",
    "plugins/module_utils/inventory_contract.py",
    "plugins/modules/terraform.py",
    "plugins/action/managed_files.py",
    "plugins/modules/managed_files.py",
    "playbooks/provision.yml",
    "playbooks/destroy.yml",
)


def stale_files() -> list[str]:
    """Exercised files whose installed copy differs from the checkout."""
    stale = []
    for entry in EXERCISED:
        source = REPO / entry
        files = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else [source]
        for path in files:
            relative = path.relative_to(REPO)
            installed = INSTALLED / relative
            if "__pycache__" not in relative.parts and (
                not installed.is_file() or installed.read_bytes() != path.read_bytes()
            ):
                stale.append(str(relative))
    return stale


@dataclass
class Run:
    """A finished command: its exit code and output."""

    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of every tool run: venv first on PATH, our collections, our own CLI config."""
    if not (INSTALLED / "MANIFEST.json").is_file():
        pytest.fail(f"englab.mlops is not installed in {COLLECTIONS}: run `make collection` first")
    stale = stale_files()
    if stale:
        pytest.fail(
            f"the installed englab.mlops is older than the checkout ({', '.join(stale[:5])}): run `make collection`"
        )
    rc_file = tmp_path_factory.mktemp("terraformrc") / "terraformrc"
    rc_file.write_text("")
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        ANSIBLE_FACT_CACHING="memory",
        TF_CLI_CONFIG_FILE=str(rc_file),
        TF_IN_AUTOMATION="1",
        ENGLAB_TERRAFORM_BACKEND="lib",
        ENGLAB_NODE_IMAGE=os.environ.get("ENGLAB_NODE_IMAGE", "englab/node:bookworm"),
    )
    return env


def run(argv: list[str], env: dict[str, str], *, cwd: Path = REPO, stdin: str | None = None) -> Run:
    proc = subprocess.run(argv, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def playbook(tool_env: dict[str, str]):
    """Run ansible-playbook with extra vars given as a dict (passed as JSON)."""

    def _run(path: Path | str, extra_vars: dict | None = None, *args: str, env: dict | None = None) -> Run:
        argv = [str(VENV_BIN / "ansible-playbook"), str(path)]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        argv += list(args)
        return run(argv, env or tool_env)

    return _run


def recap(result: Run) -> dict[str, dict[str, int]]:
    """Per-host PLAY RECAP counters of an ansible-playbook run."""
    return parse_recap(result.stdout)


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def docker_names(kind: str, prefix: str = PREFIX) -> set[str]:
    """Names of containers, networks or volumes whose name starts with prefix."""
    if kind == "container":
        out = docker("ps", "-a", "--format", "{{.Names}}").stdout
    else:
        out = docker(kind, "ls", "--format", "{{.Name}}").stdout
    return {name for name in out.split() if name.startswith(prefix)}


def remove_docker_resources(prefix: str) -> None:
    """Remove every container, network and volume whose name starts with prefix."""
    containers = docker_names("container", prefix)
    if containers:
        docker("rm", "-f", "-v", *containers)
    for kind in ("network", "volume"):
        names = docker_names(kind, prefix)
        if names:
            docker(kind, "rm", *names)


@pytest.fixture(scope="session")
def docker_available() -> Iterator[None]:
    if shutil.which("docker") is None or docker("info").returncode != 0:
        pytest.fail("a running Docker engine is required (make docker)")
    image = os.environ.get("ENGLAB_NODE_IMAGE", "englab/node:bookworm")
    if docker("image", "inspect", image).returncode != 0:
        pytest.fail(f"node image {image} is missing (make image)")
    yield


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n` (make integration), the tests of one module run on one worker.

    A module's tests share its Docker names (its PREFIX), its module fixtures and their teardown,
    which removes every object with that prefix: spread over two workers, one test's teardown or
    image removal pulled the ground from under the other (CI saw the model-repository tests each
    find the other's image). A module whose tests create nothing sets SPREAD_OVER_WORKERS = True
    and groups its own rows where they do share something.
    """
    for item in items:
        module = getattr(item, "module", None)
        if module is None or getattr(module, "SPREAD_OVER_WORKERS", False):
            continue
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(module.__name__))
