"""Issue 7 on the real platform: the champion site.yml deployed, a rollout and a rollback under load,
a failed health gate, the image in the repository, undeploy.

The tests run in file order and leave the champion served, as site.yml left it, so the converged
re-run in test_site.py still reports changed=0. The client runs on the controller against the
serving port the local target publishes on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import pytest
from conftest import SERVING_NODE_NAMES, Platform, recap

MODEL = "englab-diabetes"


def _model_repository(name: str) -> str:
    """The repository the serving node pushes a model's images to (plugins/module_utils/model_naming.py)."""
    path = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "model_naming.py"
    spec = importlib.util.spec_from_file_location("englab_model_naming", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model_repository(name)


# One repository per exact model name: a readable slug and a hash, e.g. englab-diabetes-<12 hex digits>.
REPOSITORY = _model_repository(MODEL)
STATE_FILE = "/var/lib/englab-serving/state.json"  # roles/serving_node/vars/main.yml
REGISTRY_CA = "/etc/docker/registry/tls/ca.crt"  # roles/repository/vars/main.yml

NEW_VERSION = """
import json, mlflow
from mlflow import MlflowClient
c = MlflowClient()
champion = c.get_model_version_by_alias("englab-diabetes", "champion")
# MLflow 3: the source is the logged model (models:/m-...), which register_model resolves
v = mlflow.register_model(champion.source, "englab-diabetes")
print(json.dumps({"champion": champion.version, "new": v.version}))
"""

# The pins the version's requirements.txt holds, as MLflow logged them.
REQUIREMENTS = """
import json, mlflow
path = mlflow.pyfunc.get_model_dependencies("models:/englab-diabetes/{version}")
print(json.dumps([line.strip().lower() for line in open(path) if "==" in line and not line.startswith("#")]))
"""

IN_PROCESS = """
import json, mlflow
from sklearn.datasets import load_diabetes
rows = load_diabetes(return_X_y=True, as_frame=True)[0].iloc[100:130]
model = mlflow.pyfunc.load_model("models:/englab-diabetes/{version}")
print(json.dumps({{"payload": {{"dataframe_split": rows.to_dict(orient="split")}},
                  "predictions": [float(p) for p in model.predict(rows)]}}))
"""


def http(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, Message, bytes]:
    """Status, headers (looked up by any case: the serving load balancer sends them in lower case, as
    HTTP allows), body."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 loopback http
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def served(platform: Platform) -> dict:
    status, _unused, body = http(platform.serving_url + "/englab/version")
    assert status == 200
    return json.loads(body)


def container_id(platform: Platform, slot: str) -> str:
    return platform.exec(
        "serving-node", "docker", "inspect", "-f", "{{.Id}}", f"englab-model-{slot}"
    ).stdout.strip()


def under_load(platform: Platform, action: Callable[[], object]) -> tuple[list[tuple], object]:
    """Run `action` while four client threads POST the served model's input example without pause.

    Each result is (start time, status, X-Model-Version, error, X-Serving-Node); every request opens a
    new connection.
    """
    status, _unused, example = http(platform.serving_url + "/englab/input-example")
    assert status == 200, "the served version publishes no input example"
    results: list[tuple] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            start = time.monotonic()
            try:
                code, headers, body = http(platform.serving_url + "/invocations", example)
                row = (
                    start,
                    code,
                    headers.get("X-Model-Version"),
                    "" if code == 200 else body[:200],
                    headers.get("X-Serving-Node"),
                )
                if code == 200:
                    json.loads(body)["predictions"]
            except Exception as exc:  # every failure is a result to report
                row = (start, 0, None, repr(exc), None)
            with lock:
                results.append(row)

    threads = [threading.Thread(target=client, daemon=True) for _unused in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    try:
        outcome = action()
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return sorted(results), outcome


@pytest.fixture(scope="module")
def versions(platform: Platform) -> dict[str, str]:
    """The champion site.yml serves, and a new version registered from the same run."""
    made = platform.mlflow_client(NEW_VERSION)
    return {"champion": str(made["champion"]), "new": str(made["new"])}


def test_site_serves_the_champion_with_in_process_predictions(platform: Platform, versions: dict[str, str]):
    """POST /invocations returns what the champion returns loaded in-process on the same 30 rows."""
    assert served(platform)["version"] == versions["champion"]
    expected = platform.mlflow_client(IN_PROCESS.format(version=versions["champion"]))
    status, headers, body = http(
        platform.serving_url + "/invocations", json.dumps(expected["payload"]).encode()
    )
    assert status == 200, body[:500]
    got = json.loads(body)["predictions"]
    assert len(got) == 30
    assert got == pytest.approx(expected["predictions"], rel=1e-9, abs=1e-9)
    assert headers.get("X-Model-Version") == versions["champion"]


def test_site_summary_names_the_served_version_and_a_prediction(platform: Platform, versions: dict[str, str]):
    output = platform.site_runs[0].stdout
    assert f"served: {MODEL} version {versions['champion']} at {platform.serving_url}/invocations" in output
    assert re.search(r"prediction for the first rows of its input example: \[[0-9.]+", output)
    assert f"tracking: {platform.tracking_url} (anonymous: 401, authenticated: 200" in output
    assert f"password in the controller file {platform.secrets_dir}/tracking_admin (0600)" in output


def test_image_is_in_the_repository_and_the_container_runs_from_it(
    platform: Platform, versions: dict[str, str]
):
    registry = platform.node("englab-repository") + ":5000"
    user = "englab:" + (platform.secrets_dir / "repository_user_englab").read_text().strip()
    url = f"https://{registry}/v2/{REPOSITORY}/tags/list"
    curl = ("curl", "-sS", "--cacert", REGISTRY_CA)
    anonymous = platform.exec("englab-repository", *curl, "-o", "/dev/null", "-w", "%{http_code}", url)
    assert anonymous.stdout == "401"
    # the password goes to curl on stdin (a config line), never on a command line
    listing = platform.exec_input("englab-repository", f'user = "{user}"\n', *curl, "-f", "-K", "-", url)
    assert versions["champion"] in json.loads(listing.stdout)["tags"]
    slot = served(platform)["slot"]
    info = json.loads(platform.exec("serving-node", "docker", "inspect", f"englab-model-{slot}").stdout)[0]
    assert info["Config"]["Image"] == f"{registry}/{REPOSITORY}:{versions['champion']}"
    image = json.loads(platform.exec("serving-node", "docker", "image", "inspect", info["Image"]).stdout)[0]
    assert any(d.startswith(f"{registry}/{REPOSITORY}@sha256:") for d in image["RepoDigests"])
    # a signal uvicorn shuts down on: the node image's SIGRTMIN+3 made every stop wait out its timeout
    assert image["Config"]["StopSignal"] == "SIGTERM"
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert info["HostConfig"]["Memory"] > 0 and info["HostConfig"]["NanoCpus"] > 0
    assert any(e.startswith("WEB_CONCURRENCY=") and int(e.split("=")[1]) >= 1 for e in info["Config"]["Env"])
    assert info["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
    # the scoring server runs unprivileged (uid 10001, dropped by setpriv in the image's command)
    top = platform.exec("serving-node", "docker", "top", f"englab-model-{slot}", "-eo", "pid,uid,args").stdout
    server = [line.split(None, 2) for line in top.splitlines()[1:] if "uvicorn" in line]
    assert server and {uid for _unused, uid, _unused in server} == {"10001"}, top


def test_deploy_check_of_a_new_version_reports_it_and_changes_nothing(
    platform: Platform, versions: dict[str, str]
):
    """Issue 15: deploy --check of a version not yet served spent minutes probing a container that
    check mode never started. It now says what would be rolled out, and starts, builds and pushes
    nothing."""
    before = platform.snapshot()
    run = platform.playbook(
        "englab.mlops.deploy",
        "deploy-check",
        args=("--check", "--diff"),
        serving_node_model_version=versions["new"],
    )
    output = run.stdout + run.stderr
    assert recap(run)[platform.node("serving-node")]["changed"] >= 1
    assert f"Check mode: {MODEL} version {versions['new']} would be built" in output, output[-3000:]
    assert "Wait for the container's health check" not in output
    assert "Traceback" not in output
    assert platform.snapshot() == before
    assert served(platform)["version"] == versions["champion"]


def test_rollout_under_load_drops_no_request(platform: Platform, versions: dict[str, str]):
    before = served(platform)
    results, _unused = under_load(
        platform,
        lambda: platform.playbook(
            "englab.mlops.deploy", "deploy-new", serving_node_model_version=versions["new"]
        ),
    )
    failures = [r for r in results if r[1] != 200]
    assert len(results) > 50, f"the client sent only {len(results)} requests"
    assert failures == [], failures[:5]
    seen = [r[2] for r in results]
    assert seen[0] == before["version"] and seen[-1] == versions["new"]
    # The serving nodes switch one after the other (issue 20): each answers the old version, then the
    # new one, and never the old one again; both answered during the rollout.
    by_node: dict[str, list[str]] = {}
    for row in results:
        by_node.setdefault(row[4], []).append(row[2])
    assert set(by_node) == {platform.node(n) for n in SERVING_NODE_NAMES}, set(by_node)
    for node, answers in by_node.items():
        first_new = answers.index(versions["new"])
        assert set(answers[first_new + 20 :]) == {versions["new"]}, f"{node} went back to the old version"
    after = served(platform)
    assert after["version"] == versions["new"] and after["slot"] != before["slot"]
    old = platform.exec("serving-node", "docker", "inspect", f"englab-model-{before['slot']}", check=False)
    assert old.returncode != 0, "the old version still runs"
    state = json.loads(platform.exec("serving-node", "cat", STATE_FILE).stdout)
    assert (state["current"]["version"], state["previous"]["version"]) == (versions["new"], before["version"])


def test_a_retrained_version_is_its_runtime_image_plus_one_layer(
    platform: Platform, versions: dict[str, str]
):
    """Issue 21: a version whose requirements a served version had reuses that runtime image (keyed
    by them), which installed the requirements as logged, and adds only the model's files."""
    registry = platform.node("englab-repository") + ":5000"

    def image(reference: str) -> dict:
        return json.loads(platform.exec("serving-node", "docker", "image", "inspect", reference).stdout)[0]

    champion = image(f"{registry}/{REPOSITORY}:{versions['champion']}")
    new = image(f"{registry}/{REPOSITORY}:{versions['new']}")
    key = champion["Config"]["Labels"]["englab.mlops.runtime"]
    assert new["Config"]["Labels"]["englab.mlops.runtime"] == key
    assert new["Config"]["Labels"]["englab.mlops.version"] == versions["new"]
    runtime = f"englab-mlops/serving-runtime:{key}"
    layers = image(runtime)["RootFS"]["Layers"]
    assert champion["RootFS"]["Layers"][:-1] == layers and new["RootFS"]["Layers"][:-1] == layers
    logged = platform.mlflow_client(REQUIREMENTS.format(version=versions["champion"]))
    installed = platform.exec(
        "serving-node", "docker", "run", "--rm", runtime, "/opt/mlflow/bin/pip", "list", "--format", "json"
    )
    pins = {f"{p['name'].lower()}=={p['version']}" for p in json.loads(installed.stdout)}
    assert logged and set(logged) <= pins, (logged, sorted(pins))


def test_second_deploy_of_the_same_version_changes_nothing(platform: Platform, versions: dict[str, str]):
    running = container_id(platform, served(platform)["slot"])
    run = platform.playbook("englab.mlops.deploy", "deploy-again", serving_node_model_version=versions["new"])
    assert recap(run)[platform.node("serving-node")]["changed"] == 0
    assert container_id(platform, served(platform)["slot"]) == running


def test_rollback_and_undeploy_check_report_and_change_nothing(platform: Platform, versions: dict[str, str]):
    """Issue 15: rollback --check and undeploy --check say what they would do; the new version
    keeps serving, with the same container, state file and proxy site."""
    before = platform.snapshot()
    rollback = platform.playbook("englab.mlops.rollback", "rollback-check", args=("--check", "--diff"))
    output = rollback.stdout + rollback.stderr
    assert recap(rollback)[platform.node("serving-node")]["changed"] >= 1
    assert f"Check mode: {MODEL} version {versions['champion']} would be served again" in output, output[
        -3000:
    ]
    assert "Traceback" not in output
    undeploy = platform.playbook("englab.mlops.undeploy", "undeploy-check", args=("--check", "--diff"))
    output = undeploy.stdout + undeploy.stderr
    assert recap(undeploy)[platform.node("serving-node")]["changed"] >= 1, output[-3000:]
    assert "Traceback" not in output
    assert platform.snapshot() == before
    assert served(platform)["version"] == versions["new"]
    status, _unused, example = http(platform.serving_url + "/englab/input-example")
    assert status == 200
    assert http(platform.serving_url + "/invocations", example)[0] == 200


def refused(platform: Platform, version: str, log: str, **variables: object) -> str:
    """Deploy `version`, which the gate must refuse: the deploy fails saying so, the version served
    before keeps serving from the same container, and nothing is left in the free slot. Returns the
    playbook's output."""
    before = served(platform)
    running = container_id(platform, before["slot"])
    others = {n: platform.exec(n, "cat", STATE_FILE).stdout for n in SERVING_NODE_NAMES[1:]}
    run = platform.playbook(
        "englab.mlops.deploy", log, check=False, serving_node_model_version=version, **variables
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert f"version {version} failed its checks and was not switched to" in output, output[-3000:]
    assert f"Version {before['version']} keeps serving" in output
    assert "Traceback" not in output
    assert served(platform) == before
    # The first serving node refused it, so the rollout stopped there (issue 20): the others never
    # started the version and keep serving the old one.
    assert {n: platform.exec(n, "cat", STATE_FILE).stdout for n in SERVING_NODE_NAMES[1:]} == others
    assert container_id(platform, before["slot"]) == running
    other = "green" if before["slot"] == "blue" else "blue"
    assert (
        platform.exec("serving-node", "docker", "inspect", f"englab-model-{other}", check=False).returncode
        != 0
    )
    return output


def test_failed_health_check_keeps_the_old_version_and_says_why(platform: Platform, versions: dict[str, str]):
    refused(
        platform,
        versions["champion"],
        "deploy-unhealthy",
        # The smallest limit the role accepts (64m): too small for MLflow, so the health gate fails.
        serving_node_memory="64m",
        serving_node_health_timeout=30,
    )


# A model that loads and answers /ping but fails every prediction, registered as a new version of the
# served model with the champion's requirements (so its runtime image is the champion's).
BROKEN_VERSION = """
import json, mlflow, pandas
from mlflow import MlflowClient

class Broken(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise ValueError("englab test: this model cannot predict")

champion = MlflowClient().get_model_version_by_alias("englab-diabetes", "champion")
path = mlflow.pyfunc.get_model_dependencies(f"models:/englab-diabetes/{champion.version}")
pins = [line.strip() for line in open(path) if line.strip() and not line.startswith("#")]
mlflow.set_experiment("englab-e2e-broken")
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(
        name="model", python_model=Broken(), pip_requirements=pins,
        input_example=pandas.DataFrame({"x": [1.0, 2.0]}), registered_model_name="englab-diabetes",
    )
print(json.dumps({"version": str(info.registered_model_version)}))
"""


def test_a_version_that_fails_its_input_example_is_refused_and_the_old_one_keeps_serving(
    platform: Platform, versions: dict[str, str]
):
    """The gate scores the model's logged input example on the new container (POST /invocations)
    before any user request reaches it: a version that starts and answers /ping but answers that
    request with an error is removed, and the served version stays."""
    output = refused(platform, platform.mlflow_client(BROKEN_VERSION)["version"], "deploy-broken")
    assert "POST /invocations with the model's input example answered HTTP" in output, output[-3000:]
    assert "ValueError: englab test: this model cannot predict" in output, output[-3000:]


def test_rollback_under_load_drops_no_request(platform: Platform, versions: dict[str, str]):
    assert served(platform)["version"] == versions["new"]
    results, _unused = under_load(platform, lambda: platform.playbook("englab.mlops.rollback", "rollback"))
    assert len(results) > 50
    assert [r for r in results if r[1] != 200] == []
    assert results[0][2] == versions["new"] and results[-1][2] == versions["champion"]
    assert served(platform)["version"] == versions["champion"]


def test_undeploy_stops_serving_and_rollback_or_deploy_serve_again(
    platform: Platform, versions: dict[str, str]
):
    platform.playbook("englab.mlops.undeploy", "undeploy")
    assert http(platform.serving_url + "/invocations", b"{}")[0] == 503
    assert served(platform)["version"] is None
    names = platform.exec("serving-node", "docker", "ps", "-a", "--format", "{{.Names}}").stdout
    assert "englab-model-" not in names
    again = platform.playbook("englab.mlops.undeploy", "undeploy-again")
    assert recap(again)[platform.node("serving-node")]["changed"] == 0
    # rollback after undeploy serves the version served last; that version is not its own previous
    # one, so a second rollback has nothing to return to
    last = json.loads(platform.exec("serving-node", "cat", "/var/lib/englab-serving/state.json").stdout)[
        "previous"
    ]
    platform.playbook("englab.mlops.rollback", "rollback-after-undeploy")
    assert served(platform)["version"] == str(last["version"])
    refused = platform.playbook("englab.mlops.rollback", "rollback-after-undeploy-again", check=False)
    assert refused.returncode != 0
    assert "nothing to roll back to" in refused.stdout + refused.stderr
    assert served(platform)["version"] == str(last["version"])
    # what site.yml does on its next run: serve the champion (from the repository's image)
    platform.playbook("englab.mlops.deploy", "deploy-champion")
    assert served(platform)["version"] == versions["champion"]
