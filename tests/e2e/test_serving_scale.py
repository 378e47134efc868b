"""Issue 20: the e2e platform serves from two serving nodes behind the serving load balancer
(HAProxy in <prefix>serving-lb, published on the serving port). Predictions reach every node;
a serving node that stops leaves predictions answering, under load, and the next site.yml brings
it back into the load balancer. Deploy and rollback under load across both nodes are the rollout
tests of test_serving.py (run with SERVING_NODES nodes)."""

from __future__ import annotations

import collections
import json
import subprocess
import time

from conftest import SERVING_NODE_NAMES, SERVING_NODES, Platform, recap
from test_serving import http, served, under_load


def test_the_platform_runs_every_serving_node_behind_one_load_balancer(platform: Platform):
    assert SERVING_NODES >= 2
    names = platform_containers(platform)
    assert {platform.node(n) for n in (*SERVING_NODE_NAMES, "serving-lb")} <= names
    # Only the load balancer publishes the serving port; the serving nodes publish nothing.
    for node in SERVING_NODE_NAMES:
        ports = json.loads(docker_inspect(platform.node(node)))[0]["HostConfig"]["PortBindings"] or {}
        assert ports == {}, (node, ports)


def test_predictions_are_spread_over_every_serving_node_which_all_serve_one_version(platform: Platform):
    version = served(platform)
    for node in SERVING_NODE_NAMES:
        on_node = json.loads(platform.exec(node, "curl", "-sS", "http://127.0.0.1/englab/version").stdout)
        assert on_node == version, node
    status, _unused, example = http(platform.serving_url + "/englab/input-example")
    assert status == 200
    answered = collections.Counter()
    for _unused in range(40):
        code, headers, body = http(platform.serving_url + "/invocations", example)
        assert code == 200, body[:300]
        assert headers.get("X-Model-Version") == version["version"]
        answered[headers.get("X-Serving-Node")] += 1
    assert set(answered) == {platform.node(n) for n in SERVING_NODE_NAMES}, answered


def test_a_stopped_serving_node_leaves_predictions_answering_and_site_brings_it_back(platform: Platform):
    gone = platform.node(SERVING_NODE_NAMES[-1])

    def stop_one() -> float:
        subprocess_run(["docker", "stop", gone])
        stopped = time.monotonic()
        time.sleep(8)  # the load balancer's checks (1 s, 2 failures) take it out meanwhile
        return stopped

    results, stopped = under_load(platform, stop_one)
    assert len(results) > 50, f"the clients sent only {len(results)} requests"
    assert [r for r in results if r[1] != 200] == [], [r for r in results if r[1] != 200][:5]
    assert {r[4] for r in results if r[0] < stopped} >= {gone}, "the node stopped was not serving before"
    assert {r[4] for r in results if r[0] > stopped + 3} == {platform.node(SERVING_NODE_NAMES[0])}

    run = platform.playbook("englab.mlops.site", "site-node-back")
    counters = recap(run)
    assert counters["localhost"]["changed"] >= 1  # the node's container started again
    assert json.loads(docker_inspect(gone))[0]["State"]["Running"]
    version = served(platform)
    back = json.loads(
        platform.exec(SERVING_NODE_NAMES[-1], "curl", "-sS", "http://127.0.0.1/englab/version").stdout
    )
    assert back == version
    # Back in the load balancer: it answers predictions again within its rise checks.
    status, _unused, example = http(platform.serving_url + "/englab/input-example")
    assert status == 200
    deadline = time.monotonic() + 30
    nodes: set[str] = set()
    while time.monotonic() < deadline and gone not in nodes:
        code, headers, _body = http(platform.serving_url + "/invocations", example)
        assert code == 200
        nodes.add(headers.get("X-Serving-Node"))
    assert gone in nodes, nodes


def platform_containers(platform: Platform) -> set[str]:
    out = subprocess_run(["docker", "ps", "--format", "{{.Names}}", "--filter", f"name=^{platform.prefix}"])
    return set(out.split())


def docker_inspect(name: str) -> str:
    return subprocess_run(["docker", "inspect", name])


def subprocess_run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
