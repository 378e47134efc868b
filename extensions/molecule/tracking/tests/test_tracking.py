"""The tracking node: MLflow under a hardened unit on loopback, nginx with TLS in front."""

import re
import sys
from pathlib import Path

from conftest import NODES, TRACKING

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm_converge

testinfra_hosts = [TRACKING]


# tracking_server_instances defaults to 2: one unit instance per loopback port.
INSTANCES = ("englab-mlflow@5000", "englab-mlflow@5001")


def test_services_running_and_enabled(host):
    for name in (*INSTANCES, "nginx"):
        service = host.service(name)
        assert service.is_running, name
        assert service.is_enabled, name


def test_nginx_balances_over_both_instances(host):
    conf = host.file("/etc/nginx/conf.d/englab-mlflow.conf").content_string
    assert re.findall(r"^\s*server 127\.0\.0\.1:(\d+)", conf, re.M) == ["5000", "5001"]
    # MLflow's writes (POSTs) fail over too; streamed artifact uploads are never resent.
    assert "proxy_next_upstream error timeout non_idempotent;" in conf
    artifacts = conf[conf.index("location ~ ^/(ajax-)?api/2\\.0/mlflow-artifacts/") :]
    assert "proxy_request_buffering off;" in artifacts
    assert "non_idempotent" not in artifacts


def test_mlflow_listens_on_loopback_only(host):
    for port in (5000, 5001):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_unit_is_hardened(host):
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show englab-mlflow@5000 -p User -p Restart -p NoNewPrivileges -p ProtectSystem "
            "-p PrivateTmp -p KillMode -p ReadWritePaths -p ExecStart"
        ).splitlines()
    )
    assert props["User"] == "mlflow"
    assert props["Restart"] == "always"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["PrivateTmp"] == "yes"
    assert props["KillMode"] == "control-group"
    assert props["ReadWritePaths"].split() == ["/var/lib/mlflow"]
    for flag in (
        "--host 127.0.0.1",
        "--port 5000",
        "--serve-artifacts",
        "--app-name basic-auth",
        "--allowed-hosts",
    ):
        assert flag in props["ExecStart"], flag
    # The database URL (and its password) is not on any command line.
    assert "postgresql" not in props["ExecStart"]
    assert "postgresql" not in host.check_output("ps -eo args")
    assert (
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"
        in host.file("/etc/systemd/system/englab-mlflow@.service").content_string
    )


def test_server_runs_as_service_user_with_telemetry_off(host):
    pid = host.check_output("systemctl show -p MainPID --value englab-mlflow@5001")
    environ = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ")
    assert "MLFLOW_DISABLE_TELEMETRY=true" in environ
    assert re.search(
        r"^MLFLOW_BACKEND_STORE_URI=postgresql\+psycopg2://mlflow:.*@molecule-tracking-db:5432/mlflow_db\?sslmode=prefer$",
        environ,
        re.M,
    )
    assert host.check_output(f"stat -c %U /proc/{pid}") == "mlflow"


def test_secret_files_are_private(host):
    for path, owner in (
        ("/etc/englab-mlflow/mlflow.env", "root"),
        ("/etc/englab-mlflow/basic_auth.ini", "mlflow"),
        ("/etc/englab-mlflow/tls/server.key", "root"),
    ):
        f = host.file(path)
        assert f.mode == 0o600, path
        assert f.user == owner, path


def test_auth_config_points_at_postgresql(host):
    ini = host.file("/etc/englab-mlflow/basic_auth.ini").content_string
    assert "database_uri = postgresql+psycopg2://mlflow:" in ini
    assert "default_permission = READ" in ini
    assert "password1234" not in ini


def test_venv_owned_by_service_user_with_pinned_mlflow(host):
    assert host.file("/opt/englab-mlflow/venv").user == "mlflow"
    version = host.check_output(
        "/opt/englab-mlflow/venv/bin/python -c 'import mlflow; print(mlflow.__version__)'"
    )
    assert version == "3.17.2"
    freeze = host.check_output("/opt/englab-mlflow/venv/bin/python -m pip freeze")
    assert "psycopg2-binary==2.9.13" in freeze
    assert "google-cloud-storage" not in freeze


def test_schema_state_records_installed_version(host):
    assert host.file("/var/lib/mlflow/schema-version").content_string.strip() == "3.17.2"


def _task_result(run: str, task: str) -> str:
    """The status line Ansible printed for one task of one run ("" when the task did not run)."""
    lines = run.splitlines()
    for index, line in enumerate(lines):
        if task in line:
            for following in lines[index + 1 : index + 6]:
                match = re.search(r"(ok|changed|skipping|fatal): \[molecule-tracking-node\]", following)
                if match:
                    return match.group(1)
    return ""


def test_schema_upgrade_ran_once(ansible_log):
    """The converge ran `mlflow db upgrade`; the idempotence run skipped it."""
    task = "TASK [englab.mlops.tracking_server : Upgrade the MLflow database schema]"
    runs = ansible_log.split("PLAY [Base configuration of every node]")
    assert len(runs) >= 3, "the log must hold the converge and the idempotence runs"
    converge, idempotence = runs[-2], runs[-1]
    assert _task_result(converge, task) == "changed"
    assert _task_result(idempotence, task) in ("skipping", "")
    assert "Record the MLflow version that migrated the schema" in converge


def test_nginx_settings(host):
    site = host.file("/etc/nginx/conf.d/englab-mlflow.conf").content_string
    assert "client_max_body_size 5g;" in site
    assert "proxy_request_buffering off;" in site
    assert "proxy_read_timeout 3600s;" in site
    host.run_expect([0], "nginx -t")


def test_certificate_names_the_tracking_host(host):
    text = host.check_output("openssl x509 -noout -ext subjectAltName -in /etc/englab-mlflow/tls/server.crt")
    assert "DNS:molecule-tracking-node" in text
    assert "DNS:localhost" in text


def test_certificate_chains_to_the_platform_ca(host):
    """englab.mlops.platform_ca made the CA (included by tls.yml); the server certificate is signed by it."""
    host.run_expect(
        [0], "openssl verify -CAfile /etc/englab-mlflow/tls/ca.crt /etc/englab-mlflow/tls/server.crt"
    )
    ca = host.check_output(
        "openssl x509 -noout -subject -ext basicConstraints -in /etc/englab-mlflow/tls/ca.crt"
    )
    assert "CN = englab MLOps CA" in ca
    assert "CA:TRUE, pathlen:0" in ca


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    for node in NODES:
        assert warm_converge.fast_path_taken(results, node) == []
