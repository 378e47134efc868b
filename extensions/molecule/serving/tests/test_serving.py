"""The repository, the serving node and englab.mlops.deploy / rollback / undeploy.

The tests run in file order against one platform: the champion is served after
converge, then the tests roll out the other version under load, fail a rollout
on purpose, give bad selections, roll back and undeploy. Every playbook runs
from the installed collection, as a user would run it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time

import pytest
import testinfra

SERVING = "molecule-serving-node"
REPOSITORY = "molecule-serving-repository"
MLFLOW = "molecule-serving-mlflow"
REGISTRY = "molecule-serving-repository:5000"
MODEL = "englab-diabetes"
EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
SECRETS = os.path.join(EPHEMERAL, "secrets")
# Scratch directory for the tests' files on the nodes (root-only).
WORK = "/root/englab-serving-test"
# ... and on the MLflow node, where the mlops user must read them.
MLOPS_WORK = "/srv/mlops/englab-serving-test"

# A bounded client on the serving node: 4 threads POST to nginx on port 80 (a new
# connection per request) until a stop file appears or the deadline passes, and
# record status, served version and error of every request.
CLIENT = r"""
import json, os, sys, threading, time, urllib.request
payload = open(sys.argv[1], "rb").read()
out, stop, deadline = sys.argv[2], sys.argv[3], time.time() + float(sys.argv[4])
results, lock = [], threading.Lock()
def loop():
    while time.time() < deadline and not os.path.exists(stop):
        req = urllib.request.Request("http://127.0.0.1/invocations", data=payload,
                                     headers={"Content-Type": "application/json"})
        t = time.time()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                json.loads(r.read())["predictions"]
                row = [t, r.status, r.headers.get("X-Model-Version"), ""]
        except Exception as e:
            row = [t, getattr(e, "code", 0) or 0, None, repr(e)]
        with lock:
            results.append(row)
threads = [threading.Thread(target=loop) for _ in range(4)]
[th.start() for th in threads]
[th.join() for th in threads]
results.sort()
json.dump(results, open(out + ".tmp", "w"))
os.rename(out + ".tmp", out)
"""


def node(name: str):
    return testinfra.get_host(f"docker://{name}")


def put_file(host, path: str, content: str) -> None:
    encoded = base64.b64encode(content.encode()).decode()
    host.run_expect([0], f"mkdir -p {os.path.dirname(path)} && echo {encoded} | base64 -d > {path}")


def secret(name: str) -> str:
    with open(os.path.join(SECRETS, name)) as handle:
        return handle.read().strip()


def served(serving) -> dict:
    return json.loads(serving.check_output("curl -fsS http://127.0.0.1/englab/version"))


def run_playbook(name: str, **extra_vars: str) -> subprocess.CompletedProcess:
    command = ["ansible-playbook", "-i", os.path.join(EPHEMERAL, "inventory"), f"englab.mlops.{name}"]
    for key, value in extra_vars.items():
        command += ["-e", f"{key}={value}"]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(EPHEMERAL, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(command, capture_output=True, text=True, timeout=1200, env=env, check=False)


def recap(result: subprocess.CompletedProcess) -> dict:
    match = re.search(
        rf"{SERVING}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", result.stdout
    )
    assert match, result.stdout[-3000:] + result.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))


def container_id(serving, slot: str) -> str:
    return serving.check_output(f"docker inspect -f '{{{{.Id}}}}' englab-model-{slot}")


def under_load(serving, action) -> tuple[list, subprocess.CompletedProcess]:
    """Run `action` while the client loop hammers the proxy; return its results."""
    put_file(serving, f"{WORK}/englab-client.py", CLIENT)
    slot = served(serving)["slot"]
    serving.run_expect(
        [0], f"docker cp englab-model-{slot}:/opt/model/serving_input_example.json {WORK}/englab-payload.json"
    )
    serving.run_expect([0], f"rm -f {WORK}/englab-client.json {WORK}/englab-client.stop")
    serving.run_expect(
        [0],
        f"setsid nohup python3 {WORK}/englab-client.py {WORK}/englab-payload.json {WORK}/englab-client.json "
        f"{WORK}/englab-client.stop 900 >{WORK}/englab-client.log 2>&1 &",
    )
    time.sleep(3)
    result = action()
    time.sleep(3)
    serving.run_expect([0], f"touch {WORK}/englab-client.stop")
    for _ in range(60):
        if serving.file(f"{WORK}/englab-client.json").exists:
            break
        time.sleep(1)
    return json.loads(serving.file(f"{WORK}/englab-client.json").content_string), result


@pytest.fixture(scope="module")
def serving():
    return node(SERVING)


@pytest.fixture(scope="module")
def mlflow_host():
    return node(MLFLOW)


@pytest.fixture(scope="module")
def versions(mlflow_host) -> dict:
    """The champion and the other registered version, as the tracking server sees them."""
    script = (
        "from mlflow import MlflowClient; c = MlflowClient(); import json; "
        f"print(json.dumps({{'champion': c.get_model_version_by_alias('{MODEL}', 'champion').version, "
        f"'all': sorted(v.version for v in c.search_model_versions(\"name='{MODEL}'\"))}}))"
    )
    put_file(mlflow_host, f"{MLOPS_WORK}/englab-versions.py", script)
    out = mlflow_host.check_output(
        f"runuser -u mlops -- /usr/local/bin/mlops-env python {MLOPS_WORK}/englab-versions.py"
    )
    found = json.loads(out.strip().splitlines()[-1])
    other = [v for v in found["all"] if v != found["champion"]]
    assert other, f"prepare registered only {found}"
    return {"champion": found["champion"], "other": other[0]}


def test_registry_requires_tls_and_login():
    repo = node(REPOSITORY)
    assert repo.service("docker-registry").is_running
    ca = "/etc/docker/registry/tls/ca.crt"
    anonymous = repo.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {ca} https://{REPOSITORY}:5000/v2/"
    )
    assert anonymous == "401"
    user = f"englab:{secret('repository_user_englab')}"
    assert repo.file(os.path.join("/etc/docker/registry/htpasswd")).mode == 0o640
    tags = json.loads(
        repo.check_output(f"curl -fsS --cacert {ca} -u {user} https://{REPOSITORY}:5000/v2/{MODEL}/tags/list")
    )
    assert tags["name"] == MODEL and tags["tags"]
    # images live on the persistent volume
    assert repo.file(f"/var/lib/docker-registry/docker/registry/v2/repositories/{MODEL}").is_directory
    assert oct(os.stat(os.path.join(SECRETS, "repository_user_englab")).st_mode & 0o777) == "0o600"


def test_docker_engine_configured(serving):
    assert serving.service("docker").is_running
    daemon = json.loads(serving.file("/etc/docker/daemon.json").content_string)
    assert daemon["live-restore"] is True and daemon["log-opts"]["max-size"] == "10m"
    info = json.loads(serving.check_output("docker info --format '{{json .}}'"))
    assert info["LiveRestoreEnabled"] is True
    assert info["Driver"] == "overlay2"
    assert serving.file(f"/etc/docker/certs.d/{REGISTRY}/ca.crt").is_file


def test_champion_served_with_in_process_predictions(serving, mlflow_host, versions):
    """POST /invocations through nginx returns what the model returns loaded in-process."""
    assert served(serving)["version"] == versions["champion"]
    script = f"""
import json, mlflow
from sklearn.datasets import load_diabetes
rows = load_diabetes(return_X_y=True, as_frame=True)[0].iloc[100:130]
model = mlflow.pyfunc.load_model("models:/{MODEL}/{versions["champion"]}")
print(json.dumps({{"payload": {{"dataframe_split": rows.to_dict(orient="split")}},
                  "predictions": [float(p) for p in model.predict(rows)]}}))
"""
    put_file(mlflow_host, f"{MLOPS_WORK}/englab-predict.py", script)
    out = mlflow_host.check_output(
        f"runuser -u mlops -- /usr/local/bin/mlops-env python {MLOPS_WORK}/englab-predict.py"
    )
    expected = json.loads(out.strip().splitlines()[-1])
    put_file(serving, f"{WORK}/englab-rows.json", json.dumps(expected["payload"]))
    response = serving.run(
        f"curl -sS -D {WORK}/englab-headers -H 'Content-Type: application/json' "
        f"--data-binary @{WORK}/englab-rows.json http://127.0.0.1/invocations"
    )
    assert response.rc == 0, response.stderr
    got = json.loads(response.stdout)["predictions"]
    assert len(got) == 30
    assert got == pytest.approx(expected["predictions"], rel=1e-9, abs=1e-9)
    headers = serving.file(f"{WORK}/englab-headers").content_string
    assert re.search(rf"(?im)^X-Model-Version: {versions['champion']}\s*$", headers)


def test_model_container_built_pushed_and_hardened(serving, versions):
    slot = served(serving)["slot"]
    info = json.loads(serving.check_output(f"docker inspect englab-model-{slot}"))[0]
    assert info["Config"]["Image"] == f"{REGISTRY}/{MODEL}:{versions['champion']}"
    # the scoring server runs unprivileged (setpriv in the image's command)
    top = serving.check_output(f"docker top englab-model-{slot} -eo pid,uid,args").splitlines()[1:]
    server = [line.split(None, 2) for line in top if "urlopen" not in line]  # skip a health check in flight
    assert any("uvicorn" in args for _, _, args in server), top
    assert len(server) >= 2, top  # the uvicorn parent and at least one worker
    assert {uid for _, uid, _ in server} == {"10001"}, top
    # the image declares its HEALTHCHECK on /ping (Docker cannot exec it on this nested engine)
    assert "/ping" in " ".join(info["Config"]["Healthcheck"]["Test"])
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert info["HostConfig"]["Memory"] == 768 * 1024 * 1024
    assert info["HostConfig"]["NanoCpus"] > 0
    assert "WEB_CONCURRENCY=2" in info["Config"]["Env"] or any(
        e.startswith("WEB_CONCURRENCY=") and int(e.split("=")[1]) >= 1 for e in info["Config"]["Env"]
    )
    # the image came from the repository: its digest is recorded against the registry
    image = json.loads(
        serving.check_output(f"docker image inspect {REGISTRY}/{MODEL}:{versions['champion']}")
    )[0]
    assert any(d.startswith(f"{REGISTRY}/{MODEL}@sha256:") for d in image["RepoDigests"])
    # only the blue/green loopback ports are published, and only on loopback
    ports = info["HostConfig"]["PortBindings"]["8080/tcp"]
    assert ports[0]["HostIp"] == "127.0.0.1"


def test_rollout_under_load_drops_no_request(serving, versions):
    before = served(serving)
    results, run = under_load(
        serving, lambda: run_playbook("deploy", serving_node_model_version=versions["other"])
    )
    assert run.returncode == 0, run.stdout[-4000:]
    failures = [r for r in results if r[1] != 200]
    assert len(results) > 50, f"the client sent only {len(results)} requests"
    assert failures == [], failures[:5]
    seen = [r[2] for r in results]
    assert seen[0] == before["version"] and seen[-1] == versions["other"]
    # the switch happens once: no request after the first new-version answer hits the old one
    first_new = seen.index(versions["other"])
    assert set(seen[first_new + 20 :]) <= {versions["other"]}
    after = served(serving)
    assert after["version"] == versions["other"] and after["slot"] != before["slot"]
    assert serving.run(f"docker inspect englab-model-{before['slot']}").rc != 0, "the old version still runs"
    state = json.loads(serving.file("/var/lib/englab-serving/state.json").content_string)
    assert state["current"]["version"] == versions["other"]
    assert state["previous"]["version"] == before["version"]


def test_second_deploy_of_same_version_changes_nothing(serving, versions):
    running = container_id(serving, served(serving)["slot"])
    run = run_playbook("deploy", serving_node_model_version=versions["other"])
    assert run.returncode == 0, run.stdout[-4000:]
    assert recap(run)["changed"] == 0
    assert container_id(serving, served(serving)["slot"]) == running


def test_failed_health_check_keeps_old_version(serving, versions):
    before = served(serving)
    running = container_id(serving, before["slot"])
    run = run_playbook(
        "deploy",
        serving_node_model_version=versions["champion"],
        serving_node_memory="12m",
        serving_node_health_timeout="30",
    )
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "failed its checks" in output
    assert f"Version {before['version']} keeps serving" in output
    assert served(serving) == before
    assert container_id(serving, before["slot"]) == running
    other_slot = "green" if before["slot"] == "blue" else "blue"
    assert serving.run(f"docker inspect englab-model-{other_slot}").rc != 0


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"serving_node_model_alias": "no-such-alias"}, "serving_node_model_alias"),
        ({"serving_node_model_version": "999"}, "serving_node_model_version"),
        ({"serving_node_model_name": "no-such-model"}, "serving_node_model_name"),
    ],
)
def test_bad_selection_names_the_variable_and_changes_nothing(serving, extra, variable):
    before = served(serving)
    running = container_id(serving, before["slot"])
    run = run_playbook("deploy", **extra)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert f"{variable} '" in output, output[-3000:]
    assert "Nothing was changed" in output
    assert recap(run)["changed"] == 0
    assert served(serving) == before
    assert container_id(serving, before["slot"]) == running


def test_rollback_under_load_drops_no_request(serving, versions):
    before = served(serving)
    assert before["version"] == versions["other"]
    results, run = under_load(serving, lambda: run_playbook("rollback"))
    assert run.returncode == 0, run.stdout[-4000:]
    assert len(results) > 50
    assert [r for r in results if r[1] != 200] == []
    assert results[0][2] == versions["other"] and results[-1][2] == versions["champion"]
    assert served(serving)["version"] == versions["champion"]


def test_undeploy_stops_serving(serving, versions):
    run = run_playbook("undeploy")
    assert run.returncode == 0, run.stdout[-4000:]
    assert (
        serving.check_output("curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1/invocations")
        == "503"
    )
    assert served(serving)["version"] is None
    assert "englab-model-" not in serving.check_output("docker ps -a --format '{{.Names}}'")
    again = run_playbook("undeploy")
    assert again.returncode == 0 and recap(again)["changed"] == 0
    state = json.loads(serving.file("/var/lib/englab-serving/state.json").content_string)
    assert state["current"] is None and state["previous"]["version"] == versions["champion"]
