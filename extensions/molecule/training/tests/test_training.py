"""The training node: the pinned MLflow venv, the training account's private credentials,
and a real training job (englab.mlops.train, as `make train` runs it) whose run, model
version and champion alias are read back through the node's own MLflow client.
Converged again, it installs and writes nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm_converge

DB = "molecule-training-db"
TRACKING = "molecule-training-tracking"
NODE = "molecule-training-node"
testinfra_hosts = [NODE]

VENV = "/srv/mlops/venv"
ENV_FILE = "/srv/mlops/.config/englab/mlflow.env"
PINNED = {"mlflow": "3.17.2", "scikit-learn": "1.9.1", "pandas": "3.1.1", "numpy": "2.4.6"}

STATE = """
import json
from mlflow import MlflowClient
c = MlflowClient()
champion = c.get_model_version_by_alias("englab-diabetes", "champion")
run = c.get_run(champion.run_id)
print(json.dumps({
    "versions": sorted(int(v.version) for v in c.search_model_versions("name='englab-diabetes'")),
    "champion": int(champion.version),
    "status": champion.status,
    "user": run.info.user_id,
    "metrics": run.data.metrics,
}))
"""


def secret(name: str) -> str:
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / name).read_text().strip()


def playbook(tmp_path: Path, play: dict) -> subprocess.CompletedProcess:
    """One play against the scenario's inventory; neither its log nor its task record is touched."""
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([play]))
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_LOG_PATH": "", "ENGLAB_TASK_RESULTS": ""},
        timeout=1200,
        check=False,
    )


def train(tmp_path: Path, **train_vars) -> subprocess.CompletedProcess:
    return playbook(
        tmp_path,
        {
            "name": "Train on the training node",
            "hosts": "training[0]",
            "gather_facts": False,
            "roles": [{"role": "englab.mlops.train", "vars": train_vars}],
        },
    )


def mlflow_state() -> dict:
    """What the tracking server holds, asked as the training account through mlops-env."""
    done = subprocess.run(
        [
            "docker",
            "exec",
            NODE,
            "runuser",
            "-u",
            "mlops",
            "--",
            "/usr/local/bin/mlops-env",
            "python",
            "-c",
            STATE,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    done = train(tmp_path_factory.mktemp("train"))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return mlflow_state()


def test_venv_holds_the_pinned_packages_and_belongs_to_the_training_user(host):
    frozen = dict(
        line.split("==", 1)
        for line in host.check_output(f"{VENV}/bin/pip freeze --all").splitlines()
        if "==" in line
    )
    assert {name: frozen.get(name) for name in PINNED} == PINNED
    assert host.file(VENV).user == "mlops"
    assert host.file("/srv/mlops/workspace").mode == 0o750


def test_credentials_are_private_to_the_training_user(host):
    env = host.file(ENV_FILE)
    assert (env.user, env.group, env.mode) == ("mlops", "mlops", 0o600)
    password = secret("tracking_user_training")
    assert f"MLFLOW_TRACKING_PASSWORD={password}" in env.content_string
    # No file other users can read holds it. The pattern file sits on /run (tmpfs, outside
    # the search), root-only; the same search finds the 0600 file above, so it can fail.
    patterns = "/run/englab-leakcheck"
    subprocess.run(
        ["docker", "exec", "-i", NODE, "sh", "-c", f"umask 077; cat > {patterns}"],
        input=password + "\n", text=True, check=True, timeout=30,
    )  # fmt: skip
    try:
        search = host.check_output(
            "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f -perm -o+r -print0"
            f" | xargs -0 -r grep -F -l -f {patterns} -- || true"
        )
        assert search.split() == []
        assert host.check_output(f"grep -F -l -f {patterns} {ENV_FILE}") == ENV_FILE
    finally:
        host.run(f"rm -f {patterns}")


def test_the_node_trusts_the_platform_ca_and_the_tracking_servers_own_ca_through_the_system_bundle(host):
    """The platform CA, and the CA of the tracking server's own certificate (a CA of the user's,
    set in group_vars tracking only), are both in the system bundle; the training job in
    `trained` reaches the tracking server through that certificate."""
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    assert not host.file("/usr/local/share/ca-certificates/englab-mlops-ca.crt").exists
    bundle = "".join(host.file("/etc/ssl/certs/ca-certificates.crt").content_string.split())
    for name, source in (
        ("englab-platform-ca.crt", ephemeral / "secrets" / "tracking_ca.crt"),
        ("englab-tracking-ca.crt", ephemeral / "own-tls" / "corp-ca.crt"),
    ):
        installed = host.file(f"/usr/local/share/ca-certificates/{name}")
        assert installed.exists and installed.mode == 0o644, name
        assert installed.content_string == source.read_text(), name
        assert "".join(source.read_text().split()) in bundle, name


def test_the_tracking_server_serves_the_users_certificate_not_one_of_the_platform_ca(host):
    served = host.check_output(
        f"echo | openssl s_client -connect {TRACKING}:443 -servername {TRACKING} 2>/dev/null"
        " | openssl x509 -noout -issuer"
    )
    assert "Example Corp Root CA" in served


def test_no_gpu_means_no_driver(host):
    assert not host.package("nvidia-driver").is_installed


def test_a_training_job_registers_a_version_and_makes_it_champion(trained):
    assert trained["status"] == "READY"
    assert trained["versions"] == [1]
    assert trained["champion"] == 1
    # The run was made by the node's unprivileged service user (MLflow records the OS user).
    assert trained["user"] == "mlops"
    assert trained["metrics"]["rmse"] > 0


def test_training_only_if_missing_keeps_the_registered_model(tmp_path, trained):
    done = train(tmp_path, train_only_if_missing=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert mlflow_state()["versions"] == trained["versions"]


def test_bad_input_names_the_variable_before_anything_runs(tmp_path):
    done = playbook(
        tmp_path,
        {
            "name": "Apply the training node role with a plain-http tracking URL",
            "hosts": NODE,
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.include_role": {"name": "englab.mlops.training_node"},
                    "vars": {"training_node_tracking_url": "http://molecule-training-tracking"},
                }
            ],
        },
    )
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode != 0
    assert "training_node_tracking_url must be an https:// URL" in output
    assert "changed=0" in output
    assert "Traceback" not in output


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    for node in (DB, TRACKING, NODE):
        assert warm_converge.fast_path_taken(results, node) == []
