"""Shared helpers for the benchmarks: environments, extra processes (through ``shared.cli.stack.Stack``), sampling,
percentiles, results.

Every process a benchmark starts goes through ``Stack`` (its own ``_spawn`` for the few that are not hookline
commands: redis-server, gunicorn, a no-op Celery worker), so logs, process groups and shutdown work the same way
as in ``hookline up`` and the end-to-end tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

from shared import db
from shared.cli.stack import Stack, free_port, wait_http, wait_until
from shared.config import Settings, load_settings

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BIN = Path(sys.executable).parent
# The deploy files' receiver command (deploy/Procfile, Dockerfile, systemd): 4 sync workers.
GUNICORN_WORKERS = 4
# Callbacks all come from 127.0.0.1 here; the default per-source limit (50/s) would answer most of them 429.
UNLIMITED_SOURCE_RATE = "1000000"
SONG: dict[str, Any] = {
    "prompt": ("[Verse]\nWalking through the city streets\nNeon lights and concrete beats\n\n"
               "[Chorus]\nWe're alive tonight"),
    "tags": "indie pop, dreamy, atmospheric",
    "mv": "chirp-crow",
    "title": "City Dreams",
    "make_instrumental": False,
}


# ---------------------------------------------------------------- results


@dataclass
class Figure:
    """One row of the summary table."""

    id: str
    what: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None  # None: no target, just reported
    notes: list[str] = field(default_factory=list)
    db: str = ""  # the database hookline ran on (set by ``report`` and run_all from ``current_db``)

    def verdict(self) -> str:
        return {True: "MET", False: "MISSED", None: "-"}[self.met]


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def render_table(figures: list[Figure]) -> str:
    """One row per figure and database; a figure's rows for SQLite and PostgreSQL next to each other."""
    header = ["id", "db", "figure", "value", "baseline", "ratio", "target", "verdict"]
    rows = [header, ["---"] * len(header)]
    order = {key: n for n, key in enumerate(dict.fromkeys((f.id, f.what) for f in figures))}
    for f in sorted(figures, key=lambda f: (order[(f.id, f.what)], DATABASES.index(f.db) if f.db in DATABASES else 9)):
        rows.append([
            f.id, f.db or "-", f.what, f"{fmt(f.value)} {f.unit}".strip(),
            f"{fmt(f.baseline)} ({f.baseline_what})" if f.baseline is not None else (f.baseline_what or "-"),
            fmt(f.ratio, 3) if f.ratio is not None else "-", f.target or "-", f.verdict(),
        ])
    return "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows)


def print_figures(figures: list[Figure]) -> None:
    print(render_table(figures))
    for f in figures:
        for note in f.notes:
            print(f"  [{f.id}{' ' + f.db if f.db else ''}] {note}")
    sys.stdout.flush()


def append_results(figures: list[Figure], command: str, extra: str = "") -> Path:
    """Append one run (date, command, table, notes) to bench/RESULTS.md."""
    path = BENCH_DIR / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by `python -m bench.run_all` (and each `bench/p*.py`).\n")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    notes = [f"- [{f.id}{' ' + f.db if f.db else ''}] {note}" for f in figures for note in f.notes]
    machine = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    with path.open("a") as out:
        out.write(f"\n## {stamp}\n\n`{command}` ({machine})\n\n{render_table(figures)}\n")
        if notes:
            out.write("\n" + "\n".join(notes) + "\n")
        if extra:
            out.write("\n" + extra.rstrip() + "\n")
    return path


# ---------------------------------------------------------------- numbers


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_pids(pid: int) -> list[int]:
    """The process and every descendant (prefork pools, gunicorn workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children are not counted), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return 0.0


# ---------------------------------------------------------------- environments and processes


@dataclass
class BenchEnv:
    """A throwaway var dir, database and secrets for one benchmark stack."""

    root: Path
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"


DATABASES = ("sqlite", "postgres")
_DB = ["sqlite"]  # the database the benchmarks of this process run on now (``use_db``)


def use_db(kind: str) -> None:
    """Run what follows on ``kind`` (sqlite or postgres): every ``make_env`` makes its database there."""
    if kind not in DATABASES:
        raise ValueError(f"--db must be one of {', '.join(DATABASES)}, not {kind!r}")
    _DB[0] = kind


def current_db() -> str:
    return _DB[0]


def db_label() -> str:
    return {"sqlite": "SQLite", "postgres": "PostgreSQL"}[current_db()]
_POSTGRES: list[Any] = []  # the one throwaway PostgreSQL server of this bench process, started on first use


def _postgres_server() -> Any:
    """A throwaway PostgreSQL server (tests/fixtures_pg.py's settings: loopback, trust, fsync off), started once per
    bench process and stopped at exit."""
    if _POSTGRES:
        return _POSTGRES[0]
    import atexit

    from tests.fixtures_pg import SUPERUSER, PostgresServer, _demote, _server_user, find_postgres_bin

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)")
    ids = _server_user()
    root = Path(tempfile.mkdtemp(prefix="hookline-bench-pg-"))
    if ids is not None:
        os.chown(root, *ids)
    demote, port, data = _demote(ids), free_port(), root / "data"
    subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                    "--no-sync"], check=True, stdout=subprocess.DEVNULL, preexec_fn=demote, cwd=root)
    # fsync on (as deployed); synchronous_commit off would flatter every commit.
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300"
    subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w",
                    "-t", "60", "start"], check=True, stdout=subprocess.DEVNULL, preexec_fn=demote, cwd=root)

    def stop() -> None:
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=demote, cwd=root)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    server = PostgresServer("127.0.0.1", port, bin_dir)
    _POSTGRES.append(server)
    return server


def database_url(root: Path, db_kind: str) -> str:
    """A fresh, empty database for one benchmark stack: a SQLite file in ``root`` or a new PostgreSQL database."""
    if db_kind == "sqlite":
        return f"sqlite:///{root / 'var' / 'hookline.db'}"
    if db_kind != "postgres":
        raise ValueError(f"--db must be one of {', '.join(DATABASES)}, not {db_kind!r}")
    import psycopg

    server = _postgres_server()
    name = f"bench_{os.urandom(6).hex()}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(server.url(name))


def make_env(root: Path, *, broker_url: str | None = None, public: bool = True, receiver_port: int | None = None,
             sandbox_port: int | None = None, extra: dict[str, str] | None = None,
             db_kind: str | None = None) -> BenchEnv:
    """Env for a stack in ``root`` on ``db_kind`` (sqlite or postgres), migrated. ``public``: callbacks to the
    receiver port."""
    var = root / "var"
    var.mkdir(parents=True, exist_ok=True)
    env = {
        "HOOKLINE_VAR_DIR": str(var),
        "HOOKLINE_DATABASE_URL": database_url(root, db_kind or current_db()),
        "HOOKLINE_HOOK_SECRET": "bench-hook-secret-" + os.urandom(8).hex(),
        "HOOKLINE_HOOK_RATE_PER_SOURCE": UNLIMITED_SOURCE_RATE,
    }
    if broker_url:
        env["HOOKLINE_BROKER_URL"] = broker_url
    if public and receiver_port:
        env["HOOKLINE_PUBLIC_URL"] = f"http://127.0.0.1:{receiver_port}"
    if sandbox_port:
        env["COMETAPI_BASE_URL"] = f"http://127.0.0.1:{sandbox_port}"
    env.update(extra or {})
    bench_env = BenchEnv(root, env)
    db.upgrade(bench_env.settings)
    return bench_env


@contextmanager
def workdir(prefix: str, keep: bool = False) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix=f"hookline-bench-{prefix}-"))
    try:
        yield root
    finally:
        if keep:
            print(f"  (kept {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def start_redis(stack: Stack, name: str = "redis") -> str:
    """A redis-server on a free loopback port, started through the stack (stopped with it). Returns its URL."""
    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    data = stack.log_dir / name
    data.mkdir(parents=True, exist_ok=True)
    stack._spawn(name, [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", "",
                        "--appendonly", "no"])
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    wait_until(lambda: _pings(client), 10, 0.05, "redis-server up")
    return url


def queued_on_redis(client: redis.Redis) -> int:
    """Task messages waiting on both worker queues (a finished job's follow-up is ``hookline.job_finished`` on
    ``hookline``, or, for a job in no pipeline under no cap, ``hookline.download_artifacts`` on ``hookline.files``)."""
    from shared.tasks import FILES_QUEUE, QUEUE

    return int(client.llen(QUEUE)) + int(client.llen(FILES_QUEUE))


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def gunicorn_command(app: str, port: int, workers: int = GUNICORN_WORKERS) -> list[str]:
    """The deploy files' receiver command on a loopback port (sync workers, no access log)."""
    # --no-control-socket: two masters here would share one default control socket path; serving is unchanged.
    return [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", str(workers), "--no-control-socket", app]


def start_gunicorn(stack: Stack, name: str, app: str, port: int, health_path: str = "/healthz",
                   workers: int = GUNICORN_WORKERS) -> subprocess.Popen[bytes]:
    proc = stack._spawn(name, gunicorn_command(app, port, workers))
    wait_http(f"http://127.0.0.1:{port}{health_path}", timeout=60, proc=proc)
    return proc


def start_sandbox(stack: Stack, port: int, args: list[str], name: str = "sandbox") -> None:
    from shared.cli.stack import HOOKLINE

    proc = stack._spawn(name, [*HOOKLINE, "sandbox", "--port", str(port), *args])
    wait_http(f"http://127.0.0.1:{port}/_sandbox/requests", proc=proc)


def sandbox_requests(sandbox_url: str) -> list[dict[str, Any]]:
    resp = requests.get(f"{sandbox_url}/_sandbox/requests", timeout=60)
    resp.raise_for_status()
    return list(resp.json())


def sandbox_task(sandbox_url: str, task_id: str) -> dict[str, Any]:
    resp = requests.get(f"{sandbox_url}/_sandbox/tasks/{task_id}", timeout=30)
    resp.raise_for_status()
    return dict(resp.json())


def upstream_calls(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API calls among the sandbox's logged requests (it logs /suno/ and /udio/ only; media are not calls)."""
    return [e for e in entries if str(e.get("path", "")).startswith(("/suno/", "/udio/"))]


def bench_stack(env: BenchEnv, *, sandbox_port: int | None = None, sandbox_args: list[str] | None = None,
                workers: int = 0, beat: bool = False, receiver_port: int | None = None) -> Stack:
    """A Stack (not started) for a benchmark. Receivers under gunicorn are added with ``start_gunicorn``."""
    return Stack(env=env.env, log_dir=env.log_dir, sandbox_port=sandbox_port, sandbox_args=sandbox_args or [],
                 receiver_port=receiver_port, workers=workers, beat=beat)


# ---------------------------------------------------------------- profiling


def profile_pids(pids: list[int], seconds: float, out_dir: Path, label: str) -> list[subprocess.Popen[bytes]]:
    """Start ``py-spy record`` (raw collapsed stacks) on each pid for ``seconds``; wait with ``finish_profiles``."""
    spy = BIN / "py-spy"
    if not spy.exists():
        print("  (py-spy not installed in the venv: pip install py-spy; no profile taken)")
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in pids:
        out = out_dir / f"{label}-{pid}.txt"
        procs.append(subprocess.Popen(
            [str(spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw", "-o", str(out),
             "--nonblocking", "--gil"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def finish_profiles(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()


def hot_frames(raw_files: list[Path], top: int = 15, include: tuple[str, ...] = ()) -> list[tuple[str, float, float]]:
    """(frame, inclusive %, self %) from py-spy raw collapsed stacks, busiest first. ``include``: keep only frames
    whose text contains one of these (e.g. project paths); idle frames (waiting on sockets/locks) are dropped."""
    inclusive: dict[str, int] = {}
    self_time: dict[str, int] = {}
    total = 0
    for path in raw_files:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            total += count
            for frame in set(frames):
                if not include or any(key in frame for key in include):
                    inclusive[frame] = inclusive.get(frame, 0) + count
            leaf = frames[-1]
            self_time[leaf] = self_time.get(leaf, 0) + count
    if not total:
        return []
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    return [(frame, 100 * n / total, 100 * self_time.get(frame, 0) / total) for frame, n in ranked]


# ---------------------------------------------------------------- database fixtures


def insert_in_flight_jobs(settings: Settings, task_ids: list[str], *, status: str = "submitted",
                          next_check_in: float = 3600.0, overdue: set[str] | None = None,
                          chunk: int = 5000) -> list[str]:
    """Bulk-INSERT one submitted music job per upstream task id (attempt 1); returns the job ids in order.

    ``next_check_at`` is ``next_check_in`` seconds ahead, except for task ids in ``overdue`` (a minute ago)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from shared.db import open_session
    from shared.models import Job, new_id, utcnow

    now = utcnow()
    overdue = overdue or set()
    ids = [new_id() for _ in task_ids]
    rows = [
        {"id": job_id, "operation": "music", "params": {**SONG, "mv": "chirp-crow"}, "status": status,
         "upstream_task_id": task_id, "attempts": 1, "created_at": now, "updated_at": now, "submitted_at": now,
         "next_check_at": now - timedelta(seconds=60) if task_id in overdue else now + timedelta(seconds=next_check_in),
         "polls": 0}
        for job_id, task_id in zip(ids, task_ids, strict=True)
    ]
    with open_session(settings) as session:
        for start in range(0, len(rows), chunk):
            session.execute(insert(Job), rows[start:start + chunk])
        session.commit()
    return ids


def count_jobs(settings: Settings, status: str, ids: list[str] | None = None) -> int:
    from sqlalchemy import func, select

    from shared.db import open_session
    from shared.models import Job

    stmt = select(func.count()).select_from(Job).where(Job.status == status)
    with open_session(settings) as session:
        if ids is None:
            return int(session.scalar(stmt) or 0)
        total = 0
        for start in range(0, len(ids), 500):
            total += int(session.scalar(stmt.where(Job.id.in_(ids[start:start + 500]))) or 0)
        return total


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark script takes; each adds its own sizes."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--profile", action="store_true", help="py-spy the busy processes during the run")
    parser.add_argument("--keep", action="store_true", help="keep the run's working folder")
    parser.add_argument("--db", choices=DATABASES, default="sqlite", help="the database hookline runs on")
    return parser


def tag(figures: list[Figure]) -> list[Figure]:
    """The figures, each marked with the database it ran on (unless it says already)."""
    for f in figures:
        f.db = f.db or current_db()
    return figures


def parse_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """``parser.parse_args()``, and ``--db`` applied (``use_db``)."""
    args = parser.parse_args()
    use_db(args.db)
    return args


def report(figures: list[Figure], module: str) -> None:
    """Print the figures and append them, with the command that made them, to bench/RESULTS.md."""
    tag(figures)
    print_figures(figures)
    append_results(figures, f"python -m {module} " + " ".join(sys.argv[1:]))
