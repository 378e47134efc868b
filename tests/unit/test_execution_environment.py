"""The AWX execution environment: `ansible-builder create` writes a build context that carries
the collection's needs, offline, and the image recipe pins what it downloads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EE_FILE = ROOT / "execution-environment.yml"
SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Runs ansible-builder's own entry point with every socket connection refused, so the test
# fails if `create` ever needs the network (Galaxy, PyPI, a registry).
OFFLINE_BUILDER = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted during ansible-builder create")
socket.socket.connect = refuse
socket.create_connection = refuse
from ansible_builder.cli import run
sys.argv = ["ansible-builder", *sys.argv[1:]]
sys.exit(run())
"""


def requirement_names(path: Path) -> dict[str, str]:
    """Package name -> full pinned line, comments dropped."""
    names = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            names[re.split(r"[=<>!~\[ ;]", line, maxsplit=1)[0].lower()] = line
    return names


@pytest.fixture(scope="module")
def ee_definition() -> dict:
    return yaml.safe_load(EE_FILE.read_text())


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ee") / "context"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            OFFLINE_BUILDER,
            "create",
            "-f",
            str(EE_FILE),
            "-c",
            str(out),
            "--output-filename",
            "Containerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def containerfile(context: Path) -> str:
    return (context / "Containerfile").read_text()


def test_definition_is_schema_version_3(ee_definition: dict):
    assert ee_definition["version"] == 3


def test_base_image_is_pinned_by_tag(containerfile: str):
    match = re.search(r'^ARG EE_BASE_IMAGE="([^"]+)"', containerfile, re.MULTILINE)
    assert match, "no base image in the Containerfile"
    image = match.group(1)
    name, _unused, tag = image.rpartition(":")
    assert "/" not in tag and name, f"base image {image!r} has no tag"
    assert tag not in {"latest", ""}, f"base image {image!r} is not pinned"


def test_ansible_core_219_and_runner_are_pinned(containerfile: str):
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]+)"', containerfile, re.MULTILINE).group(1).split()
    assert any(re.fullmatch(r"ansible-core==2\.19\.\d+", ref) for ref in refs), refs
    assert any(re.fullmatch(r"ansible-runner==\d+\.\d+\.\d+", ref) for ref in refs), refs


def test_python_interpreter_is_311_or_newer(containerfile: str):
    pycmd = re.search(r'^ARG PYCMD="([^"]+)"', containerfile, re.MULTILINE).group(1)
    minor = re.fullmatch(r"/usr/bin/python3\.(\d+)", pycmd)
    assert minor and int(minor.group(1)) >= 11, pycmd


def test_terraform_is_downloaded_from_hashicorp_and_checksummed(containerfile: str):
    version = re.search(r"^ARG TERRAFORM_VERSION=(\d+\.\d+\.\d+)$", containerfile, re.MULTILINE)
    assert version, "no pinned TERRAFORM_VERSION build argument"
    sums = re.findall(r"^ARG TERRAFORM_SHA256_(AMD64|ARM64)=(\S+)$", containerfile, re.MULTILINE)
    assert {arch for arch, _unused in sums} == {"AMD64", "ARM64"}
    assert all(SHA256.match(value) for _unused, value in sums), sums
    step = next(line for line in containerfile.splitlines() if "releases.hashicorp.com/terraform/" in line)
    assert step.startswith("RUN ")
    assert "terraform_${TERRAFORM_VERSION}_linux_" in step
    assert "sha256sum -c" in step
    # the checksum is verified before the archive is unpacked
    assert step.index("sha256sum -c") < step.index("unzip")
    assert "/usr/local/bin" in step


def test_google_cloud_cli_is_installed_for_iap_tunnels(containerfile: str):
    step = next(
        line for line in containerfile.splitlines() if "google-cloud-cli" in line and "install" in line
    )
    assert "packages.cloud.google.com" in step
    assert "gpgcheck=1" in step
    assert "gcloud --version" in step


def test_custom_steps_run_in_the_final_image(containerfile: str):
    final = containerfile.split("FROM base AS final", 1)[1]
    assert "releases.hashicorp.com" in final
    assert "google-cloud-cli" in final


def test_build_requirements_carry_the_collection_python_needs(context: Path):
    built = requirement_names(context / "_build" / "requirements.txt")
    wanted = requirement_names(ROOT / "meta" / "ee-requirements.txt")
    assert {"google-auth", "requests", "docker", "psycopg2-binary"} <= set(wanted)
    for name, line in wanted.items():
        assert built.get(name) == line, f"{name}: {built.get(name)!r} != {line!r}"
        assert "==" in line, f"{line!r} is not pinned"


def test_bindep_carries_the_system_needs(context: Path):
    bindep = (context / "_build" / "bindep.txt").read_text()
    packages = {line.split()[0] for line in bindep.splitlines() if line.strip() and not line.startswith("#")}
    assert {"git", "rsync", "unzip"} <= packages
    assert {"openssh-clients", "openssh-client"} & packages


def test_collections_cover_the_galaxy_dependencies(context: Path):
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    wanted = set(galaxy["dependencies"]) - {"awx.awx"}  # awx.awx runs on the admin's machine only
    built = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    versions = {c["name"]: c.get("version") for c in built["collections"]}
    assert wanted <= set(versions), wanted - set(versions)
    for name in wanted:
        assert versions[name] == galaxy["dependencies"][name], name


def test_collection_ee_metadata_points_at_the_same_files(ee_definition: dict):
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 1
    for key in ("python", "system"):
        assert meta["dependencies"][key] == ee_definition["dependencies"][key]
        assert (ROOT / meta["dependencies"][key]).is_file()


def _satisfies(version: str, constraint: str) -> bool:
    """Terraform's required_version operators (=, !=, >, >=, <, <=, ~>) on x.y.z versions."""

    def parts(value: str) -> tuple[int, ...]:
        return tuple(int(p) for p in value.split("."))

    have = parts(version)
    for clause in constraint.split(","):
        op, want = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*([\d.]+)\s*", clause).groups()
        need = parts(want)
        padded = have[: len(need)] + (0,) * max(0, len(need) - len(have))
        ok = {
            None: have == need,
            "=": have == need,
            "!=": have != need,
            ">": have > need,
            ">=": have >= need,
            "<": have < need,
            "<=": have <= need,
            "~>": have >= need and padded[: len(need) - 1] == need[:-1],
        }[op]
        if not ok:
            return False
    return True


def test_terraform_version_satisfies_the_root(containerfile: str):
    versions_tf = ROOT / "terraform" / "versions.tf"
    assert versions_tf.is_file(), "terraform/versions.tf is missing"
    required = re.search(r'required_version\s*=\s*"([^"]+)"', versions_tf.read_text())
    assert required, "terraform/versions.tf pins no required_version"
    version = re.search(r"^ARG TERRAFORM_VERSION=(\S+)$", containerfile, re.MULTILINE).group(1)
    assert _satisfies(version, required.group(1)), (
        f"terraform {version} does not satisfy {required.group(1)!r}"
    )


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("1.15.8", ">= 1.5", True),
        ("1.15.8", ">= 1.5, < 2.0", True),
        ("1.4.6", ">= 1.5", False),
        ("1.15.8", "~> 1.9", True),
        ("1.15.8", "~> 1.9.0", False),
        ("2.0.0", "~> 1.9", False),
    ],
)
def test_version_constraint_reader(version: str, constraint: str, expected: bool):
    assert _satisfies(version, constraint) is expected
