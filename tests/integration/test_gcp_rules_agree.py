"""Issue 15: the provision role's gcp preflight and the Terraform root accept and refuse the same values.

The rules live twice, in plugins/module_utils/gcp_inputs.py (so a bad value stops before anything is
written) and in terraform/variables.tf (so the root refuses it used on its own). This table holds them
equal: every row goes through the real preflight (`--tags provision_preflight` of the installed role,
one host a row, in a single ansible-playbook run) and through `terraform plan` against the offline
stand-in provider (rows batched into a few plans, two at a time), and both must say the same.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, recap, run
from test_bad_input_table import TF, diagnostics

pytestmark = pytest.mark.terraform

# The stand-in mirror and one initialised scratch copy of terraform/, as tests/terraform has them.
mirror = TF.mirror
initialized = TF.initialized
scratch = TF.scratch

# Terraform variable -> the Ansible variable the user sets for it.
ANSIBLE_NAME = {
    "project_id": "mlops_gcp_project",
    "region": "mlops_gcp_region",
    "prefix": "mlops_name_prefix",
    "zone": "provision_terraform_variables.zone",
}

# (row, both accept?) Every row is one user's input; a zone row carries its region.
ROWS: list[tuple[dict[str, str], bool]] = [
    ({"project_id": "englab-test-123456"}, True),
    ({"project_id": "abcdef"}, True),
    ({"project_id": "a" + "b" * 28 + "c"}, True),  # 30 characters
    ({"project_id": "a" + "b" * 29 + "c"}, False),  # 31
    ({"project_id": "abcde"}, False),
    ({"project_id": "My-Project"}, False),
    ({"project_id": "my project"}, False),
    ({"project_id": "1project"}, False),
    ({"project_id": "project-"}, False),
    ({"project_id": "proj_ect1"}, False),
    ({"region": "us-central1"}, True),  # zone derived: us-central1-b
    ({"region": "northamerica-northeast2"}, True),
    ({"region": "europe_west1"}, False),
    ({"region": "Europe-West1"}, False),
    ({"region": "us-central"}, False),
    ({"region": "europe-west1-b"}, False),
    ({"prefix": ""}, True),
    ({"prefix": "ci-"}, True),
    ({"prefix": "englab-e2e-"}, True),
    ({"prefix": "englab-tftest-"}, True),
    ({"prefix": "a" * 19}, True),
    ({"prefix": "a" * 20}, False),
    ({"prefix": "-ci"}, False),
    ({"prefix": "1ci-"}, False),
    ({"prefix": "Ci-"}, False),
    ({"prefix": "ci_"}, False),
    ({"region": "us-central1", "zone": "us-central1-a"}, True),
    ({"region": "asia-south2", "zone": "asia-south2-c"}, True),
    ({"region": "us-central1", "zone": "europe-west1-b"}, False),
    ({"region": "europe-west1", "zone": "europe-west1"}, False),
    ({"region": "europe-west1", "zone": "Europe-west1-b"}, False),
]


def row_id(row: dict[str, str]) -> str:
    return ",".join(f"{name}={value!r}" for name, value in row.items())


def plan_groups(rows: list[dict[str, str]]) -> list[list[int]]:
    """Row indexes per plan: rows sharing no variable share a plan (zone is judged with its region)."""
    groups: list[list[int]] = []
    for index, row in enumerate(rows):
        group = next((g for g in groups if not any(set(rows[i]) & set(row) for i in g)), None)
        if group is None:
            groups.append([index])
        else:
            group.append(index)
    return groups


def terraform_verdicts(work: Any, rows: list[dict[str, str]]) -> dict[int, list[str]]:
    """Row index -> the root's refusals of its variables ([] when the root accepts the row)."""

    def plan(group: list[int]) -> dict[int, list[str]]:
        values = {"project_id": TF.PROJECT}
        for i in group:
            values.update(rows[i])
        args = ["plan", "-json", "-input=false", "-refresh=false", "-lock=false"]
        args += [f"-var={name}={value}" for name, value in values.items()]
        proc = work.run(*args, check=False)
        errors = diagnostics(proc.stdout)
        # Only variable validation may fail: anything else would make the comparison meaningless.
        assert all(e.startswith("Invalid value for variable") for e in errors), errors
        assert (proc.returncode != 0) == bool(errors), proc.stdout + proc.stderr
        # Each of the root's messages starts with its variable's name ("zone: ...").
        return {i: [e for e in errors for name in rows[i] if f": {name}: " in e] for i in group}

    verdicts: dict[int, list[str]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for result in pool.map(plan, plan_groups(rows)):
            verdicts.update(result)
    return verdicts


def ansible_verdicts(tmp_path: Path, tool_env: dict[str, str], rows: list[dict[str, str]]) -> dict[int, str]:
    """Row index -> the preflight's refusal of that row ("" when it passes), one host a row, one run."""
    hosts: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        variables: dict[str, Any] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(REPO / ".venv" / "bin" / "python"),
            "mlops_target": "gcp",
            "mlops_gcp_connection": "docker",  # no SSH login to settle: only the input rules count
            "mlops_gcp_project": row.get("project_id", TF.PROJECT),
            "mlops_secrets_dir": str(tmp_path / f"secrets-{index}"),
            "provision_gcp_credentials_file": "",
        }
        if "region" in row:
            variables["mlops_gcp_region"] = row["region"]
        if "prefix" in row:
            variables["mlops_name_prefix"] = row["prefix"]
        if "zone" in row:
            variables["provision_terraform_variables"] = {"zone": row["zone"]}
        hosts[f"row{index:02d}"] = variables
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    play = [
        {"name": "gcp preflight", "hosts": "all", "gather_facts": False, "roles": ["englab.mlops.provision"]}
    ]
    (tmp_path / "play.json").write_text(json.dumps(play))
    env = {**tool_env, "ANSIBLE_FORKS": "4"}
    result = run(
        [
            str(REPO / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            str(tmp_path / "inventory.json"),
            str(tmp_path / "play.json"),
            "--tags",
            "provision_preflight",
        ],
        env,
    )
    assert "Traceback" not in result.output, result.output[-4000:]
    counts = recap(result)
    assert set(counts) == set(hosts), result.output[-4000:]
    verdicts = {}
    for index in range(len(rows)):
        host = f"row{index:02d}"
        failed = counts[host]["failed"] > 0
        found = re.search(rf"^fatal: \[{host}\]: FAILED! => (.*?)(?=^\S|\Z)", result.stdout, re.M | re.S)
        assert failed == bool(found), (host, result.stdout[-4000:])
        verdicts[index] = found.group(1) if found else ""
    # A refused run writes nothing; an accepted preflight-only run does not either.
    assert not any(p.exists() for p in tmp_path.glob("secrets-*")), sorted(tmp_path.glob("secrets-*"))
    return verdicts


def test_preflight_and_terraform_agree_on_every_value(
    scratch: Any, tmp_path: Path, tool_env: dict[str, str]
) -> None:
    rows = [row for row, _unused in ROWS]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The preflight run overlaps the plans (it is the lighter of the two).
        ansible_future = pool.submit(ansible_verdicts, tmp_path, tool_env, rows)
        terraform = terraform_verdicts(scratch, rows)
        ansible = ansible_future.result()
    disagreements = []
    for index, (row, expected) in enumerate(ROWS):
        tf_refused, ansible_refused = bool(terraform[index]), bool(ansible[index])
        if (tf_refused, ansible_refused) != (not expected, not expected):
            disagreements.append(
                f"{row_id(row)}: expected {'accepted' if expected else 'refused'}, Terraform "
                f"{'refused' if tf_refused else 'accepted'}, preflight {'refused' if ansible_refused else 'accepted'}"
            )
            continue
        if ansible_refused:
            # The preflight names the Ansible variable the user set, not Terraform's name.
            wanted = [ANSIBLE_NAME[name] for name in row if any(f": {name}: " in e for e in terraform[index])]
            missing = [name for name in wanted if name not in ansible[index]]
            if missing:
                disagreements.append(f"{row_id(row)}: the preflight's refusal does not name {missing}")
    assert disagreements == [], "\n".join(disagreements)
