"""Model serving load: POST /invocations on our serving node's proxy against a stock
`mlflow models serve --env-manager local` of the same model version, and the in-process
ceiling (`mlflow.pyfunc.load_model(...).predict` on the same rows), in one run.

The served model and version come from GET /englab/version of our proxy, the request
body from GET /englab/input-example; the same version is downloaded from the tracking
server (once, under .cache/bench/models) for the stock server and the ceiling. The
model's requirements.txt must be installed in the bench venv first:

    .cache/bench-venv/bin/python bench/serving_load.py --fetch-only   # prints its path
    bench/setup.sh <that requirements.txt>
    .cache/bench-venv/bin/python bench/serving_load.py

Levels are interleaved (ours, stock, ours, stock, ...). Prints requests/s, p50, p99 and
errors per level, ours/stock per concurrency and ours as a share of the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mlflow.artifacts
import mlflow.pyfunc
from loadgen import (
    LevelResult,
    Recorder,
    StockServer,
    Target,
    free_port,
    http_get,
    http_post,
    make_session_factory,
    percentile,
    print_comparison,
    print_levels,
    run_plan,
    secrets_default,
    server_side_meter,
    write_json,
)
from mlflow.pyfunc import scoring_server

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"Content-Type": "application/json"}


def fetch_model(args, model: str, version: str) -> Path:
    """A local copy of models:/<model>/<version> (downloaded once)."""
    dest = Path(args.models_dir) / f"{model}-{version}"
    if (dest / "MLmodel").is_file():
        return dest
    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_url
    os.environ["MLFLOW_TRACKING_USERNAME"] = args.user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = Path(args.password_file).read_text().strip()
    os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = args.ca

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model}-{version}-", dir=dest.parent))
    local = Path(
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model}/{version}", dst_path=str(tmp))
    )
    local.rename(dest)
    if local != tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.pop(key)
    print(f"[model] {model} version {version} downloaded to {dest}")
    return dest


def ceiling(model_dir: Path, body: bytes, seconds: float, windows: int = 3) -> dict:
    """In-process predict rate on the parsed input example (one thread, no HTTP): the
    best of `windows` equal windows, since a ceiling is what the model can do at best."""
    model = mlflow.pyfunc.load_model(str(model_dir))
    parsed = scoring_server._parse_json_data(body, model.metadata, model.metadata.get_input_schema())
    data = parsed.data
    for _unused in range(20):  # warm-up
        model.predict(data)
    lat: list[float] = []
    rates = []
    for _unused in range(windows):
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / windows:
            t = time.perf_counter()
            model.predict(data)
            lat.append(time.perf_counter() - t)
            calls += 1
        rates.append(calls / (time.perf_counter() - start))
    lat.sort()
    return {
        "rows": len(data),
        "calls": len(lat),
        "calls_per_s": max(rates),
        "calls_per_s_windows": rates,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
    }


def make_iteration(base: str, body: bytes):
    url = f"{base}/invocations"

    async def iteration(session, rec: Recorder) -> None:
        await rec.request(session, "POST", url, data=body)

    return iteration


async def bench(args, targets: list[Target], body: bytes) -> list[LevelResult]:
    iterations = {t.name: make_iteration(t.base, body) for t in targets}
    return await run_plan(
        targets, iterations, levels=args.clients, seconds=args.seconds, repeat=args.repeat, warmup=args.warmup
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:28080", help="our serving proxy")
    p.add_argument(
        "--tracking-url", default="https://127.0.0.1:28443", help="where to download the model from"
    )
    p.add_argument("--ca", default=secrets_default("tracking_ca.crt"))
    p.add_argument("--user", default="training")
    p.add_argument("--password-file", default=secrets_default("tracking_user_training"))
    p.add_argument("--models-dir", default=str(ROOT / ".cache/bench/models"))
    p.add_argument(
        "--fetch-only", action="store_true", help="download the served version, print its requirements.txt"
    )
    p.add_argument("--clients", default="1,4,16", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--seconds", type=float, default=15.0, help="length of each level")
    p.add_argument(
        "--repeat", type=int, default=1, help="runs of each level per target, interleaved and pooled"
    )
    p.add_argument("--ceiling-seconds", type=float, default=10.0)
    p.add_argument(
        "--warmup", type=float, default=3.0, help="unrecorded warm-up per target, at the highest level"
    )
    p.add_argument(
        "--containers",
        default="dev-serving-node",
        help="Docker containers of our server side whose CPU is metered (with the host's docker-proxy)",
    )
    p.add_argument("--no-stock", action="store_true")
    p.add_argument("--json", help="write the results to this file")
    return p.parse_args()


def stock_server(model_dir: Path, workdir: Path) -> StockServer:
    """`mlflow models serve` with its defaults (one uvicorn worker), on loopback."""
    port = free_port()
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    argv = [mlflow_bin, "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    argv += ["-h", "127.0.0.1", "-p", str(port)]
    return StockServer("stock-models-serve", argv, workdir, f"http://127.0.0.1:{port}/ping")


def run_targets(args, base: str, model_dir: Path, body: bytes) -> list[LevelResult]:
    factory = make_session_factory(headers=HEADERS)
    meter = server_side_meter(args.url, args.containers)
    targets = [Target("ours", base, factory, meter)]
    stock = None
    workdir = tempfile.TemporaryDirectory(prefix="bench-models-serve-")
    try:
        if not args.no_stock:
            stock = stock_server(model_dir, Path(workdir.name))
            stock.start()
            targets.append(
                Target("stock", stock.health_url.removesuffix("/ping"), factory, stock.cpu_meter())
            )
        answers = {t.name: json.loads(http_post(f"{t.base}/invocations", body, HEADERS)) for t in targets}
        if len({json.dumps(a, sort_keys=True) for a in answers.values()}) != 1:
            print(f"WARNING: the targets answer differently: {answers}")
        return asyncio.run(bench(args, targets, body))
    finally:
        if stock:
            stock.stop()
        workdir.cleanup()


def report(args, results: list[LevelResult], ceil: dict) -> dict:
    print("\nall levels:")
    print_levels(results)
    comparison = {}
    if not args.no_stock:
        print("\nours vs stock:")
        comparison = print_comparison(results, "ours", "stock")
    print(f"\nshare of the in-process ceiling ({ceil['calls_per_s']:.1f} calls/s, one thread):")
    for r in results:
        print(f"  {r.target:<8} {r.clients:>3} clients: {r.rps / ceil['calls_per_s'] * 100:6.1f} %")
    top = max(args.clients)
    if top in comparison:
        c = comparison[top]
        print(
            f"\ngoal at {top} clients (>= 2x stock throughput): "
            f"{'MET' if c['ratio'] >= 2 else 'NOT MET'} (ratio {c['ratio']:.2f})"
        )
    return comparison


def main() -> int:
    args = parse_args()
    base = args.url.rstrip("/")
    served = json.loads(http_get(f"{base}/englab/version"))
    if not served.get("version"):
        raise SystemExit(f"{base}: no model is deployed yet ({served})")
    model, version = served["model"], str(served["version"])
    body = http_get(f"{base}/englab/input-example")
    model_dir = fetch_model(args, model, version)
    if args.fetch_only:
        print(model_dir / "requirements.txt")
        return 0

    print(
        f"serving load: {model} version {version} (slot {served.get('slot')}), body {len(body)} bytes; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    ceil = ceiling(model_dir, body, args.ceiling_seconds)
    print(
        f"ceiling (in-process predict, {ceil['rows']} rows/call): {ceil['calls_per_s']:.1f} calls/s, "
        f"p50 {ceil['p50_ms']:.2f} ms, p99 {ceil['p99_ms']:.2f} ms"
    )
    results = run_targets(args, base, model_dir, body)
    comparison = report(args, results, ceil)
    payload = {
        "benchmark": "serving",
        "model": model,
        "version": version,
        "args": vars(args),
        "ceiling": ceil,
    }
    write_json(args.json, payload | {"levels": results, "comparison": comparison})
    return 0


if __name__ == "__main__":
    sys.exit(main())
