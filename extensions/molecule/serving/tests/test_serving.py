"""The serving node: nginx in front of blue/green model containers on its own Docker engine.

The verify does what users do: registers real MLflow model versions (a pyfunc model logged
with the tracking node's own MLflow client as the training account), serves the champion
with the role's `deploy` entry point (what englab.mlops.deploy runs), rolls a new version
out and back with `deploy` and `rollback`, and asks the proxy for predictions (POST
/invocations, what MLflow's scoring clients send). Converged again, the role installs and
writes nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm_converge

DB = "molecule-serving-db"
TRACKING = "molecule-serving-tracking"
REPOSITORY = "molecule-serving-repository"
NODE = "molecule-serving-node"
MODEL = "molecule-doubler"
testinfra_hosts = [NODE]

# Logs a pyfunc model that multiplies column x by FACTOR, registers it as a new version and
# points the champion alias at it. Its requirements are pinned to what this client runs,
# without the full mlflow, so the serving image installs little.
REGISTER = """
import json, os, sys
import cloudpickle, mlflow, numpy, pandas
from mlflow import MlflowClient

factor = float(sys.argv[1])

class Multiply(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (model_input["x"] * factor).tolist()

mlflow.set_experiment("molecule-serving")
with mlflow.start_run() as run:
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=Multiply(),
        registered_model_name=sys.argv[2],
        pip_requirements=[
            f"mlflow-skinny=={mlflow.__version__}",
            f"cloudpickle=={cloudpickle.__version__}",
            f"pandas=={pandas.__version__}",
            f"numpy=={numpy.__version__}",
        ],
    )
version = info.registered_model_version
MlflowClient().set_registered_model_alias(sys.argv[2], "champion", version)
print(json.dumps({"version": int(version), "run_id": run.info.run_id}))
"""


def secret(name: str) -> str:
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / name).read_text().strip()


def register(factor: float) -> dict:
    """A new model version, logged on the tracking node as the training account over HTTPS."""
    env = {
        "MLFLOW_TRACKING_URI": f"https://{TRACKING}",
        "MLFLOW_TRACKING_USERNAME": "training",
        "MLFLOW_TRACKING_PASSWORD": secret("tracking_user_training"),
        "MLFLOW_TRACKING_SERVER_CERT_PATH": "/etc/ssl/certs/ca-certificates.crt",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    names = [arg for name in env for arg in ("-e", name)]
    done = subprocess.run(
        ["docker", "exec", "-w", "/root", *names, TRACKING, "/opt/englab-mlflow/venv/bin/python", "-c", REGISTER,
         str(factor), MODEL],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def entry_point(tmp_path: Path, name: str, **extra) -> subprocess.CompletedProcess:
    """One of the role's entry points on the serving node, with the scenario's inventory."""
    play = {
        "name": f"The serving node's {name} entry point",
        "hosts": "serving",
        "gather_facts": True,
        "tasks": [
            {
                "ansible.builtin.include_role": {"name": "englab.mlops.serving_node", "tasks_from": name},
                "vars": extra,
            }
        ],
    }
    path = tmp_path / f"{name}.yml"
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


def recap(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return next(line for line in done.stdout.splitlines() if line.startswith(NODE) and "changed=" in line)


def predict(values: list[float]) -> tuple[int, object]:
    """POST /invocations through the proxy, from another node of the network."""
    body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[v] for v in values]}})
    done = subprocess.run(
        ["docker", "exec", "-i", TRACKING, "curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code}",
         "-H", "Content-Type: application/json", "--data-binary", "@-", f"http://{NODE}/invocations"],
        input=body, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    text, _newline, status = done.stdout.rpartition("\n")
    return int(status), (json.loads(text) if status == "200" else text)


def on_node(*argv: str) -> str:
    """The output of a command on the serving node."""
    return subprocess.run(
        ["docker", "exec", NODE, *argv], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def served_version() -> dict:
    done = subprocess.run(
        ["docker", "exec", TRACKING, "curl", "-sS", f"http://{NODE}/englab/version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> dict:
    """Version 1 (x * 2) registered as champion and deployed."""
    registered = register(2)
    done = entry_point(tmp_path_factory.mktemp("deploy"), "deploy")
    recap(done)
    return {**registered, "output": done.stdout}


def test_nginx_and_docker_run_and_are_enabled(host):
    for unit in ("nginx", "docker"):
        service = host.service(unit)
        assert service.is_running and service.is_enabled, unit
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_the_champion_is_served_and_predicts(first):
    assert first["version"] == 1
    assert f"{MODEL} version 1 is now served" in " ".join(first["output"].split())
    assert predict([1, 2.5]) == (200, {"predictions": [2.0, 5.0]})
    assert served_version()["version"] == "1"


def test_the_image_is_in_the_repository_and_labelled_with_the_run(host, first):
    container = json.loads(
        host.check_output("docker inspect englab-model-blue englab-model-green 2>/dev/null || true") or "[]"
    )
    running = [c for c in container if c["State"]["Running"]]
    assert len(running) == 1
    image = running[0]["Config"]["Image"]
    assert image.startswith("molecule-serving-repository:5000/") and image.endswith(":1")
    labels = running[0]["Config"]["Labels"]
    assert labels["englab.mlops.version"] == "1"
    assert labels["englab.mlops.run_id"] == first["run_id"]
    repository, tag = image.split("/", 1)[1].rsplit(":", 1)
    # The credentials reach curl on stdin (-K -), never on a command line.
    tags = subprocess.run(
        ["docker", "exec", "-i", NODE, "curl", "-sS", "--cacert",
         "/usr/local/share/ca-certificates/englab-platform-ca.crt", "-K", "-",
         f"https://molecule-serving-repository:5000/v2/{repository}/tags/list"],
        input=f'user = "englab:{secret("repository_user_englab")}"\n',
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert tag in json.loads(tags)["tags"]


def test_the_model_runs_as_an_unprivileged_user(host, first):
    slot = served_version()["slot"]
    users = host.check_output(f"docker top englab-model-{slot} -o pid,uid,comm").splitlines()[1:]
    assert users and all(line.split()[1] == "10001" for line in users), users


def test_deploying_the_served_version_again_changes_nothing(tmp_path, first):
    done = entry_point(tmp_path, "deploy")
    assert "changed=0" in recap(done)
    assert f"{MODEL} version 1 was already served" in " ".join(done.stdout.split())


def test_a_new_version_rolls_out_and_back(tmp_path, first):
    # No testinfra `host` here: that would make it a host test, which pytest runs before the
    # plain ones, and it moves the champion alias to version 2.
    second = register(3)
    assert second["version"] == 2
    recap(entry_point(tmp_path, "deploy"))
    assert predict([1, 2.5]) == (200, {"predictions": [3.0, 7.5]})
    assert served_version()["version"] == "2"
    # Same requirements: version 2 is version 1's runtime image plus its own model layer (issue 21).
    container = json.loads(on_node("docker", "inspect", f"englab-model-{served_version()['slot']}"))[0]
    image = container["Config"]["Image"]
    images = json.loads(on_node("docker", "image", "inspect", image, image.rsplit(":", 1)[0] + ":1"))
    runtimes = {i["Config"]["Labels"]["englab.mlops.runtime"] for i in images}
    assert len(runtimes) == 1, runtimes
    runtime = json.loads(
        on_node("docker", "image", "inspect", f"englab-mlops/serving-runtime:{runtimes.pop()}")
    )[0]
    assert all(i["RootFS"]["Layers"][:-1] == runtime["RootFS"]["Layers"] for i in images)
    # A rollback logs in to the repository only when the node no longer has the image: version 1's
    # tag removed and the node logged out, it must log in and pull it again.
    first_image = image.rsplit(":", 1)[0] + ":1"
    on_node("docker", "image", "rm", first_image)
    on_node("docker", "logout", image.split("/", 1)[0])
    recap(entry_point(tmp_path, "rollback"))
    assert json.loads(on_node("docker", "image", "inspect", first_image))[0]["Id"] == images[1]["Id"]
    assert predict([1, 2.5]) == (200, {"predictions": [2.0, 5.0]})
    assert served_version()["version"] == "1"


def test_a_missing_version_is_refused_by_name_and_keeps_serving(tmp_path, first):
    done = entry_point(tmp_path, "deploy", serving_node_model_version="99")
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode != 0
    assert f"serving_node_model_version '99' is not a version of model '{MODEL}'" in output
    assert "Traceback" not in output
    status, _body = predict([1])
    assert status == 200


def test_no_world_readable_file_holds_a_secret(host):
    secrets = [secret("tracking_user_serving"), secret("repository_user_englab")]
    patterns = "/run/englab-leakcheck"
    subprocess.run(
        ["docker", "exec", "-i", NODE, "sh", "-c", f"umask 077; cat > {patterns}"],
        input="\n".join(secrets) + "\n", text=True, check=True, timeout=30,
    )  # fmt: skip
    try:
        search = host.check_output(
            "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f -perm -o+r -print0"
            f" | xargs -0 -r grep -F -l -f {patterns} -- || true"
        )
        assert search.split() == []
        # The same search finds the serving account's 0600 credentials: it can fail.
        assert host.check_output(f"grep -F -l -f {patterns} /etc/englab-serving/mlflow.env") != ""
    finally:
        host.run(f"rm -f {patterns}")


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    for node in (DB, TRACKING, REPOSITORY, NODE):
        assert warm_converge.fast_path_taken(results, node) == []
