"""Issue 15: a port the local platform publishes must be free, unless the platform's own container holds it.

The bad-input table shows a port held by a plain socket is refused; here, what a table row cannot show:
a re-run of an existing platform, whose own serving node publishes the port, passes the check, while
another platform (another prefix) wanting the same port is refused. The "platform" is one stand-in
container publishing the port, never started as a node (its command is sleep).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest
from conftest import VENV_BIN, docker, remove_docker_resources, run

pytestmark = pytest.mark.docker

PREFIX = "englab-inputs-own-"
OTHER = "englab-inputs-other-"
PORT = 47615


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def own_serving_node(docker_available: None) -> Iterator[str]:
    image = os.environ.get("ENGLAB_NODE_IMAGE", "englab/node:bookworm")
    remove_docker_resources(PREFIX)
    name = f"{PREFIX}serving-node"
    started = docker(
        "run",
        "--detach",
        "--name",
        name,
        "--publish",
        f"127.0.0.1:{PORT}:80",
        "--entrypoint",
        "sleep",
        image,
        "600",
    )
    assert started.returncode == 0, started.stderr
    yield name
    remove_docker_resources(PREFIX)


def preflight(prefix: str, env: dict[str, str]) -> tuple[int, str]:
    extra = {
        "mlops_name_prefix": prefix,
        "mlops_local_serving_port": PORT,
        "mlops_secrets_dir": "/nonexistent/x",
    }
    result = run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "englab.mlops.provision",
            *("--tags", "provision_preflight", "-e", json.dumps(extra)),
        ],
        env,
    )
    return result.rc, result.output


def test_own_port_passes_another_platforms_is_refused(
    own_serving_node: str, tool_env: dict[str, str]
) -> None:
    assert port_in_use(PORT), (
        "the stand-in container does not hold the port on 127.0.0.1 (no userland proxy?)"
    )
    rc, output = preflight(PREFIX, tool_env)
    assert rc == 0, output[-3000:]
    rc, output = preflight(OTHER, tool_env)
    assert rc != 0
    assert (
        f"mlops_local_serving_port must be a port free on the controller's 127.0.0.1 (or held by this platform's "
        f"own container), got {PORT}, which another process or platform holds. Nothing was changed."
    ) in output, output[-3000:]
    assert "Traceback" not in output
