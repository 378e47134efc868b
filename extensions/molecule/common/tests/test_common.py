"""State the common role must leave on every node, checked on the node itself."""

import sys
from pathlib import Path

import pytest

BASE_PACKAGES = [
    "ca-certificates",
    "curl",
    "python3-venv",
    "sudo",
    "unattended-upgrades",
    "systemd-timesyncd",
]


@pytest.mark.parametrize("name", BASE_PACKAGES)
def test_base_package_installed(host, name):
    assert host.package(name).is_installed


def test_journald_limits_applied(host):
    conf = host.file("/etc/systemd/journald.conf.d/50-englab.conf")
    assert conf.mode == 0o644
    assert "SystemMaxUse=256M" in conf.content_string
    # journald really runs with the drop-in: it reports the effective limit.
    assert host.service("systemd-journald").is_running
    out = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=256M" in out


def test_unattended_security_upgrades(host):
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    # apt itself resolves the merged configuration and sees the security origin.
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "label=Debian-Security" in dump
    timer = host.service("apt-daily-upgrade.timer")
    assert timer.is_enabled
    assert timer.is_running
    # unattended-upgrades accepts the configuration (dry run, no network needed
    # beyond the already-fetched lists; exit 0 means the config parsed).
    host.run_expect([0], "unattended-upgrade --dry-run -d 2>&1 | grep -q 'Allowed origins are'")


def test_timesync_enabled(host):
    assert host.service("systemd-timesyncd").is_enabled


def test_extra_ca_trusted(host):
    """Every CA the controller added locally is in the node's system store and pip uses it."""
    installed = host.file("/usr/local/share/ca-certificates/englab")
    assert installed.is_directory
    crts = host.check_output("ls /usr/local/share/ca-certificates/englab").split()
    for crt in crts:
        fingerprint = host.check_output(
            f"openssl x509 -noout -fingerprint -sha256 -in /usr/local/share/ca-certificates/englab/{crt}"
        )
        assert fingerprint
        # the certificate is part of the bundle update-ca-certificates produced
        pem = host.file(f"/usr/local/share/ca-certificates/englab/{crt}").content_string.strip()
        body = "".join(pem.splitlines()[1:-1])[:64]
        assert body in host.file("/etc/ssl/certs/ca-certificates.crt").content_string.replace("\n", "")
    assert "cert = /etc/ssl/certs/ca-certificates.crt" in host.file("/etc/pip.conf").content_string


# The warm converge, judged from each module's result (extensions/molecule/warm_converge.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm_converge  # noqa: E402


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    assert warm_converge.fast_path_taken(results, "molecule-common-node") == []
