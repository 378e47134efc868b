"""The gcp preflight's rules: Google's bucket names, credentials files, the root's declared variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.englab.mlops.plugins.filter.gcp_input_problems import FilterModule
from ansible_collections.englab.mlops.plugins.module_utils.gcp_inputs import (
    bucket_name_problem,
    credentials_problem,
    gcp_input_problems,
    terraform_root_variables,
)

REPO = Path(__file__).resolve().parents[4]
FAKE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
GOOD = {
    "mlops_gcp_project": "englab-test-123456",
    "mlops_gcp_region": "europe-west1",
    "mlops_name_prefix": "",
    "mlops_gcp_state_bucket": "",
    "provision_gcp_credentials_file": "",
    "provision_terraform_variables": {},
    "mlops_terraform_dir": "/root",
}


@pytest.mark.parametrize(
    "name",
    ["abc", "englab-state", "my_state.bucket", "a" * 63, "example.com.state", ".".join(["a" * 63] * 3)],
)
def test_bucket_names_google_accepts(name: str) -> None:
    assert bucket_name_problem(name) == ""


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ab", "3-63 characters"),
        ("a" * 64, "3-63 characters"),
        ("Englab-State", "3-63 characters"),
        ("-state", "3-63 characters"),
        ("state-", "3-63 characters"),
        ("gs://englab-state", "3-63 characters"),
        ("a" * 64 + ".b", "each dot-separated part 1-63 characters"),
        ("a..b", "each dot-separated part"),
        ("192.168.5.4", "not an IP address"),
        ("goog-state", "not starting with goog"),
        ("my-google-state", "nor containing google"),
    ],
)
def test_bucket_names_google_refuses(name: str, why: str) -> None:
    assert why in bucket_name_problem(name)


@pytest.mark.parametrize(
    "kind",
    ["service_account", "authorized_user", "external_account", "impersonated_service_account"],
)
def test_known_credentials_types(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": kind, "private_key": FAKE_KEY}))
    assert credentials_problem(str(path)) == ""


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "does not exist on the controller"),
        ("not json " + FAKE_KEY, "is not a JSON credentials file"),
        (json.dumps(["service_account"]), "its type is missing"),
        (json.dumps({"private_key": FAKE_KEY}), "its type is missing"),
        (json.dumps({"type": "api_key", "private_key": FAKE_KEY}), 'its type is "api_key"'),
    ],
)
def test_unusable_credentials_never_show_the_key(tmp_path: Path, content: str | None, why: str) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    problem = credentials_problem(str(path))
    assert why in problem
    assert "PRIVATE KEY" not in problem and "MIIE" not in problem


def test_credentials_directory_and_unreadable_file(tmp_path: Path) -> None:
    assert credentials_problem(str(tmp_path)) == "is not a regular file"
    unreadable = tmp_path / "key.json"
    unreadable.write_text("{}")
    unreadable.chmod(0)
    try:
        if unreadable.open().readable():  # root reads anything: nothing to prove here
            return
    except PermissionError:
        assert credentials_problem(str(unreadable)) == "cannot be read (check its permissions)"
    finally:
        unreadable.chmod(0o600)


def test_root_variables_of_the_bundled_root() -> None:
    names = terraform_root_variables(str(REPO / "terraform"))
    assert names is not None
    assert {"project_id", "region", "prefix", "zone", "os_login_user"} <= set(names)
    assert names == sorted(names)


def test_root_variables_from_json_and_hcl(tmp_path: Path) -> None:
    (tmp_path / "a.tf").write_text('variable "alpha" {\n  type = string\n}\n# variable "commented" {\n')
    (tmp_path / "b.tf.json").write_text(json.dumps({"variable": {"beta": {"type": "string"}}}))
    (tmp_path / "notes.txt").write_text('variable "gamma" {')
    assert terraform_root_variables(str(tmp_path)) == ["alpha", "beta"]


def test_root_without_configuration(tmp_path: Path) -> None:
    assert terraform_root_variables(str(tmp_path)) is None
    assert terraform_root_variables(str(tmp_path / "missing")) is None


def test_good_inputs_have_no_problem() -> None:
    assert gcp_input_problems(GOOD, ["project_id", "region", "prefix", "zone"]) == []


def test_every_problem_names_the_ansible_variable_and_the_value() -> None:
    inputs = {
        **GOOD,
        "mlops_gcp_project": "My Project",
        "mlops_gcp_region": "us_central1",
        "mlops_name_prefix": "a-much-too-long-prefix-",
        "mlops_gcp_state_bucket": "Bad Bucket",
        "provision_terraform_variables": {"colour": "blue"},
    }
    problems = gcp_input_problems(inputs, ["project_id", "region", "prefix"])
    assert len(problems) == 5, problems
    assert (
        problems[0].startswith("mlops_gcp_project must be a Google Cloud project id")
        and '"My Project"' in problems[0]
    )
    assert (
        problems[1].startswith("mlops_gcp_region must be a Google Cloud region")
        and '"us_central1"' in problems[1]
    )
    assert problems[2].startswith("mlops_name_prefix must be empty or, on gcp, up to 19 characters")
    assert problems[3].startswith("mlops_gcp_state_bucket must be empty") and '"Bad Bucket"' in problems[3]
    assert problems[4] == (
        "provision_terraform_variables has colour, which the Terraform root /root does not declare; "
        "its variables are: project_id, region, prefix"
    )


def test_a_value_given_to_terraform_directly_is_the_one_judged() -> None:
    inputs = {**GOOD, "provision_terraform_variables": {"region": "us-east1", "zone": "europe-west1-b"}}
    (problem,) = gcp_input_problems(inputs, ["region", "zone"])
    assert problem.startswith(
        "provision_terraform_variables.zone must be a zone of provision_terraform_variables.region us-east1"
    )
    assert gcp_input_problems({**GOOD, "provision_terraform_variables": {"prefix": "Ci"}}, ["prefix"])[
        0
    ].startswith("provision_terraform_variables.prefix must be empty")


def test_missing_project_and_missing_root() -> None:
    problems = gcp_input_problems({**GOOD, "mlops_gcp_project": ""}, None)
    assert problems == [
        "mlops_gcp_project is required when mlops_target is gcp (or set GCP_PROJECT): the id of a Google Cloud project",
        "mlops_terraform_dir /root holds no Terraform configuration (*.tf)",
    ]


def test_filter_reads_the_root_from_mlops_terraform_dir() -> None:
    check = FilterModule().filters()["gcp_input_problems"]
    root = f"{REPO}/roles/provision/../../terraform"
    assert check({**GOOD, "mlops_terraform_dir": root}) == []
    (problem,) = check({**GOOD, "mlops_terraform_dir": root, "provision_terraform_variables": {"zones": "x"}})
    assert problem.startswith(
        f"provision_terraform_variables has zones, which the Terraform root {REPO}/terraform "
    )


GPU_ROOT = ["project_id", "region", "prefix", "gpu_count", "training_machine_type"]


@pytest.mark.parametrize(
    ("terraform_variables", "given"),
    [
        ({"gpu_count": 1}, 'got gpu_count 1 with training_machine_type "c2-standard-8"'),
        (
            {"gpu_count": "2", "training_machine_type": "e2-standard-8"},
            'training_machine_type "e2-standard-8"',
        ),
        ({"gpu_count": 1, "training_machine_type": "g2-standard-8"}, 'training_machine_type "g2-standard-8"'),
    ],
)
def test_gpus_on_a_family_that_cannot_take_them(terraform_variables: dict, given: str) -> None:
    (problem,) = gcp_input_problems({**GOOD, "provision_terraform_variables": terraform_variables}, GPU_ROOT)
    assert problem.startswith("provision_terraform_variables.gpu_count > 0 (attached GPUs) needs an N1")
    assert given in problem


@pytest.mark.parametrize(
    "terraform_variables",
    [
        {"gpu_count": 1, "training_machine_type": "n1-standard-8"},
        {"gpu_count": 0},
        {"gpu_count": "0", "training_machine_type": "a2-highgpu-1g"},
        {"gpu_count": "many"},  # Terraform's type check names it
    ],
)
def test_gpus_where_they_fit(terraform_variables: dict) -> None:
    assert gcp_input_problems({**GOOD, "provision_terraform_variables": terraform_variables}, GPU_ROOT) == []


def test_gpu_check_only_for_a_root_with_gpu_count() -> None:
    inputs = {**GOOD, "provision_terraform_variables": {"gpu_count": 1}}
    problems = gcp_input_problems(inputs, ["project_id", "region", "prefix"])
    assert problems and all("needs an N1" not in p for p in problems)


PASSWORD_ROOT = ["project_id", "region", "prefix", "db_password", "db_password_version"]


@pytest.mark.parametrize("name", ["db_password", "db_password_version"])
def test_password_and_its_version_only_from_the_role(name: str) -> None:
    (problem,) = gcp_input_problems({**GOOD, "provision_terraform_variables": {name: "x"}}, PASSWORD_ROOT)
    assert problem.startswith(
        f"provision_terraform_variables.{name} is refused: set provision_gcp_db_password_version"
    )


@pytest.mark.parametrize("version", [0, -1, "2", True, 1.5])
def test_password_version_is_a_whole_number_from_one(version: object) -> None:
    (problem,) = gcp_input_problems({**GOOD, "provision_gcp_db_password_version": version}, PASSWORD_ROOT)
    assert problem.startswith("provision_gcp_db_password_version must be a whole number from 1")
    assert problem.endswith(json.dumps(version))


def test_password_version_accepted() -> None:
    assert gcp_input_problems({**GOOD, "provision_gcp_db_password_version": 3}, PASSWORD_ROOT) == []
