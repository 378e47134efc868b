"""Issue 15, point 5, on a platform that does not exist: `--check` of provision and of site on the
local target says what would be created, ends well, and creates nothing: no container, network or
volume of the platform's prefix, no secrets directory, no key.

(The same on the gcp target is in test_provision_terraform.py; on a running platform, in
tests/e2e/test_check_mode.py and tests/e2e/test_serving.py.)
"""

from __future__ import annotations

import pytest
from conftest import docker_names, recap, remove_docker_resources

pytestmark = pytest.mark.docker

PREFIX = "englab-chkmode-"


@pytest.fixture
def new_platform(docker_available, tmp_path):
    remove_docker_resources(PREFIX)
    yield {
        "mlops_name_prefix": PREFIX,
        "mlops_secrets_dir": str(tmp_path / "secrets"),
        # ports nobody holds here, so the preflight's held-port check passes
        "mlops_local_tracking_port": 28643,
        "mlops_local_serving_port": 28280,
    }
    remove_docker_resources(PREFIX)


@pytest.mark.parametrize("entry", ["englab.mlops.provision", "englab.mlops.site"])
def test_check_of_a_new_local_platform_creates_nothing(playbook, new_platform, tmp_path, entry):
    result = playbook(entry, new_platform, "--check", "--diff")
    assert result.rc == 0, result.output[-4000:]
    assert "Traceback" not in result.output
    counters = recap(result)
    # provision shows what it would create ...
    assert counters["localhost"]["changed"] >= 1, result.output[-3000:]
    assert f"Check mode: {PREFIX}training-node, {PREFIX}tracking-node" in result.output
    # ... and, with no node to look at, no play after it reaches a host
    assert set(counters) == {"localhost"}, counters
    for kind in ("container", "network", "volume"):
        assert docker_names(kind, PREFIX) == set(), kind
    assert not (tmp_path / "secrets").exists()
