"""Tracking server, layer by layer (issue #21 goal 5): what each layer of our deployment
costs in throughput and server CPU, side by side in one run against a kept platform.

The same load as bench/tracking_load.py (runs/create, runs/log-batch, runs/update per
iteration) against, from the bare server up to what users reach:

  stock       stock `mlflow server` on the host, its defaults: SQLite, 4 workers, no auth
  pg          `mlflow server --workers 4` in the tracking node, on our PostgreSQL, no auth
  pg+auth     the same with our basic-auth app and its configuration (as the training user)
  nginx       nginx in plain HTTP in front of our instances (2 x 2 workers), the auth app
  nginx+tls   nginx with TLS, as deployed, reached at the node's address
  ours        the same through the published port (the host's docker-proxy): what users reach

The extra servers run in the tracking node as transient systemd units with the
production unit's user, environment files and arguments (only host, port and workers
differ); the plain-HTTP nginx listener is a drop-in file. Both are removed at the end.
Targets on the node's address send `Host: 127.0.0.1`, which the published port's requests
carry too (the server's allowed hosts). Server CPU is the tracking node's and the database
node's containers (plus the docker-proxy for `ours`; stock: its own process group).

    .cache/bench-venv/bin/python bench/tracking_layers.py --prefix benchd- \\
        --url https://127.0.0.1:38543 --secrets .cache/bench/deploy/secrets
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from loadgen import (
    StockServer,
    Target,
    container_cpu,
    free_port,
    http_ok,
    make_session_factory,
    print_levels,
    server_side_meter,
    sum_meters,
    write_json,
)
from tracking_load import bench

UNIT_PREFIX = "englab-bench-layer-"
HTTP_PORT = 8081
NGINX_DROPIN = "/etc/nginx/conf.d/englab-bench-layers.conf"


def docker(*argv: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, check=False, timeout=120)
    if check and done.returncode != 0:
        raise SystemExit(f"docker {' '.join(argv[:4])} ...: {done.stderr.strip()[-500:]}")
    return done.stdout


def unit_property(node: str, unit: str, name: str) -> str:
    return docker("exec", node, "systemctl", "show", "--value", "-p", name, unit).strip()


def production_argv(node: str, unit: str) -> list[str]:
    """The production unit's ExecStart argv, from `systemctl show` ({ path=... ; argv[]=... ; ...})."""
    text = unit_property(node, unit, "ExecStart")
    start = text.index("argv[]=") + len("argv[]=")
    return text[start : text.index(" ;", start)].split()


def production_unit(node: str) -> tuple[list[str], dict]:
    """The first instance's ExecStart argv, and its environment files, environment and user."""
    unit = "englab-mlflow@5000.service"
    files = unit_property(node, unit, "EnvironmentFiles").splitlines()
    return production_argv(node, unit), {
        "env_files": [f.split(" ")[0].lstrip("-") for f in files if f],
        "env": unit_property(node, unit, "Environment"),
        "user": unit_property(node, unit, "User"),
    }


def with_args(argv: list[str], port: int, workers: int, auth: bool) -> list[str]:
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--host", "--port", "--workers") or (arg == "--app-name" and not auth):
            i += 2
            continue
        out.append(arg)
        i += 1
    return [*out, "--host", "0.0.0.0", "--port", str(port), "--workers", str(workers)]  # noqa: S104


def start_layer_server(
    node: str, name: str, argv: list[str], *, env_files: list[str], env: str, user: str
) -> None:
    props = ["-p", f"User={user}", "-p", f"Group={user}", "-p", "KillMode=control-group"]
    props += [arg for f in env_files for arg in ("-p", f"EnvironmentFile={f}")]
    props += [arg for assignment in shlex.split(env) for arg in ("-p", f"Environment={assignment}")]
    docker("exec", node, "systemd-run", f"--unit={UNIT_PREFIX}{name}", "--collect", *props, *argv)


def stop_layer_servers(node: str) -> None:
    for name in ("pg", "pg-auth"):
        docker("exec", node, "systemctl", "stop", f"{UNIT_PREFIX}{name}", check=False)


NGINX_HTTP = """# englab bench/tracking_layers.py: nginx without TLS in front of the same instances (removed after)
server {{
    listen {port};
    client_max_body_size 1g;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    location / {{
        proxy_pass http://englab_mlflow;
        proxy_next_upstream error timeout non_idempotent;
    }}
}}
"""


def nginx_dropin(node: str, port: int | None) -> None:
    if port is None:
        docker("exec", node, "rm", "-f", NGINX_DROPIN, check=False)
    else:
        subprocess.run(
            ["docker", "exec", "-i", node, "sh", "-c", f"cat > {NGINX_DROPIN}"],
            input=NGINX_HTTP.format(port=port), text=True, check=True, timeout=60,
        )  # fmt: skip
    docker("exec", node, "sh", "-c", "nginx -t -q && systemctl reload nginx")


def factory_for(ca: str | None, auth: tuple[str, str] | None, host: str | None, check_hostname: bool = True):
    """Sessions for one layer: `Host` set when reached at the node's address (its allowed hosts)."""
    return make_session_factory(ca, auth, {"Host": host} if host else None, check_hostname=check_hostname)


def production_instances(node: str) -> list[str]:
    out = docker("exec", node, "systemctl", "list-units", "--plain", "--no-legend", "englab-mlflow@*.service")
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def wait_healthy(url: str, ca: str, timeout: float = 120) -> None:
    """Until the platform's URL answers /health through nginx (the instances just restarted)."""
    ctx = ssl.create_default_context(cafile=ca)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=2, context=ctx) as resp:  # noqa: S310
                if resp.status == 200:
                    time.sleep(6)  # nginx's fail_timeout: an instance marked failed while it started
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/health did not answer within {timeout:g} s")


def phase(args, targets: list[Target], what: str):
    print(
        f"\n== {what}: {', '.join(t.name for t in targets)}; levels {args.clients} x {args.seconds:g} s x "
        f"{args.repeat}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    sys.stdout.flush()
    return asyncio.run(bench(args, targets))


def wait_up(url: str, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if http_ok(url):
            return
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:g} s")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefix", default="benchd-", help="the platform's name prefix")
    p.add_argument("--url", default="https://127.0.0.1:38543", help="the platform's tracking URL")
    p.add_argument(
        "--secrets", default=".cache/bench/deploy/secrets", help="the platform's secrets directory"
    )
    p.add_argument("--user", default="training")
    p.add_argument("--clients", default="16", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--metrics", type=int, default=10)
    p.add_argument(
        "--workers", type=int, default=4, help="workers of the pg and pg+auth servers (stock's default)"
    )
    p.add_argument("--only", help="comma-separated targets to run (default: all)")
    p.add_argument("--json", help="write the results to this file")
    return p.parse_args()


def report(args, phases: list[list]) -> None:
    print("\nall layers:")
    print_levels([r for results in phases for r in results])
    top = max(args.clients)
    print(
        f"\nat {top} clients, each layer against stock in the same phase (throughput, p99, server CPU per request):"
    )
    for results in phases:
        by = {r.target: r for r in results if r.clients == top}
        base = by.get("stock")
        for r in by.values():
            if r.target == "stock" or base is None:
                continue
            cpu = r.server_cpu_ms_per_req if r.server_cpu_ms_per_req is not None else float("nan")
            base_cpu = base.server_cpu_ms_per_req if base.server_cpu_ms_per_req is not None else float("nan")
            print(
                f"  {r.target:<10} {r.rps:7.1f} vs {base.rps:7.1f} req/s = {r.rps / base.rps:5.2f}x   "
                f"p99 {r.p99_ms:6.0f} vs {base.p99_ms:6.0f} ms   CPU {cpu:5.1f} vs {base_cpu:5.1f} ms/req   "
                f"errors {r.errors}"
            )


def nginx_targets(
    args, node: str, ip: str, *, ca: str, auth: tuple[str, str], node_meter, wanted
) -> list[Target]:
    """Phase 3's targets: nginx in plain HTTP (a drop-in listener), nginx with TLS, then as users reach it."""
    http_port = HTTP_PORT
    targets = []
    if not wanted or "nginx" in wanted:
        nginx_dropin(node, http_port)
        targets.append(
            Target("nginx", f"http://{ip}:{http_port}", factory_for(None, auth, "127.0.0.1"), node_meter)
        )
    if not wanted or "nginx+tls" in wanted:
        targets.append(
            Target(
                "nginx+tls",
                f"https://{ip}:443",
                factory_for(ca, auth, "127.0.0.1", check_hostname=False),
                node_meter,
            )
        )
    if not wanted or "ours" in wanted:
        meter = sum_meters(node_meter, server_side_meter(args.url, ""))
        targets.append(Target("ours", args.url.rstrip("/"), factory_for(ca, auth, None), meter))
    return targets


def main() -> int:
    args = parse_args()

    node, db = f"{args.prefix}tracking-node", f"{args.prefix}englab-db"
    secrets_dir = Path(args.secrets)
    ca = str(secrets_dir / "tracking_ca.crt")
    auth = (args.user, (secrets_dir / f"tracking_user_{args.user}").read_text().strip())
    ip = next(iter(json.loads(docker("inspect", node))[0]["NetworkSettings"]["Networks"].values()))[
        "IPAddress"
    ]
    argv, unit_env = production_unit(node)
    node_meter = container_cpu([node, db])
    wanted = set(args.only.split(",")) if args.only else None
    pg_port, auth_port = 5100, 5101

    workdir = tempfile.TemporaryDirectory(prefix="bench-mlflow-layers-")
    stock = None
    results: list[list] = []
    instances = production_instances(node)
    try:
        port = free_port()
        mlflow = str(Path(sys.executable).parent / "mlflow")
        stock = StockServer(
            "stock-mlflow-server", [mlflow, "server", "--host", "127.0.0.1", "--port", str(port)],
            Path(workdir.name), f"http://127.0.0.1:{port}/health",
        )  # fmt: skip
        stock.start()
        stock_target = Target(
            "stock", f"http://127.0.0.1:{port}", factory_for(None, None, None), stock.cpu_meter()
        )
        # Phases 1 and 2: one extra server alone on the database (the production instances stopped:
        # their idle pools would take connection slots), each beside stock.
        for name, port_, with_auth in (("pg", pg_port, False), ("pg+auth", auth_port, True)):
            if wanted and name not in wanted:
                continue
            docker("exec", node, "systemctl", "stop", *instances)
            unit = name.replace("+", "-")
            start_layer_server(node, unit, with_args(argv, port_, args.workers, auth=with_auth), **unit_env)
            wait_up(f"http://{ip}:{port_}/health")
            target = Target(
                name,
                f"http://{ip}:{port_}",
                factory_for(None, auth if with_auth else None, "127.0.0.1"),
                node_meter,
            )
            results.append(
                phase(
                    args,
                    [stock_target, target],
                    f"{name}: mlflow server --workers {args.workers} on our PostgreSQL",
                )
            )
            docker("exec", node, "systemctl", "stop", f"{UNIT_PREFIX}{unit}")
        # Phase 3: the production instances behind nginx, without and with TLS, then as users reach them.
        docker("exec", node, "systemctl", "start", *instances)
        targets = [
            stock_target,
            *nginx_targets(args, node, ip, ca=ca, auth=auth, node_meter=node_meter, wanted=wanted),
        ]
        wait_healthy(args.url, ca)
        if len(targets) > 1:
            results.append(phase(args, targets, "the production instances behind nginx"))
    finally:
        if stock:
            stock.stop()
        stop_layer_servers(node)
        docker("exec", node, "systemctl", "start", *instances, check=False)
        nginx_dropin(node, None)
        workdir.cleanup()
    report(args, results)
    write_json(args.json, {"benchmark": "tracking_layers", "args": vars(args), "phases": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
