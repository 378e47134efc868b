"""Issue 16: model containers on the serving node cannot reach the metadata server.

On Google Cloud 169.254.169.254 hands the node's service-account token to whoever asks, and a
model is code (MLflow loads pickles). The serving node's Docker engine rejects what its
containers send to docker_engine_blocked_destinations (default the link-local range) from the
DOCKER-USER chain, through the ENGLAB-EGRESS chain, installed before every start of dockerd.
No traffic is ever sent to 169.254.169.254 here: the path a container's packets take is proven
with a harmless address the test blocks for a moment (the tracking node's HTTPS port).
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from conftest import Platform, provision_then, recap

LINK_LOCAL_RULE = "-A ENGLAB-EGRESS -d 169.254.0.0/16 -j REJECT"
JUMP = "-A DOCKER-USER -j ENGLAB-EGRESS"
# What a model container runs: a TCP connection, and how it ended.
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10).close()
    print("connected")
except OSError as error:
    print(type(error).__name__)
"""


def engine_only() -> str:
    """A playbook that converges the serving node's Docker engine alone, as the serving_node role does."""
    return provision_then(
        "serving-engine-only.yml",
        {
            "name": "Serving node's Docker engine only",
            "hosts": "serving",
            "gather_facts": True,
            "tasks": [
                {
                    "name": "Docker engine",
                    "ansible.builtin.include_role": {
                        "name": "englab.mlops.serving_node",
                        "tasks_from": "engine",
                    },
                }
            ],
        },
    )


def rules(platform: Platform, chain: str) -> list[str]:
    return platform.exec("serving-node", "iptables", "-S", chain).stdout.splitlines()


def model_container(platform: Platform) -> dict:
    """docker inspect of the model container that serves now."""
    slot = json.loads(
        subprocess.run(
            ["curl", "-sf", platform.serving_url + "/englab/version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["slot"]
    out = platform.exec("serving-node", "docker", "inspect", f"englab-model-{slot}").stdout
    return json.loads(out)[0]


def connect_from_model_image(platform: Platform, model: dict, address: str, port: int) -> str:
    """A container of the served model's image, started as the role starts it (same engine, default
    bridge, same cgroup namespace mode), connects to address:port. `docker exec` into the running
    one fails on nested engines of cgroup v1 hosts, so a sibling runs the check."""
    cgroupns = model["HostConfig"].get("CgroupnsMode") or ""
    argv = ["docker", "run", "--rm", "--entrypoint", "/opt/mlflow/bin/python"]
    argv += ["--cgroupns", cgroupns] if cgroupns else []
    out = platform.exec("serving-node", *argv, model["Config"]["Image"], "-c", CONNECT, address, str(port))
    return out.stdout.strip().splitlines()[-1]


def packets(platform: Platform, destination: str) -> int:
    """Packet counter of the ENGLAB-EGRESS rule that rejects `destination`."""
    listing = platform.exec("serving-node", "iptables", "-L", "ENGLAB-EGRESS", "-v", "-x", "-n").stdout
    for line in listing.splitlines():
        fields = line.split()
        if "REJECT" in fields and destination in fields:
            return int(fields[0])
    pytest.fail(f"no REJECT rule for {destination} in ENGLAB-EGRESS:\n{listing}")


def test_the_serving_engine_rejects_link_local_from_docker_user_first(platform: Platform):
    user = rules(platform, "DOCKER-USER")
    assert JUMP in user, user
    # before dockerd's own RETURN, or the chain would never be reached
    assert user.index(JUMP) < user.index("-A DOCKER-USER -j RETURN"), user
    assert any(rule.startswith(LINK_LOCAL_RULE) for rule in rules(platform, "ENGLAB-EGRESS"))
    # and FORWARD, the path of every packet a container sends off the node, enters DOCKER-USER
    assert "-A FORWARD -j DOCKER-USER" in rules(platform, "FORWARD")


def test_the_rules_come_back_with_dockerd_in_a_fresh_network_namespace(platform: Platform):
    """A reboot (a new network namespace on the local target) starts with no rule at all: remove
    ours, restart dockerd, and the drop-in's ExecStartPre has put them back before it runs."""
    platform.exec("serving-node", "iptables", "-D", "DOCKER-USER", "-j", "ENGLAB-EGRESS")
    platform.exec("serving-node", "iptables", "-F", "ENGLAB-EGRESS")
    platform.exec("serving-node", "iptables", "-X", "ENGLAB-EGRESS")
    assert JUMP not in rules(platform, "DOCKER-USER")
    platform.exec("serving-node", "systemctl", "restart", "docker")
    assert platform.exec("serving-node", "systemctl", "is-active", "docker").stdout.strip() == "active"
    user = rules(platform, "DOCKER-USER")
    assert JUMP in user and user.index(JUMP) < user.index("-A DOCKER-USER -j RETURN"), user
    assert any(rule.startswith(LINK_LOCAL_RULE) for rule in rules(platform, "ENGLAB-EGRESS"))
    # live-restore: the model kept serving through the restart
    deadline = time.monotonic() + 60
    while subprocess.run(
        ["curl", "-sf", platform.serving_url + "/englab/version"], check=False, capture_output=True
    ).returncode:
        assert time.monotonic() < deadline, "serving did not answer within 60 s of the dockerd restart"
        time.sleep(1)


def test_a_model_containers_traffic_takes_the_chain(platform: Platform):
    """Blocking the tracking node's address for a moment cuts a model container off from it: the
    connection that worked is refused, and the rule counted the packets."""
    model = model_container(platform)
    tracking_ip = subprocess.run(
        [
            "docker",
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            platform.node("tracking-node"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    assert re.fullmatch(r"[0-9.]+", tracking_ip)
    assert connect_from_model_image(platform, model, tracking_ip, 443) == "connected"
    try:
        blocked = platform.playbook(
            engine_only(),
            "egress-block",
            docker_engine_blocked_destinations=[tracking_ip],
        )
        assert recap(blocked)[platform.node("serving-node")]["changed"] >= 1
        assert f"-A ENGLAB-EGRESS -d {tracking_ip}/32 -j REJECT" in " ".join(rules(platform, "ENGLAB-EGRESS"))
        before = packets(platform, f"{tracking_ip}")
        assert connect_from_model_image(platform, model, tracking_ip, 443) == "ConnectionRefusedError"
        assert packets(platform, f"{tracking_ip}") > before
        # the serving node itself (not a container) still reaches it: the rule is for containers only
        node = platform.exec("serving-node", "python3", "-c", CONNECT, tracking_ip, "443")
        assert node.stdout.strip() == "connected"
    finally:
        restored = platform.playbook(engine_only(), "egress-restore")
    assert recap(restored)[platform.node("serving-node")]["changed"] >= 1
    assert not any(tracking_ip in rule for rule in rules(platform, "ENGLAB-EGRESS"))
    assert any(rule.startswith(LINK_LOCAL_RULE) for rule in rules(platform, "ENGLAB-EGRESS"))
    assert connect_from_model_image(platform, model, tracking_ip, 443) == "connected"
