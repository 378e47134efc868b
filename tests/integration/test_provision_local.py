"""The local driver: containers through community.docker, the contract groups, idempotence,
destroy that keeps data unless asked, and data surviving a destroy/provision cycle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PREFIX, REPO, docker, docker_names, recap, remove_docker_resources

pytestmark = pytest.mark.docker

PROVISION = REPO / "playbooks" / "provision.yml"
DESTROY = REPO / "playbooks" / "destroy.yml"
NODES = ("training-node", "tracking-node", "serving-node", "englab-db", "englab-repository")
VOLUMES = ("englab-mlflow-data", "englab-serving-docker", "englab-db-data", "englab-registry-data")
TRACKING_PORT = 28443
SERVING_PORT = 28080


@pytest.fixture(scope="module")
def local_vars(docker_available, tmp_path_factory):
    remove_docker_resources(PREFIX)
    yield {
        "mlops_target": "local",
        "mlops_name_prefix": PREFIX,
        "mlops_secrets_dir": str(tmp_path_factory.mktemp("local") / "secrets"),
        "mlops_local_tracking_port": TRACKING_PORT,
        "mlops_local_serving_port": SERVING_PORT,
    }
    remove_docker_resources(PREFIX)


def exec_in(container: str, script: str):
    return docker("exec", f"{PREFIX}{container}", "sh", "-c", script)


def test_local_platform_lifecycle(local_vars, playbook):
    first = playbook(PROVISION, local_vars)
    assert first.rc == 0, first.output
    counts = recap(first)
    for node in NODES:
        # Every node answered ping through the contract's docker connection.
        assert counts[f"{PREFIX}{node}"]["ok"] == 1, first.stdout
        assert counts[f"{PREFIX}{node}"]["unreachable"] == 0
    assert docker_names("container") == {f"{PREFIX}{node}" for node in (*NODES, "serving-lb")}
    assert docker_names("network") == {f"{PREFIX}englab-vpc"}
    assert docker_names("volume") == {f"{PREFIX}{volume}" for volume in VOLUMES}

    tracking = json.loads(docker("inspect", f"{PREFIX}tracking-node").stdout)[0]
    host_config = tracking["HostConfig"]
    assert host_config["Privileged"] is False
    assert {cap.removeprefix("CAP_") for cap in host_config["CapAdd"]} == {"NET_ADMIN", "SYS_ADMIN"}
    assert set(host_config["SecurityOpt"]) == {"seccomp=unconfined", "apparmor=unconfined"}
    assert set(host_config["Tmpfs"]) == {"/run", "/run/lock", "/tmp"}  # noqa: S108
    assert "/sys/fs/cgroup:/sys/fs/cgroup:rw" in host_config["Binds"]
    assert host_config["CgroupnsMode"] == "host"
    assert host_config["PortBindings"] == {
        "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(TRACKING_PORT)}]
    }
    # Issue 20: the serving load balancer publishes the serving port, the serving node nothing.
    serving = json.loads(docker("inspect", f"{PREFIX}serving-node").stdout)[0]
    assert serving["HostConfig"]["PortBindings"] == {}
    balancer = json.loads(docker("inspect", f"{PREFIX}serving-lb").stdout)[0]
    assert balancer["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(SERVING_PORT)}]
    }
    assert exec_in("training-node", "systemctl is-system-running").stdout.strip() in {"running", "degraded"}
    # Nodes reach each other by container name on the platform network.
    assert exec_in("training-node", f"getent hosts {PREFIX}tracking-node").returncode == 0

    second = playbook(PROVISION, local_vars)
    assert second.rc == 0, second.output
    assert all(host["changed"] == 0 for host in recap(second).values()), second.stdout

    scale_out_and_back(local_vars, playbook)

    assert exec_in("tracking-node", "echo artifact-42 > /var/lib/mlflow/marker").returncode == 0
    assert exec_in("englab-db", "echo row-42 > /var/lib/postgresql/marker").returncode == 0

    destroyed = playbook(DESTROY, local_vars)
    assert destroyed.rc == 0, destroyed.output
    assert docker_names("container") == set()
    assert docker_names("network") == set()
    assert docker_names("volume") == {f"{PREFIX}{volume}" for volume in VOLUMES}

    again = playbook(PROVISION, local_vars)
    assert again.rc == 0, again.output
    assert exec_in("tracking-node", "cat /var/lib/mlflow/marker").stdout.strip() == "artifact-42"
    assert exec_in("englab-db", "cat /var/lib/postgresql/marker").stdout.strip() == "row-42"

    wiped = playbook(DESTROY, {**local_vars, "mlops_destroy_data": True})
    assert wiped.rc == 0, wiped.output
    assert docker_names("container") == set()
    assert docker_names("network") == set()
    assert docker_names("volume") == set()


def scale_out_and_back(local_vars, playbook) -> None:
    """A second serving node joins the load balancer; lowered again, it is drained and removed with
    its Docker engine's volume."""
    wider = playbook(PROVISION, {**local_vars, "mlops_serving_node_count": 2})
    assert wider.rc == 0, wider.output
    assert f"{PREFIX}serving-node-2" in docker_names("container")
    assert f"{PREFIX}englab-serving-2-docker" in docker_names("volume")
    config = docker("exec", f"{PREFIX}serving-lb", "cat", "/usr/local/etc/haproxy/haproxy.cfg").stdout
    assert f"server {PREFIX}serving-node-2 {PREFIX}serving-node-2:80" in config
    # Not naming the number keeps the platform's own, counted from its containers: nothing is scaled
    # down, whatever a controller file says (the record kept before 1.2, here a stale 1, goes).
    record = Path(local_vars["mlops_secrets_dir"]) / "serving_node_count"
    record.write_text("1\n")
    kept = playbook(PROVISION, local_vars)
    assert kept.rc == 0, kept.output
    assert recap(kept)["localhost"]["changed"] == 1, kept.stdout  # the record's removal, nothing else
    assert all(host["changed"] == 0 for name, host in recap(kept).items() if name != "localhost"), kept.stdout
    assert not record.exists()
    assert f"{PREFIX}serving-node-2" in docker_names("container")
    narrower = playbook(PROVISION, {**local_vars, "mlops_serving_node_count": 1})
    assert narrower.rc == 0, narrower.output
    assert f"{PREFIX}serving-node-2" not in docker_names("container")
    assert f"{PREFIX}englab-serving-2-docker" not in docker_names("volume")
    config = docker("exec", f"{PREFIX}serving-lb", "cat", "/usr/local/etc/haproxy/haproxy.cfg").stdout
    assert "serving-node-2" not in config
