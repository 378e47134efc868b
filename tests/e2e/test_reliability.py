"""Issue 9, reliability: faults the platform must survive on its own, measured on the real platform.

kill -9 of the MLflow server, a restart of the database container, a kill of the serving
container's process, and a restart of every node container followed by a site.yml run that is
killed halfway and then run again. Each test says what it waited for and fails past its limit.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from conftest import LOGS, PLAYBOOK_ENV, ROOT, Platform

# A snapshot of what users made: experiments, runs with their metrics and artifacts, model versions.
SNAPSHOT = """
import json
from mlflow import MlflowClient
c = MlflowClient()
exps = c.search_experiments()
runs = c.search_runs([e.experiment_id for e in exps], max_results=1000)
def files(run_id, path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out += files(run_id, f.path) if f.is_dir else [[f.path, f.file_size]]
    return out
print(json.dumps({
    "experiments": sorted(e.name for e in exps),
    "runs": sorted([r.info.run_id, r.info.status, sorted(r.data.metrics.items())] for r in runs),
    "artifacts": {r.info.run_id: sorted(files(r.info.run_id)) for r in runs},
    "versions": sorted([m.name, m.version, m.status, m.source]
                       for rm in c.search_registered_models() for m in c.search_model_versions(f"name='{rm.name}'")),
}))
"""

NEW_RUN = """
import json, mlflow
mlflow.set_experiment("englab-e2e-reliability")
with mlflow.start_run() as run:
    mlflow.log_metric("before_fault", 1.0)
print(json.dumps({"run_id": run.info.run_id}))
"""


def admin_session(platform: Platform) -> tuple[ssl.SSLContext, dict[str, str]]:
    """The platform CA's TLS context and the admin's request headers for the tracking API."""
    context = ssl.create_default_context(cafile=str(platform.secrets_dir / "tracking_ca.crt"))
    admin = platform.admin_password()
    headers = {
        "Authorization": "Basic " + base64.b64encode(f"admin:{admin}".encode()).decode(),
        "Content-Type": "application/json",
    }
    return context, headers


def tracking(platform: Platform, path: str, body: dict | None = None, timeout: float = 5) -> tuple[int, dict]:
    """One authenticated request to the tracking API through the published TLS port."""
    context, headers = admin_session(platform)
    request = urllib.request.Request(  # noqa: S310 https only
        f"{platform.tracking_url}/api/2.0/mlflow/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}
    except (urllib.error.URLError, OSError):
        return 0, {}


def wait_until(check: Callable[[], bool], limit: float, step: float = 0.25) -> float:
    """Seconds until check() held; fails the test past `limit`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > limit:
            pytest.fail(f"not back within {limit} s")
        time.sleep(step)
    return time.monotonic() - start


# Issue 9: after kill -9 of the MLflow server process the API answers again within 15 s.
# The tracking node runs tracking_server_instances (default 2) server instances behind nginx;
# nginx sends requests to the instance still up while systemd restarts the killed one. The
# restart itself (RestartSec, then the server and its workers import MLflow) took 30-70 s on
# this 2-core machine under load: that is what RESTART_LIMIT bounds.
API_LIMIT = 15
RESTART_LIMIT = 120


def test_tracking_answers_within_15_s_after_kill_9_of_a_server_with_no_run_lost(platform: Platform):
    run_id = platform.mlflow_client(NEW_RUN)["run_id"]
    unit = ("systemctl", "show", "--property", "MainPID", "--value", "englab-mlflow@5000.service")
    pid = platform.exec("tracking-node", *unit).stdout.strip()
    assert pid not in ("", "0")
    health = ("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:5000/health")
    start = time.monotonic()
    platform.exec("tracking-node", "kill", "-9", pid)
    # reads and writes through the published TLS port
    elapsed = wait_until(
        lambda: (
            tracking(platform, "experiments/search?max_results=1")[0] == 200
            and tracking(platform, "runs/create", {"experiment_id": "0"})[0] == 200
        ),
        API_LIMIT,
    )
    print(f"tracking API answered reads and writes {elapsed:.1f} s after kill -9 of a server instance")
    # the killed instance itself comes back by itself
    wait_until(
        lambda: (
            platform.exec("tracking-node", *unit).stdout.strip() not in (pid, "0")
            and platform.exec("tracking-node", *health, check=False).stdout == "200"
        ),
        RESTART_LIMIT,
        1,
    )
    print(f"the killed instance answered again {time.monotonic() - start:.1f} s after kill -9")
    status, found = tracking(platform, f"runs/get?run_id={run_id}")
    assert status == 200
    assert [m["key"] for m in found["run"]["data"]["metrics"]] == ["before_fault"]


def test_tracking_recovers_from_a_database_restart_without_a_manual_step(platform: Platform):
    run_id = platform.mlflow_client(NEW_RUN)["run_id"]
    subprocess.run(["docker", "restart", platform.node("englab-db")], check=True, capture_output=True)
    elapsed = wait_until(lambda: tracking(platform, "runs/create", {"experiment_id": "0"})[0] == 200, 120, 1)
    print(f"runs could be created again {elapsed:.1f} s after the database container restarted")
    statuses = [tracking(platform, f"runs/get?run_id={run_id}")[0] for _unused in range(20)]
    assert statuses == [200] * 20, "the tracking server still fails requests after recovering"


def write_burst(
    platform: Platform, clients: int, runs_per_client: int, experiment_id: str
) -> list[tuple[int, str]]:
    """`clients` threads at once, each on its own kept-alive HTTPS connection (as an MLflow client's
    session keeps one), sending what an MLflow client sends for a run (POST runs/create,
    runs/log-batch of 10 params, runs/update), `runs_per_client` times. Returns every answer that
    was not a 200, as (status, body)."""
    context, headers = admin_session(platform)
    host, port = platform.tracking_url.removeprefix("https://").split(":")
    start = threading.Barrier(clients)

    def runs(client: int) -> list[tuple[int, dict | str]]:
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=120)

        def post(path: str, body: dict) -> tuple[int, dict | str]:
            try:
                connection.request("POST", f"/api/2.0/mlflow/{path}", json.dumps(body), headers)
                response = connection.getresponse()
                text = response.read().decode(errors="replace")
            except (http.client.HTTPException, OSError) as err:
                connection.close()
                return 0, str(err)
            return (
                (response.status, json.loads(text))
                if response.status == 200
                else (response.status, text[:300])
            )

        start.wait()
        answers = []
        try:
            for run in range(runs_per_client):
                tags = [{"key": "englab.e2e.burst", "value": f"{client}-{run}"}]
                created = post("runs/create", {"experiment_id": experiment_id, "tags": tags})
                answers.append(created)
                if created[0] != 200:
                    continue
                run_id = created[1]["run"]["info"]["run_id"]
                # params, not metrics: the drill later reads every metric's history of every run
                params = [{"key": f"p{i}", "value": str(i)} for i in range(10)]
                answers.append(post("runs/log-batch", {"run_id": run_id, "params": params}))
                answers.append(post("runs/update", {"run_id": run_id, "status": "FINISHED"}))
        finally:
            connection.close()
        return answers

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        answers = [answer for client in pool.map(runs, range(clients)) for answer in client]
    return [(status, str(body)) for status, body in answers if status != 200]


# Two limits a burst of writes used to hit, measured with this burst (bench/RESULTS.md, session 15):
# - PostgreSQL's default max_connections of 100: MLflow's pools outgrew it and writes were refused
#   ("too many clients already", HTTP 503). database_max_connections is 400.
# - MLflow's own pool of 5 + 10 per engine: a request nests two sessions of one engine, so a burst
#   could leave all 15 held by requests waiting for their second, and one waited the pool's 30 s out
#   (HTTP 400 "QueuePool limit ... reached", 46 of 1152 writes in one burst of five). The tracking
#   server's pools may now grow to 80, twice the 40 threads a worker serves requests on.
BURST_CLIENTS = 128
BURST_RUNS = 3


def test_a_burst_of_128_concurrent_writers_gets_every_write_done(platform: Platform):
    status, created = tracking(platform, "experiments/create", {"name": f"englab-e2e-burst-{time.time_ns()}"})
    assert status == 200
    try:
        failed = write_burst(platform, BURST_CLIENTS, BURST_RUNS, created["experiment_id"])
    finally:
        tracking(platform, "experiments/delete", {"experiment_id": created["experiment_id"]})
    print(f"{3 * BURST_CLIENTS * BURST_RUNS} writes, {len(failed)} not answered 200")
    assert failed == [], failed[:3]


def test_serving_answers_again_within_15_s_after_its_container_is_killed(platform: Platform):
    """The serving node's scoring server killed: that node's proxy fails until its container is back
    within 15 s, and predictions through the load balancer keep answering from the other serving node
    meanwhile (issue 20)."""

    def served() -> dict:
        with urllib.request.urlopen(platform.serving_url + "/englab/version", timeout=5) as r:  # noqa: S310
            return json.loads(r.read())

    def predicts() -> bool:
        request = urllib.request.Request(  # noqa: S310 loopback http
            platform.serving_url + "/invocations", data=example, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def node_predicts() -> bool:
        """POST /invocations to the killed node's own proxy, from inside the node."""
        done = subprocess.run(
            ["docker", "exec", "-i", platform.node("serving-node"), "curl", "-s", "-o", "/dev/null",
             "-w", "%{http_code}", "--max-time", "5", "-H", "Content-Type: application/json",
             "--data-binary", "@-", "http://127.0.0.1/invocations"],
            input=example, capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        return done.stdout.strip() == b"200"

    with urllib.request.urlopen(platform.serving_url + "/englab/input-example", timeout=5) as r:  # noqa: S310
        example = r.read()
    container = f"englab-model-{served()['slot']}"
    inspect = ("docker", "inspect", "-f", "{{.State.Pid}} {{.RestartCount}}", container)
    pid, restarts = platform.exec("serving-node", *inspect).stdout.split()
    platform.exec("serving-node", "kill", "-9", pid)
    wait_until(lambda: not node_predicts(), 5, 0.05)  # it really went down
    answered = [predicts() for _unused in range(10)]
    elapsed = wait_until(node_predicts, 15)
    print(f"predictions came back {elapsed:.1f} s after the scoring server was killed")
    new_pid, new_restarts = platform.exec("serving-node", *inspect).stdout.split()
    assert new_pid != pid and int(new_restarts) == int(restarts) + 1
    assert all(answered), f"the load balancer failed {answered.count(False)} of 10 predictions meanwhile"


def test_restarted_nodes_and_an_interrupted_site_run_converge_with_nothing_lost(platform: Platform):
    before = platform.mlflow_client(SNAPSHOT)
    assert before["runs"] and before["versions"]
    nodes = [
        platform.node(n)
        for n in ("training-node", "tracking-node", "serving-node", "englab-db", "englab-repository")
    ]
    subprocess.run(["docker", "restart", *nodes], check=True, capture_output=True)

    # site.yml killed (SIGKILL, the controller lost) while it configures the serving node
    log = (LOGS / "site-interrupted.log").open("w")
    proc = subprocess.Popen(
        ["ansible-playbook", "englab.mlops.site", "-e", json.dumps(platform.extra_vars())],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=PLAYBOOK_ENV,
    )
    assert proc.stdout is not None
    reached = False
    for line in proc.stdout:
        log.write(line)
        if line.startswith("PLAY [Tracking server and serving node"):
            reached = True
        elif reached and line.startswith("TASK ["):
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    assert reached, "site.yml ended before the play of the tracking server and serving node"

    platform.playbook("englab.mlops.site", "site-after-interruption")
    after = platform.mlflow_client(SNAPSHOT)
    for key in ("experiments", "runs", "artifacts", "versions"):
        assert after[key] == before[key], f"{key} changed across restarts and an interrupted site run"
    with urllib.request.urlopen(platform.serving_url + "/englab/version", timeout=5) as r:  # noqa: S310
        assert json.loads(r.read())["version"] is not None
