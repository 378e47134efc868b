"""Tracking server load: our deployment (nginx TLS + basic auth + PostgreSQL) against a
stock `mlflow server` with its defaults, side by side in one run.

Each client repeats: POST runs/create, POST runs/log-batch (--metrics metrics), POST
runs/update (status FINISHED), in one experiment per target created up front. Levels
are interleaved (ours, stock, ours, stock, ...) so that drift of a shared machine
hits both alike. Prints requests/s, p50, p99 and errors per level, then the ours/stock
throughput ratio and the p99s per concurrency.

    .cache/bench-venv/bin/python bench/tracking_load.py \
        --url https://127.0.0.1:28443 --ca /tmp/devsec/tracking_ca.crt \
        --user training --password-file /tmp/devsec/tracking_user_training
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import aiohttp
from loadgen import (
    LevelResult,
    Recorder,
    StockServer,
    Target,
    free_port,
    make_session_factory,
    print_comparison,
    print_levels,
    run_plan,
    secrets_default,
    server_side_meter,
    venv_env,
    write_json,
)

API = "/api/2.0/mlflow"


def make_iteration(base: str, experiment_id: str, metrics: int):
    create_url = f"{base}{API}/runs/create"
    batch_url = f"{base}{API}/runs/log-batch"
    update_url = f"{base}{API}/runs/update"

    async def iteration(session: aiohttp.ClientSession, rec: Recorder) -> None:
        now = int(time.time() * 1000)
        body = await rec.request(
            session,
            "POST",
            create_url,
            json={"experiment_id": experiment_id, "start_time": now, "run_name": "bench"},
        )
        run_id = json.loads(body)["run"]["info"]["run_id"]
        values = [random.random() for _unused in range(metrics)]  # noqa: S311 (metric values, not crypto)
        batch = [{"key": f"m{i}", "value": v, "timestamp": now, "step": 0} for i, v in enumerate(values)]
        await rec.request(session, "POST", batch_url, json={"run_id": run_id, "metrics": batch})
        await rec.request(
            session,
            "POST",
            update_url,
            json={"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)},
        )

    return iteration


async def create_experiment(factory, base: str) -> str:
    name = f"bench-tracking-{uuid.uuid4().hex[:12]}"
    async with (
        factory() as session,
        session.post(f"{base}{API}/experiments/create", json={"name": name}) as resp,
    ):
        text = await resp.text()
        if resp.status != 200:
            raise SystemExit(f"cannot create an experiment at {base}: HTTP {resp.status}: {text[:300]}")
        return json.loads(text)["experiment_id"]


async def delete_experiment(factory, base: str, experiment_id: str) -> None:
    url = f"{base}{API}/experiments/delete"
    async with factory() as session, session.post(url, json={"experiment_id": experiment_id}) as resp:
        await resp.read()


async def bench(args, targets: list[Target]) -> list[LevelResult]:
    experiments = {t.name: await create_experiment(t.session_factory, t.base) for t in targets}
    iterations = {t.name: make_iteration(t.base, experiments[t.name], args.metrics) for t in targets}
    try:
        return await run_plan(
            targets,
            iterations,
            levels=args.clients,
            seconds=args.seconds,
            repeat=args.repeat,
            warmup=args.warmup,
        )
    finally:
        for t in targets:
            # Soft delete: the benchmark's runs leave the experiment list of our platform.
            await delete_experiment(t.session_factory, t.base, experiments[t.name])


def create_user(base: str, admin: tuple[str, str], user: tuple[str, str]) -> None:
    """Create a non-admin user on a stock server with the basic-auth app."""
    token = base64.b64encode(":".join(admin).encode()).decode()
    request = urllib.request.Request(  # noqa: S310 loopback http, the stock server
        f"{base}{API}/users/create",
        data=json.dumps({"username": user[0], "password": user[1]}).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="https://127.0.0.1:28443", help="our tracking server (TLS endpoint)")
    p.add_argument(
        "--ca", default=secrets_default("tracking_ca.crt"), help="CA file to verify our TLS certificate"
    )
    p.add_argument("--user", default="training", help="basic-auth user on our server")
    p.add_argument(
        "--password-file",
        default=secrets_default("tracking_user_training"),
        help="file holding the user's password (default: $BENCH_SECRETS_DIR/tracking_user_training)",
    )
    p.add_argument(
        "--containers",
        default="dev-tracking-node,dev-englab-db",
        help="Docker containers of our server side whose CPU is metered (with the host's docker-proxy)",
    )
    p.add_argument("--clients", default="1,4,16", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--seconds", type=float, default=15.0, help="length of each level")
    p.add_argument(
        "--repeat", type=int, default=1, help="runs of each level per target, interleaved and pooled"
    )
    p.add_argument(
        "--warmup", type=float, default=3.0, help="unrecorded warm-up per target, at the highest level"
    )
    p.add_argument("--metrics", type=int, default=10, help="metrics per log-batch")
    p.add_argument(
        "--stock-auth",
        action="store_true",
        help="start stock with MLflow's basic-auth app as its documentation shows (--app-name basic-auth, "
        "admin password and secret key in the environment, every other auth setting at its default) "
        "and load it as a non-admin user, as ours is loaded",
    )
    p.add_argument("--no-stock", action="store_true", help="measure our server only")
    p.add_argument("--no-ours", action="store_true", help="measure the stock server only")
    p.add_argument("--json", help="write the results to this file")
    return p.parse_args()


def report(args, results: list[LevelResult], both: bool) -> dict:
    print("\nall levels:")
    print_levels(results)
    if not both:
        return {}
    print("\nours vs stock:")
    comparison = print_comparison(results, "ours", "stock")
    top = max(args.clients)
    if top in comparison:
        c = comparison[top]
        ok = c["ratio"] >= 2 and c["p99_lower"]
        print(
            f"\ngoal at {top} clients (>= 2x stock throughput, lower p99): "
            f"{'MET' if ok else 'NOT MET'} (ratio {c['ratio']:.2f}, "
            f"p99 {c['p99_ours_ms']:.0f} vs {c['p99_stock_ms']:.0f} ms)"
        )
    return comparison


def main() -> int:
    args = parse_args()
    targets: list[Target] = []
    if not args.no_ours:
        password = Path(args.password_file).read_text().strip()
        factory = make_session_factory(ca_file=args.ca, basic_auth=(args.user, password))
        meter = server_side_meter(args.url, args.containers)
        targets.append(Target("ours", args.url.rstrip("/"), factory, meter))

    stock = None
    workdir = tempfile.TemporaryDirectory(prefix="bench-mlflow-server-")
    try:
        if not args.no_stock:
            # The stock server exactly as its documentation starts it: defaults only.
            port = free_port()
            argv = [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            env = None
            if args.stock_auth:
                argv += ["--app-name", "basic-auth"]
                admin_password = secrets.token_urlsafe(24)
                env = {
                    **venv_env(),
                    "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
                    "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
                }
            stock = StockServer(
                "stock-mlflow-server", argv, Path(workdir.name), f"http://127.0.0.1:{port}/health", env=env
            )
            stock.start()
            base = f"http://127.0.0.1:{port}"
            factory = make_session_factory()
            if args.stock_auth:
                user = ("bench", secrets.token_urlsafe(24))
                create_user(base, ("admin", admin_password), user)
                factory = make_session_factory(basic_auth=user)
                print(
                    "stock: MLflow's basic-auth app with its defaults, loaded as the non-admin user 'bench'"
                )
            targets.append(Target("stock", base, factory, stock.cpu_meter()))
        print(
            f"tracking load: levels {args.clients} x {args.seconds:g} s, "
            f"create + log-batch({args.metrics}) + update per iteration; "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        results = asyncio.run(bench(args, targets))
    finally:
        if stock:
            stock.stop()
        workdir.cleanup()

    comparison = report(args, results, both=len(targets) == 2)
    write_json(
        args.json, {"benchmark": "tracking", "args": vars(args), "levels": results, "comparison": comparison}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
