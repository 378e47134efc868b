"""Shared pieces of the benchmarks: a closed-loop asyncio load generator, latency
statistics, and the lifecycle of the stock MLflow servers the benchmarks start.

Every load is closed-loop: N clients, each with its own keep-alive connection, send
one request, wait for the answer, send the next, until the level's time is up. A
client finishes the iteration it is in when time runs out; throughput is the number
of completed requests divided by the time from the start until the last client
stopped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
# Seconds a level may run past its end for the requests in flight to finish.
GRACE = 30.0


class RequestError(Exception):
    """A request that did not answer 2xx (already counted as an error)."""


@dataclasses.dataclass
class Recorder:
    """Latencies (seconds) of successful requests, and the failed ones' count."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = dataclasses.field(default_factory=list)

    async def request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        **kwargs,
    ) -> bytes:
        """Send one request, record its latency; raise RequestError when it failed."""
        start = time.perf_counter()
        try:
            async with session.request(method, url, **kwargs) as resp:
                body = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.error(f"{method} {url}: {type(exc).__name__}: {exc}")
            raise RequestError from exc
        if not 200 <= status < 300:
            self.error(f"{method} {url}: HTTP {status}: {body[:200]!r}")
            raise RequestError
        self.latencies.append(time.perf_counter() - start)
        return body

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(text)


@dataclasses.dataclass
class LevelResult:
    target: str
    clients: int
    seconds: float
    requests: int
    errors: int
    rps: float  # successful requests per second (p50/p99 are over successful requests too)
    p50_ms: float
    p99_ms: float
    error_samples: list[str]
    # CPU the target's server side used during the level (seconds), and per request.
    server_cpu_s: float | None = None
    server_cpu_ms_per_req: float | None = None
    # Repetitions pooled into this result, and the spread of their throughputs.
    reps: int = 1
    rps_min: float = 0.0
    rps_max: float = 0.0


@dataclasses.dataclass
class Sample:
    """One timed run of one level against one target."""

    elapsed: float
    latencies: list[float]
    errors: int
    error_samples: list[str]
    cpu_s: float | None

    @property
    def ok(self) -> int:
        return len(self.latencies)


def summarize(target: str, clients: int, samples: list[Sample]) -> LevelResult:
    """Pool repetitions: requests over total time, percentiles over all latencies."""
    lat = sorted(x for s in samples for x in s.latencies)
    elapsed = sum(s.elapsed for s in samples)
    ok = sum(s.ok for s in samples)
    cpus = [s.cpu_s for s in samples]
    cpu = None if any(c is None for c in cpus) else sum(cpus)
    rates = [s.ok / s.elapsed for s in samples if s.elapsed]
    return LevelResult(
        target=target,
        clients=clients,
        seconds=round(elapsed, 2),
        requests=len(lat) + sum(s.errors for s in samples),
        errors=sum(s.errors for s in samples),
        rps=ok / elapsed if elapsed else 0.0,
        p50_ms=percentile(lat, 50) * 1000,
        p99_ms=percentile(lat, 99) * 1000,
        error_samples=[e for s in samples for e in s.error_samples][:3],
        server_cpu_s=cpu,
        server_cpu_ms_per_req=cpu * 1000 / ok if cpu is not None and ok else None,
        reps=len(samples),
        rps_min=min(rates, default=0.0),
        rps_max=max(rates, default=0.0),
    )


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


Iteration = Callable[[aiohttp.ClientSession, Recorder], Awaitable[None]]


@dataclasses.dataclass
class Target:
    """One server under load: its base URL, how its clients connect, and (optionally)
    how much CPU its server side has used so far."""

    name: str
    base: str
    session_factory: Callable[[], aiohttp.ClientSession]
    cpu_meter: Callable[[], float] | None = None


async def run_level(target: Target, clients: int, seconds: float, iteration: Iteration) -> Sample:
    """Run `clients` closed-loop clients for `seconds`; each repeats `iteration`.
    CPU of the target's server side is metered when the target has a meter."""
    recorder = Recorder()
    sessions = [target.session_factory() for _unused in range(clients)]
    cpu_meter = target.cpu_meter
    cpu0 = cpu_meter() if cpu_meter else None
    start = time.perf_counter()
    deadline = start + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            try:
                await iteration(session, recorder)
            except RequestError:
                # Do not spin on a failing target; the error is already counted.
                await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(client(s)) for s in sessions]
    try:
        # Clients start no iteration after the deadline; one still running GRACE seconds
        # later is cancelled and its request in flight counted as an error, so that a
        # level never runs longer than seconds + GRACE.
        _unused, late = await asyncio.wait(tasks, timeout=seconds + GRACE)
        for task in late:
            task.cancel()
            recorder.error(f"request still running {GRACE:g} s after the level's end: cut")
        await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - start
        cpu = cpu_meter() - cpu0 if cpu_meter and cpu0 is not None else None
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return Sample(elapsed, recorder.latencies, recorder.errors, recorder.error_samples, cpu)


async def run_plan(
    targets: list[Target],
    iterations: dict[str, Iteration],
    *,
    levels: list[int],
    seconds: float,
    repeat: int,
    warmup: float,
) -> list[LevelResult]:
    """Every level against every target, `repeat` times, interleaved: ours, stock, then
    stock, ours, ... so that a shared machine's drift and order effects hit both alike.
    A level's repetitions are pooled into one result."""
    for t in targets if warmup > 0 else []:
        await run_level(t, max(levels), warmup, iterations[t.name])
    print_levels([])
    results = []
    for n in levels:
        samples: dict[str, list[Sample]] = {t.name: [] for t in targets}
        for rep in range(repeat):
            for t in targets if rep % 2 == 0 else reversed(targets):
                samples[t.name].append(await run_level(t, n, seconds, iterations[t.name]))
        for t in targets:
            r = summarize(t.name, n, samples[t.name])
            print_levels([r], header=False)
            sys.stdout.flush()
            results.append(r)
    return results


def make_session_factory(
    ca_file: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    *,
    check_hostname: bool = True,
) -> Callable[[], aiohttp.ClientSession]:
    """Sessions with one keep-alive connection each (one connection per client). check_hostname=False
    still verifies the chain against ca_file (a server reached at an address its certificate does not name)."""
    all_headers = dict(headers or {})
    if basic_auth:
        token = base64.b64encode(":".join(basic_auth).encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    ssl_ctx: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    if isinstance(ssl_ctx, ssl.SSLContext):
        ssl_ctx.check_hostname = check_hostname

    def factory() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, ssl=ssl_ctx, keepalive_timeout=60),
            headers=all_headers,
            timeout=REQUEST_TIMEOUT,
        )

    return factory


# ----------------------------------------------------------------------------- output


def print_levels(results: list[LevelResult], header: bool = True) -> None:
    if header:
        print(
            f"  {'target':<8} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} "
            f"{'errors':>7} {'secs':>6} {'srv CPU ms/req':>14} {'req/s per rep':>15}"
        )
    for r in results:
        cpu = f"{r.server_cpu_ms_per_req:.1f}" if r.server_cpu_ms_per_req is not None else "-"
        spread = f"{r.rps_min:.1f}-{r.rps_max:.1f}" if r.reps > 1 else ""
        print(
            f"  {r.target:<8} {r.clients:>7} {r.rps:>9.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.requests:>9} "
            f"{r.errors:>7} {r.seconds:>6.1f} {cpu:>14} {spread:>15}"
        )
        for sample in r.error_samples:
            print(f"      error: {sample}")


def print_comparison(results: list[LevelResult], ours: str, stock: str) -> dict[int, dict]:
    """Ours/stock throughput ratio and p99s per concurrency level."""
    by = {(r.target, r.clients): r for r in results}
    levels = sorted({r.clients for r in results})
    out: dict[int, dict] = {}
    print(
        f"  {'clients':>7} {'ours/stock rps':>15} {'p99 ours ms':>12} {'p99 stock ms':>13} {'p99 lower?':>10}"
    )
    for n in levels:
        a, b = by.get((ours, n)), by.get((stock, n))
        if not a or not b:
            continue
        ratio = a.rps / b.rps if b.rps else float("inf")
        lower = a.p99_ms < b.p99_ms
        out[n] = {"ratio": ratio, "p99_ours_ms": a.p99_ms, "p99_stock_ms": b.p99_ms, "p99_lower": lower}
        print(f"  {n:>7} {ratio:>15.2f} {a.p99_ms:>12.1f} {b.p99_ms:>13.1f} {'yes' if lower else 'no':>10}")
    return out


def write_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, default=dataclasses.asdict) + "\n")
    print(f"results written to {path}")


# ------------------------------------------------------------------------- CPU meters


def _proc_stats() -> dict[int, list[str]]:
    """The fields after the command name of /proc/PID/stat, for every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            out[int(entry.name)] = stat[stat.rindex(")") + 2 :].split()
    return out


def _cpu_ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime + stime


def process_group_cpu(pgid: int) -> Callable[[], float]:
    """CPU seconds used so far by the live processes of a process group (a stock server)."""
    tick = os.sysconf("SC_CLK_TCK")
    return lambda: sum(_cpu_ticks(f) for f in _proc_stats().values() if int(f[2]) == pgid) / tick


def docker_proxy_cpu(port: int) -> Callable[[], float] | None:
    """CPU seconds used so far by the host's docker-proxy of a published port (the
    local target's way onto loopback), or None when there is none."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = []
    for pid in _proc_stats():
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            is_proxy = argv[0].endswith(b"docker-proxy") and b"-host-port" in argv
            if is_proxy and argv[argv.index(b"-host-port") + 1] == str(port).encode():
                pids.append(pid)
    if not pids:
        return None

    def meter() -> float:
        stats = _proc_stats()
        return sum(_cpu_ticks(stats[p]) for p in pids if p in stats) / tick

    return meter


def sum_meters(*meters: Callable[[], float] | None) -> Callable[[], float] | None:
    live = [m for m in meters if m]
    return (lambda: sum(m() for m in live)) if live else None


def _cgroup_cpu_file(cgroup_lines: list[str]) -> tuple[Path, str]:
    """The CPU usage file of a process's cgroup, from the lines of /proc/PID/cgroup."""
    for line in cgroup_lines:
        _unused, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):  # cgroup v1
            return Path("/sys/fs/cgroup/cpuacct", path.lstrip("/"), "cpuacct.usage"), "ns"
    # cgroup v2: the container's scope (systemd inside a node adds init.scope)
    path = next((line.split(":", 2)[2] for line in cgroup_lines if line.startswith("0::")), "")
    return Path("/sys/fs/cgroup", path.removesuffix("/init.scope").lstrip("/"), "cpu.stat"), "usage_usec"


def _docker(*argv: str) -> str:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=True).stdout


def container_cpu(names: list[str]) -> Callable[[], float] | None:
    """CPU seconds used so far by Docker containers: each one's cgroup, plus the
    containers its own Docker engine runs (a serving node's model containers live
    in cgroups beside the node's, not under it). None when a cgroup cannot be found."""
    files: list[tuple[Path, str]] = []
    for name in names:
        try:
            pid = _docker("inspect", "-f", "{{.State.Pid}}", name).strip()
            node = _cgroup_cpu_file(Path(f"/proc/{pid}/cgroup").read_text().splitlines())
        except (OSError, subprocess.CalledProcessError):
            return None
        if not node[0].is_file():
            return None
        files.append(node)
        try:  # containers of a nested engine, read from inside the node
            script = "for c in $(docker ps -q); do cat /proc/$(docker inspect -f '{{.State.Pid}}' $c)/cgroup; echo; done"
            nested = _docker("exec", name, "sh", "-c", script).split("\n\n")
        except (OSError, subprocess.CalledProcessError):
            nested = []
        for block in filter(str.strip, nested):
            found = _cgroup_cpu_file(block.strip().splitlines())
            if found[0].is_file() and not found[0].is_relative_to(node[0].parent):
                files.append(found)

    def meter() -> float:
        total = 0.0
        for path, kind in files:
            text = path.read_text()
            if kind == "ns":
                total += int(text) / 1e9
            else:
                usage = next(line for line in text.splitlines() if line.startswith("usage_usec"))
                total += int(usage.split()[1]) / 1e6
        return total

    return meter


def server_side_meter(url: str, containers: str) -> Callable[[], float] | None:
    """CPU meter of our platform's side of `url`: the named containers (comma-separated,
    nested engines' containers included) and the host docker-proxy of the URL's port."""
    names = [c for c in containers.split(",") if c]
    port = urllib.parse.urlsplit(url).port or (443 if url.startswith("https") else 80)
    return sum_meters(container_cpu(names) if names else None, docker_proxy_cpu(port))


# ----------------------------------------------------------------------- stock servers


def http_get(url: str, timeout: float = 10) -> bytes:
    """GET an http(s) URL (the targets' own endpoints; no other scheme)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (scheme checked above)
        return resp.read()


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        return resp.read()


def http_ok(url: str) -> bool:
    try:
        http_get(url, timeout=2)
    except (urllib.error.URLError, OSError):
        return False
    return True


def secrets_default(name: str) -> str | None:
    """A file in $BENCH_SECRETS_DIR (the platform's controller secrets), when set."""
    d = os.environ.get("BENCH_SECRETS_DIR")
    return str(Path(d) / name) if d else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_env() -> dict[str, str]:
    """This interpreter's venv bin first on PATH (mlflow spawns uvicorn from there)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    # The stock servers must not inherit the client credentials of our platform.
    for key in list(env):
        if key.startswith("MLFLOW_TRACKING_") or key in ("REQUESTS_CA_BUNDLE",):
            env.pop(key)
    return env


class StockServer:
    """A server process group the benchmark owns: started in its own session so
    that stopping it ends its workers too (by the group id of the process it started)."""

    def __init__(
        self, name: str, argv: list[str], cwd: Path, health_url: str, env: dict[str, str] | None = None
    ):
        self.name, self.argv, self.cwd, self.health_url = name, argv, cwd, health_url
        self.env = env or venv_env()
        self.log_path = cwd / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); log: {self.log_path}")
            if http_ok(self.health_url):
                print(f"[{self.name}] up in {time.monotonic() - t0:.1f} s: {' '.join(self.argv)}")
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {self.health_url} in {timeout} s; log: {self.log_path}"
        )

    def stop(self) -> None:
        if not self.proc or (self.proc.poll() is not None and not _group_alive(self.proc.pid)):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 15 and _group_alive(self.proc.pid):
            time.sleep(0.2)
            self.proc.poll()
        if _group_alive(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def cpu_meter(self) -> Callable[[], float]:
        assert self.proc is not None
        return process_group_cpu(self.proc.pid)

    def __enter__(self) -> StockServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
