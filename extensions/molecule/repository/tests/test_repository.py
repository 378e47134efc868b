"""The repository role on its own: a registry over TLS from the platform CA that refuses
anonymous and wrong logins, takes a push from its user and serves it back, and is
converged again without a package install or a file write."""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm_converge

NODE = "molecule-repository-node"
CA_ON_NODE = "/etc/docker/registry/tls/ca.crt"
testinfra_hosts = [NODE]


def secret(name: str) -> str:
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / name).read_text().strip()


def push(user: str, password: str) -> subprocess.CompletedProcess:
    script = (Path(__file__).parent / "registry_push.py").read_text()
    return subprocess.run(
        [
            "docker",
            "exec",
            "-e",
            "REGISTRY_USER",
            "-e",
            "REGISTRY_PASSWORD",
            NODE,
            "python3",
            "-c",
            script,
            "https://localhost:5000",
            CA_ON_NODE,
            "englab/probe",
        ],
        env={**os.environ, "REGISTRY_USER": user, "REGISTRY_PASSWORD": password},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_registry_runs_and_is_enabled(host):
    service = host.service("docker-registry")
    assert service.is_running and service.is_enabled


def test_certificate_is_the_platform_cas_and_names_the_node(host):
    chain = host.run(f"openssl verify -CAfile {CA_ON_NODE} /etc/docker/registry/tls/server.crt")
    assert chain.rc == 0, chain.stderr
    names = host.check_output(
        "openssl x509 -noout -ext subjectAltName -in /etc/docker/registry/tls/server.crt"
    )
    assert "DNS:molecule-repository-node" in names and "DNS:localhost" in names
    key = host.file("/etc/docker/registry/tls/server.key")
    assert key.mode == 0o640 and key.group == "docker-registry"
    assert (
        host.file(CA_ON_NODE).content_string
        == (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "tracking_ca.crt").read_text()
    )


def test_anonymous_and_wrong_logins_are_refused(host):
    anonymous = host.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {CA_ON_NODE} https://localhost:5000/v2/"
    )
    assert anonymous.stdout == "401"
    wrong = push("englab", "not-the-password")
    assert wrong.returncode != 0 and "401" in wrong.stderr


def test_htpasswd_is_private_bcrypt_at_cost_5_and_an_authenticated_request_is_fast(host):
    """The registry checks the password on every request: at bcrypt cost 12 each took 250 ms
    (3 s of a push that only checks which layers the registry has), at cost 5 a few ms."""
    htpasswd = host.file("/etc/docker/registry/htpasswd")
    assert htpasswd.mode == 0o640 and htpasswd.user == "root" and htpasswd.group == "docker-registry"
    assert [line.split(":", 1)[1][:7] for line in htpasswd.content_string.splitlines()] == ["$2b$05$"]
    timed = subprocess.run(
        ["docker", "exec", "-i", NODE, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
         "--cacert", CA_ON_NODE, "-K", "-", "https://localhost:5000/v2/"],
        input=f'user = "englab:{secret("repository_user_englab")}"\n',
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    assert timed[0] == "200"
    print(f"an authenticated request took {float(timed[1]) * 1000:.0f} ms")


def test_its_user_pushes_an_image_and_pulls_it_back():
    done = push("englab", secret("repository_user_englab"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["pushed"] == report["pulled"]
    assert "englab/probe" in report["catalog"]


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    assert warm_converge.fast_path_taken(results, NODE) == []
