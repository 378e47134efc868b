"""One platform for every end-to-end check.

The session fixture brings the local target up once with `englab.mlops.site`
under its own name prefix and ports (so it never touches a user's platform),
and removes it, data included, when the session ends. ENGLAB_E2E_KEEP=1 keeps
it for the next run (site.yml converges it again in seconds).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# tests/support: helpers shared with the other suites that run ansible-playbook.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.recap import parse_recap

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".cache" / "e2e"
# Overridable to point the checks at another platform (e.g. a developer's, with ENGLAB_E2E_KEEP=1).
PREFIX = os.environ.get("ENGLAB_E2E_PREFIX", "englab-e2e-")
TRACKING_PORT = int(os.environ.get("ENGLAB_E2E_TRACKING_PORT", "18443"))
SERVING_PORT = int(os.environ.get("ENGLAB_E2E_SERVING_PORT", "18080"))
# Issue 20: the platform serves from two serving nodes behind the serving load balancer, which
# publishes SERVING_PORT; every deploy and rollback of the suite rolls across both.
SERVING_NODES = 2
SERVING_NODE_NAMES = ("serving-node", *(f"serving-node-{i}" for i in range(2, SERVING_NODES + 1)))


# JSON results: a message stays on one line as written (the YAML format folds long lines and
# doubles single quotes), so tests can search for it.
PLAYBOOK_ENV = {
    **os.environ,
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
}


# Every registered version of every model, with its aliases and status (the client reads them all).
MODEL_VERSIONS = """
import json
from mlflow import MlflowClient
c = MlflowClient()
print(json.dumps(sorted(
    [m.name, v.version, v.status, sorted(v.aliases)]
    for m in c.search_registered_models() for v in c.search_model_versions(f"name='{m.name}'")
)))
"""


@dataclass
class Platform:
    prefix: str
    secrets_dir: Path
    tracking_url: str
    serving_url: str
    site_runs: list[subprocess.CompletedProcess] = field(default_factory=list)

    def node(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def extra_vars(self, **more: object) -> dict:
        base = {
            "mlops_target": "local",
            "mlops_name_prefix": self.prefix,
            "mlops_secrets_dir": str(self.secrets_dir),
            "mlops_local_tracking_port": TRACKING_PORT,
            "mlops_local_serving_port": SERVING_PORT,
            "mlops_serving_node_count": SERVING_NODES,
        }
        base.update(more)
        return base

    def playbook(
        self,
        name: str,
        log: str,
        check: bool = True,
        args: tuple[str, ...] = (),
        *,
        verbose: bool = False,
        **more: object,
    ) -> subprocess.CompletedProcess:
        # verbose is run_playbook's (-vv --diff), not an extra variable
        return run_playbook(name, self.extra_vars(**more), log, check=check, verbose=verbose, args=args)

    def snapshot(self) -> dict[str, str]:
        """What any run could change: the node containers (with their ids), volumes and networks of
        the platform, the serving node's model containers, images, state file and proxy site, the
        registry's stored manifests and tags, the registered model versions, and the secrets files."""

        def lines(*argv: str) -> str:
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            return "\n".join(sorted(out.splitlines()))

        name = f"name={self.prefix}"
        engine = ("docker", "ps", "-a", "--format", "{{.Names}} {{.ID}} {{.Image}} {{.State}}")
        return {
            "containers": lines(
                "docker",
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                name,
                "--format",
                "{{.Names}} {{.ID}} {{.Image}} {{.State}} {{.Ports}}",
            ),
            "volumes": lines("docker", "volume", "ls", "-q", "--filter", name),
            "networks": lines(
                "docker", "network", "ls", "--no-trunc", "--filter", name, "--format", "{{.Name}} {{.ID}}"
            ),
            "model containers": "\n".join(sorted(self.exec("serving-node", *engine).stdout.splitlines())),
            "images": "\n".join(
                sorted(
                    self.exec(
                        "serving-node",
                        "docker",
                        "images",
                        "--no-trunc",
                        "--format",
                        "{{.Repository}}:{{.Tag}} {{.ID}}",
                    ).stdout.splitlines()
                )
            ),
            "serving state": self.exec(
                "serving-node", "cat", "/var/lib/englab-serving/state.json", check=False
            ).stdout,
            "proxy site": self.exec(
                "serving-node", "sha256sum", "/etc/nginx/sites-available/englab-serving", check=False
            ).stdout,
            "registry": self.exec(
                "englab-repository",
                "find",
                "/var/lib/docker-registry",
                "-path",
                "*/_manifests/*",
                "-name",
                "link",
                "-printf",
                "%p %T@\n",
                check=False,
            ).stdout,
            "tracking config": self.exec(
                "tracking-node",
                "sh",
                "-c",
                "find /etc/englab-mlflow /etc/nginx/conf.d /etc/systemd/system -type f -exec sha256sum {} +;"
                " systemctl show -p Id,MainPID,ActiveEnterTimestamp 'englab-mlflow@*.service'",
                check=False,
            ).stdout,
            "model versions": json.dumps(self.mlflow_client(MODEL_VERSIONS)),
            "secrets": lines("find", str(self.secrets_dir), "-type", "f", "-printf", "%P %s %T@ %m\n"),
        }

    def exec(self, node: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "exec", self.node(node), *argv], capture_output=True, text=True, check=check
        )

    def exec_input(self, node: str, stdin: str, *argv: str) -> subprocess.CompletedProcess:
        """Like exec, with `stdin` on the command's standard input (how a secret reaches a command)."""
        return subprocess.run(
            ["docker", "exec", "-i", self.node(node), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )

    def admin_password(self) -> str:
        """The tracking admin's password, from the platform's secret store (a 0600 file here)."""
        return (self.secrets_dir / "tracking_admin").read_text().split()[0]

    def api_status(self, user: str, password: str) -> int:
        """Status of one authenticated read of the tracking API (it reads the database) as user,
        0 when no answer came."""
        context = ssl.create_default_context(cafile=str(self.secrets_dir / "tracking_ca.crt"))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 https only
            f"{self.tracking_url}/api/2.0/mlflow/experiments/search?max_results=1",
            headers={"Authorization": f"Basic {token}"},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as err:
            return err.code
        except (urllib.error.URLError, OSError):
            return 0

    def mlflow_client(self, code: str) -> object:
        """Run Python with the real MLflow client as the training user; return its JSON output."""
        out = self.exec(
            "training-node", "runuser", "-u", "mlops", "--", "/usr/local/bin/mlops-env", "python", "-c", code
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def run_playbook(
    name: str,
    extra_vars: dict,
    log: str,
    *,
    check: bool = True,
    verbose: bool = False,
    args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    LOGS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            "ansible-playbook",
            name,
            "-e",
            json.dumps(extra_vars),
            *(["-vv", "--diff"] if verbose else []),
            *args,
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=PLAYBOOK_ENV,
    )
    (LOGS / f"{log}.log").write_text(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        pytest.fail(f"{name} failed (rc={proc.returncode}); log {LOGS / log}.log\n{tail}")
    return proc


@pytest.fixture(scope="session")
def converged_site_run(platform: Platform) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """One plain site run on the converged platform, and every container exec the Docker engine saw
    meanwhile: test_site checks the run changed nothing, test_connection that it reached the nodes
    over SSH only (one warm site run for both)."""
    events = subprocess.Popen(
        ["docker", "events", "--filter", "type=container", "--filter", "event=exec_start",
         "--format", "{{json .}}"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list[dict] = []
    reader = threading.Thread(target=lambda: seen.extend(json.loads(line) for line in events.stdout))
    reader.start()
    try:
        run = platform.playbook("englab.mlops.site", "site-2")
    finally:
        events.terminate()
        reader.join(timeout=30)
    return run, seen


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked platform_rebuilt destroy and rebuild the platform: they run after all others."""
    items.sort(key=lambda item: item.get_closest_marker("platform_rebuilt") is not None)


def provision_then(file_name: str, play: dict) -> str:
    """A playbook (in LOGS) that provisions, so the contract's hosts exist, then runs `play` alone."""
    LOGS.mkdir(parents=True, exist_ok=True)
    path = LOGS / file_name
    path.write_text(json.dumps([{"ansible.builtin.import_playbook": "englab.mlops.provision"}, play]))
    return str(path)


def recap(proc: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    """Per-host PLAY RECAP counters of an ansible-playbook run."""
    return parse_recap(proc.stdout)


@pytest.fixture(scope="session")
def platform() -> Platform:
    secrets = Path(os.environ.get("ENGLAB_E2E_SECRETS", LOGS / "secrets"))
    secrets.mkdir(parents=True, exist_ok=True)
    secrets.chmod(0o700)
    plat = Platform(
        prefix=PREFIX,
        secrets_dir=secrets,
        tracking_url=f"https://127.0.0.1:{TRACKING_PORT}",
        serving_url=f"http://127.0.0.1:{SERVING_PORT}",
    )
    # -vv --diff: the security checks search this output for every generated secret.
    plat.site_runs.append(plat.playbook("englab.mlops.site", "site-1", verbose=True))
    yield plat
    if os.environ.get("ENGLAB_E2E_KEEP") != "1":
        plat.playbook("englab.mlops.destroy", "destroy", mlops_destroy_data=True)
