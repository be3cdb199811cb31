"""`make bench`: every benchmark on SQLite and on PostgreSQL, one summary table, appended to bench/RESULTS.md.

    python -m bench.run_all [--only P1,P4] [--db sqlite,postgres] [--profile]

Each benchmark starts and stops its own real processes (bench/harness.py); nothing runs in parallel with another
benchmark, since the machine has 2 cores. A benchmark that fails is a row saying so; the others still run.

To add a benchmark, add one line to BENCHMARKS: its id and a function returning Figures. The function may take
``profile`` (bool) and ``db_kind`` (sqlite|postgres) keyword arguments; it gets those it names. The database is
also set for ``bench.harness.make_env`` (``use_db``) before it runs, so a benchmark that builds its stacks with
``make_env`` runs on each database without taking ``db_kind`` at all.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    p1_callback_cpu,
    p1_callbacks,
    p2_throughput,
    p3_upstream_calls,
    p4_pipeline_latency,
    p5_in_flight,
    p6_embedded,
    p7_artifact_store,
)
from bench.harness import DATABASES, Figure, append_results, print_figures, render_table, tag, use_db

BENCHMARKS: dict[str, Callable[..., list[Figure]]] = {
    "P1": lambda profile: p1_callbacks.run(profile=profile),
    "P1-CPU": lambda: p1_callback_cpu.run(),
    "P2": lambda profile: p2_throughput.run(profile=profile),
    "P3": lambda: p3_upstream_calls.run(),
    "P4": lambda profile: p4_pipeline_latency.run(profile=profile),
    "P5": lambda profile: p5_in_flight.run(profile=profile),
    "P6": lambda: p6_embedded.run(),
    "P7": lambda: p7_artifact_store.run(),  # artifact store MB/s: S3 (moto) against the file store
    "A": lambda: __import__("bench.a_admission", fromlist=["run"]).run(),  # admission A1-A5 (issue 12)
}


def call(benchmark: Callable[..., list[Figure]], **offered: object) -> list[Figure]:
    """Run ``benchmark`` with those of the offered keyword arguments it takes."""
    takes = inspect.signature(benchmark).parameters
    return benchmark(**{k: v for k, v in offered.items() if k in takes})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. P1,P4 (default: all)")
    parser.add_argument("--db", default=",".join(DATABASES), help="comma-separated: sqlite,postgres (default: both)")
    parser.add_argument("--profile", action="store_true", help="py-spy where a benchmark supports it")
    args = parser.parse_args()
    chosen = [b.strip().upper() for b in args.only.split(",") if b.strip()] or list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if unknown or not databases or any(d not in DATABASES for d in databases):
        parser.error(f"--only takes {', '.join(BENCHMARKS)}; --db takes {', '.join(DATABASES)}")
    figures: list[Figure] = []
    timings: list[str] = []
    started = time.monotonic()
    for name in chosen:
        for db_kind in databases:
            print(f"== {name} on {db_kind} ==", flush=True)
            use_db(db_kind)
            began = time.monotonic()
            try:
                found = call(BENCHMARKS[name], profile=args.profile, db_kind=db_kind)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
                traceback.print_exc()
                found = [Figure(name, "benchmark failed", None, "", notes=[f"{type(exc).__name__}: {exc}"])]
            tag(found)
            print_figures(found)
            figures += found
            timings.append(f"{name}/{db_kind} {time.monotonic() - began:.0f}s")
    total = time.monotonic() - started
    print(f"\n== summary ({total / 60:.1f} min: {', '.join(timings)}) ==")
    print(render_table(figures))
    command = "python -m bench.run_all" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    path = append_results(figures, command, extra=f"Wall time {total / 60:.1f} min ({', '.join(timings)}).")
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
