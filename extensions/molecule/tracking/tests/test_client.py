"""What a client sees: TLS that validates against the platform CA, 401 without credentials,
and the real MLflow client logging, uploading, downloading and registering through nginx."""

import json
import subprocess
from pathlib import Path

import pytest
from conftest import (
    CA_ON_NODES,
    CLIENT,
    CLIENT_PYTHON,
    SEARCH_URL,
    TRACKING_URL,
    curl,
    curl_as,
    docker_exec,
    secret,
    wait_for_client_venv,
)


def test_api_requires_credentials():
    assert curl(SEARCH_URL).stdout == "401"


def test_api_answers_with_credentials():
    assert curl_as("training", secret("tracking_user_training"), SEARCH_URL).stdout == "200"


def test_wrong_password_is_refused():
    assert curl_as("training", "not-the-password", SEARCH_URL).stdout == "401"


def test_plain_http_redirects_to_https():
    result = docker_exec(
        CLIENT,
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "http://molecule-tracking-node/api/2.0/mlflow/experiments/search",
    )
    code, location = result.stdout.split(" ", 1)
    assert code in ("301", "308")
    assert location == "https://molecule-tracking-node/api/2.0/mlflow/experiments/search"


def _curl_with_only(cafile: str) -> subprocess.CompletedProcess:
    """curl trusting exactly one CA file: an empty --capath hides the system store."""
    return docker_exec(
        CLIENT,
        "sh",
        "-c",
        f'empty=$(mktemp -d) && curl -sS --capath "$empty" --cacert {cafile} {TRACKING_URL}/health; '
        'status=$?; rmdir "$empty"; exit $status',
        check=False,
    )


def test_certificate_validates_against_the_ca_only():
    # The platform CA alone validates the server (and the server answers).
    trusted = _curl_with_only(CA_ON_NODES)
    assert (trusted.returncode, trusted.stdout) == (0, "OK"), trusted.stderr
    # Another CA does not: curl exits 60 (peer certificate cannot be authenticated).
    other = _curl_with_only("/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt")
    assert other.returncode == 60, other.stderr


def test_unknown_host_header_is_refused():
    """--allowed-hosts: MLflow answers a forged Host header with an error, a known one normally."""
    probe = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"]
    url = "http://127.0.0.1:5000/api/2.0/mlflow/experiments/search"
    forged = docker_exec("molecule-tracking-node", *probe, "Host: evil.example", url)
    known = docker_exec("molecule-tracking-node", *probe, "Host: molecule-tracking-node", url)
    assert known.stdout == "401"
    assert forged.stdout in ("400", "403")


@pytest.fixture(scope="module")
def roundtrip() -> dict:
    wait_for_client_venv()
    script = Path(__file__).with_name("client_roundtrip.py")
    subprocess.run(["docker", "cp", str(script), f"{CLIENT}:/root/client_roundtrip.py"], check=True)
    result = docker_exec(
        CLIENT,
        CLIENT_PYTHON,
        "/root/client_roundtrip.py",
        env={
            "MLFLOW_TRACKING_URI": TRACKING_URL,
            "MLFLOW_TRACKING_USERNAME": "training",
            "MLFLOW_TRACKING_PASSWORD": secret("tracking_user_training"),
            "MLFLOW_TRACKING_SERVER_CERT_PATH": CA_ON_NODES,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_artifact_roundtrip_is_byte_identical(roundtrip):
    assert roundtrip["downloaded_size"] == 8 * 1024 * 1024
    assert roundtrip["downloaded_sha256"] == roundtrip["uploaded_sha256"]
    # Artifacts go through the server's proxy, never straight to storage.
    assert roundtrip["artifact_uri"].startswith("mlflow-artifacts:/")


def test_params_and_metrics_logged(roundtrip):
    assert roundtrip["param_alpha"] == "0.5"
    assert roundtrip["metric_rmse"] == 0.25


def test_model_registered(roundtrip):
    assert roundtrip["model_versions"] == ["1"]


def test_artifact_stored_on_the_tracking_node(roundtrip):
    result = docker_exec(
        "molecule-tracking-node",
        "find",
        "/var/lib/mlflow/artifacts",
        "-name",
        "blob.bin",
        "-size",
        "8192k",
    )
    assert result.stdout.strip(), "the uploaded artifact is not in the artifact directory"


def test_serving_user_reads_but_cannot_write(roundtrip):
    """serving has READ: it sees the registered model, but cannot log into training's experiment."""
    password = secret("tracking_user_serving")
    model = f"{TRACKING_URL}/api/2.0/mlflow/registered-models/get?name={roundtrip['model_name']}"
    assert curl_as("serving", password, model).stdout == "200"
    body = json.dumps({"experiment_id": roundtrip["experiment_id"]})
    create = curl_as(
        "serving",
        password,
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        f"{TRACKING_URL}/api/2.0/mlflow/runs/create",
    )
    assert create.stdout == "403"
