"""The collection's own conventions, checked on the files themselves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
REQUIRED_COLLECTIONS = {
    "ansible.posix",
    "awx.awx",
    "cloud.terraform",
    "community.crypto",
    "community.docker",
    "community.general",
    "community.postgresql",
    "google.cloud",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def test_galaxy_declares_every_collection_we_use():
    galaxy = load(ROOT / "galaxy.yml")
    assert (galaxy["namespace"], galaxy["name"]) == ("englab", "mlops")
    assert set(galaxy["dependencies"]) >= REQUIRED_COLLECTIONS


def test_requires_ansible_is_the_ansible_core_the_tests_run():
    """requires_ansible promises only what the suite runs: the pinned ansible-core's minor release."""
    pinned = re.search(
        r"^ansible-core==(\d+)\.(\d+)\.", (ROOT / "requirements" / "dev.txt").read_text(), re.M
    )
    assert pinned, "requirements/dev.txt pins no ansible-core"
    assert load(ROOT / "meta" / "runtime.yml")["requires_ansible"] == f">={pinned[1]}.{pinned[2]}.0"
    for meta in sorted(ROOT.glob("roles/*/meta/main.yml")):
        assert load(meta)["galaxy_info"]["min_ansible_version"] == f"{pinned[1]}.{pinned[2]}", meta


def test_python_requirements_are_pinned():
    for req in (ROOT / "requirements").glob("*.txt"):
        for raw in req.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][^,;<>]*$", line), (
                    f"{req.name}: unpinned {line!r}"
                )


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_defaults_are_prefixed_and_documented(role: Path):
    defaults_file = role / "defaults" / "main.yml"
    defaults = load(defaults_file) if defaults_file.exists() else {}
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    documented = set()
    for entry in specs.values():
        documented |= set(entry.get("options", {}))
    for name in defaults:
        assert name.startswith((f"{role.name}_", "mlops_")), f"{role.name}: {name} is not prefixed"
        assert name in documented, f"{role.name}: {name} has no argument_specs entry"


@pytest.mark.parametrize(
    "template", sorted(ROOT.glob("roles/*/templates/**/*.j2")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_templates_start_with_ansible_managed(template: Path):
    lines = template.read_text().lstrip().splitlines()
    if lines[0].startswith("#!"):  # a script's shebang must stay first
        lines = lines[1:]
    assert lines[0].startswith("{{ ansible_managed | comment")


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1].strip() == "exec make test"
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make demo" in readme


def print_tag(ca_dir: Path) -> str:
    env = {"ENGLAB_EXTRA_CA_DIR": str(ca_dir), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-node-image.sh"), "--print-tag"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_node_image_tag_is_content_addressed(tmp_path: Path):
    """Same recipe and CAs give the same tag; a new CA gives a new image."""
    first = print_tag(tmp_path)
    assert re.fullmatch(r"englab/node:bookworm-[0-9a-f]{12}", first)
    assert print_tag(tmp_path) == first
    (tmp_path / "corp.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert print_tag(tmp_path) != first
