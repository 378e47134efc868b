"""The stand-in refuses values outside an attribute's documented enum, as the provider does.

The allowed values come from the provider's published schema descriptions (schema_gen.py); a
bogus value in the root's own configuration must fail validate, naming the attribute and the
allowed values, while the root as shipped validates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Workdir

pytestmark = pytest.mark.terraform

# file, the line as shipped, the bogus replacement, what the error must name
CASES = {
    "ssl_mode": (
        "sql.tf",
        'ssl_mode        = "ENCRYPTED_ONLY"',
        'ssl_mode        = "BOGUS_MODE"',
        [
            "settings.0.ip_configuration.0.ssl_mode must be one of",
            "ALLOW_UNENCRYPTED_AND_ENCRYPTED, ENCRYPTED_ONLY, TRUSTED_CLIENT_CERTIFICATE_REQUIRED",
            'got "BOGUS_MODE"',
        ],
    ),
    "on_host_maintenance": (
        "compute.tf",
        'on_host_maintenance = each.value.gpus ? "TERMINATE" : "MIGRATE"',
        'on_host_maintenance = "SOMETIMES"',
        ["scheduling.0.on_host_maintenance must be one of MIGRATE, TERMINATE", 'got "SOMETIMES"'],
    ),
}


def _output(proc) -> str:
    return " ".join((proc.stdout + proc.stderr).replace("│", " ").split())


def test_root_as_shipped_passes_the_enum_checks(scratch: Workdir) -> None:
    for source, shipped, _unused, _unused in CASES.values():
        assert shipped in (scratch.path / source).read_text(), f"{source} no longer sets {shipped}"
    proc = scratch.run("validate", "-no-color", check=False)
    assert proc.returncode == 0, _output(proc)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bogus_enum_value_is_refused(scratch: Workdir, case: str) -> None:
    source, shipped, bogus, expected = CASES[case]
    path: Path = scratch.path / source
    original = path.read_text()
    assert shipped in original
    path.write_text(original.replace(shipped, bogus))
    try:
        proc = scratch.run("validate", "-no-color", check=False)
    finally:
        path.write_text(original)
    output = _output(proc)
    assert proc.returncode != 0, output
    for fragment in expected:
        assert fragment in output, output
