"""Issue 15, point 5, on the running platform: `--check` reports what a run would do and changes
nothing. Every test compares Platform.snapshot() (node containers with their ids, volumes, networks,
the serving node's containers, images, state file and proxy site, the registry's tags, the
registered model versions, the secrets files) before and after.

deploy, rollback and undeploy under --check are in test_serving.py, at the points of its sequence
where a new version exists and a previous one is recorded.
"""

from __future__ import annotations

import pytest
from conftest import Platform, recap

pytestmark = pytest.mark.e2e

CHECK = ("--check", "--diff")


def changes_nothing(platform: Platform, entry: str, log: str, **variables: object) -> tuple[dict, str]:
    """Run `entry` under --check --diff (it must end well, without a traceback) and assert that the
    platform's snapshot is the same after it; return its recap counters and output."""
    before = platform.snapshot()
    run = platform.playbook(entry, log, args=CHECK, **variables)
    output = run.stdout + run.stderr
    assert "Traceback" not in output
    assert platform.snapshot() == before
    return recap(run), output


def test_site_check_on_the_converged_platform_reports_no_change(platform: Platform):
    counters, output = changes_nothing(platform, "englab.mlops.site", "site-check")
    # every node was looked at (a play that matched no host would "pass" without checking anything)
    for node in ("training-node", "tracking-node", "serving-node", "englab-db", "englab-repository"):
        assert counters[platform.node(node)]["ok"] > 0, output[-3000:]
    assert {host: c["changed"] for host, c in counters.items() if c["changed"]} == {}, output[-4000:]


def test_provision_check_of_a_new_port_shows_the_node_recreated_and_changes_nothing(platform: Platform):
    """The crash of issue 15: a node container that would change made provision --check fail on
    the systemd wait ("object of type 'dict' has no attribute 'stdout'")."""
    counters, output = changes_nothing(
        platform,
        "englab.mlops.provision",
        "provision-check-port",
        # a free port other than the platform's: the serving node would be recreated on it
        mlops_local_serving_port=27999,
    )
    assert counters["localhost"]["changed"] >= 1, output[-3000:]
    assert "27999" in output, "the diff does not show the new port"


def test_site_check_of_changed_settings_reports_them_and_changes_nothing(platform: Platform):
    """Settings that would rewrite the tracking server's units and the serving proxy: the nodes that
    would change say so, and their files and running processes stay as they are."""
    counters, output = changes_nothing(
        platform,
        "englab.mlops.site",
        "site-check-changed",
        tracking_server_workers=3,
        tracking_server_auth_cache_ttl_seconds=30,
        serving_node_max_body_size="30m",
    )
    assert counters[platform.node("tracking-node")]["changed"] >= 1, output[-4000:]
    assert counters[platform.node("serving-node")]["changed"] >= 1, output[-4000:]
