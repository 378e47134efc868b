"""init/validate against the stand-in: the configuration matches google 6.50.0's published schema,
and validate really catches schema mistakes (so a passing validate means something)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import ROOT, Workdir, terraform_binary

pytestmark = pytest.mark.terraform


def test_fmt_is_clean() -> None:
    proc = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-diff", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_init_resolves_pinned_providers(initialized: Workdir) -> None:
    lock = (initialized.path / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/hashicorp/google"' in lock
    assert 'version     = "6.50.0"' in lock
    assert 'provider "registry.terraform.io/hashicorp/random"' in lock
    assert 'version     = "3.7.2"' in lock
    assert 'provider "registry.terraform.io/hashicorp/time"' in lock
    assert 'version     = "0.13.1"' in lock


def test_validate_passes(initialized: Workdir) -> None:
    proc = initialized.run("validate", "-no-color")
    assert "The configuration is valid" in proc.stdout


BROKEN = {
    "misspelt argument": (
        'resource "google_storage_bucket" "typo" {\n  name = "x"\n  location = "EU"\n'
        "  uniform_bucket_level_acess = true\n}\n",
        'An argument named "uniform_bucket_level_acess" is not expected here',
    ),
    "missing required argument": (
        'resource "google_sql_user" "orphan" {\n  name = "x"\n}\n',
        'The argument "instance" is required',
    ),
    "nonexistent attribute": (
        'output "bad" {\n  value = google_sql_database_instance.db.private_ip\n}\n',
        'no argument, nested block, or exported attribute named "private_ip"',
    ),
    "misspelt nested block argument": (
        'resource "google_compute_subnetwork" "typo" {\n  name = "x"\n  network = "n"\n'
        '  ip_cidr_range = "10.0.0.0/24"\n  log_config {\n    flow_sampeling = 0.5\n  }\n}\n',
        'An argument named "flow_sampeling" is not expected here',
    ),
    # Write-only is real in the served schema: the ephemeral password cannot reach a stored argument.
    "ephemeral value in a stored argument": (
        'resource "google_sql_user" "leak" {\n  instance = "x"\n  name = "y"\n'
        "  password = var.db_password\n}\n",
        "Ephemeral values are not valid",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_validate_catches(scratch: Workdir, case: str) -> None:
    source, message = BROKEN[case]
    broken = scratch.path / "broken_test.tf"
    broken.write_text(source)
    try:
        proc = scratch.run("validate", "-no-color", check=False)
    finally:
        broken.unlink()
    output = " ".join((proc.stdout + proc.stderr).replace("│", " ").split())
    assert proc.returncode != 0, output
    assert message in output
