"""docker_engine: the engine runs with the merged daemon.json, a listed user may use it, a registry CA is trusted,
containers are kept away from the blocked destinations."""

from __future__ import annotations

import json
import os
import sys

REGISTRY = "registry.example.internal:5000"
CA = os.path.join(os.path.dirname(__file__), "..", "files", "registry-ca.crt")


def test_engine_from_the_distribution_is_running_and_enabled(host):
    assert host.package("docker.io").is_installed
    assert not host.package("docker-ce").is_installed
    docker = host.service("docker")
    assert docker.is_running and docker.is_enabled


def test_daemon_json_is_the_defaults_merged_with_the_options(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    # defaults kept, nested options merged over them key by key, new keys added
    assert daemon["live-restore"] is True
    assert daemon["log-driver"] == "json-file"
    assert daemon["log-opts"] == {"max-size": "20m", "max-file": "5"}
    assert daemon["default-address-pools"] == [{"base": "10.213.0.0/16", "size": 24}]


def test_the_running_engine_applied_the_options(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LiveRestoreEnabled"] is True
    assert info["LoggingDriver"] == "json-file"
    assert info["Driver"] == "overlay2"


def test_listed_user_uses_the_engine_without_root(host):
    assert "docker" in host.user("builder").groups
    assert host.run("runuser -u builder -- docker version --format '{{.Server.Version}}'").rc == 0
    # a user who is not listed is refused by the socket's permissions
    assert host.run("runuser -u nobody -s /bin/sh -- -c 'docker version'").rc != 0


def test_registry_ca_is_trusted_per_registry(host):
    trusted = host.file(f"/etc/docker/certs.d/{REGISTRY}/ca.crt")
    assert trusted.mode == 0o644
    with open(CA) as handle:
        assert trusted.content_string == handle.read()


EGRESS_RULES = ("-A ENGLAB-EGRESS -d 169.254.0.0/16 -j REJECT", "-A ENGLAB-EGRESS -d 192.0.2.0/24 -j REJECT")


def egress_in_place(host) -> bool:
    user = host.check_output("iptables -S DOCKER-USER").splitlines()
    chain = host.check_output("iptables -S ENGLAB-EGRESS")
    return (
        "-A DOCKER-USER -j ENGLAB-EGRESS" in user
        and user.index("-A DOCKER-USER -j ENGLAB-EGRESS") < user.index("-A DOCKER-USER -j RETURN")
        and all(rule in chain for rule in EGRESS_RULES)
    )


def test_containers_are_kept_away_from_link_local_and_the_listed_range(host):
    assert egress_in_place(host)
    assert host.file("/etc/systemd/system/docker.service.d/englab-egress.conf").contains(
        "^ExecStartPre=/usr/local/libexec/englab-docker-egress$"
    )


def test_dockerd_puts_the_rules_back_before_it_starts(host):
    # a reboot starts from an empty ruleset: remove ours, restart dockerd, they are back
    host.check_output(
        "iptables -D DOCKER-USER -j ENGLAB-EGRESS && iptables -F ENGLAB-EGRESS && iptables -X ENGLAB-EGRESS"
    )
    assert host.run("iptables -S ENGLAB-EGRESS").rc != 0
    host.check_output("systemctl restart docker")
    assert egress_in_place(host)
    assert host.check_output("/usr/local/libexec/englab-docker-egress") == "unchanged"


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    import warm_converge  # noqa: PLC0415 - the scenarios' shared helper, beside them

    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    assert warm_converge.fast_path_taken(results, "molecule-docker-engine-node") == []
