"""`make bench`: run P1-P6 one after another, print one summary table, append it to bench/RESULTS.md.

    python -m bench.run_all [--only P1,P4] [--profile]

Each benchmark starts and stops its own real processes (bench/harness.py); nothing runs in parallel with another
benchmark, since the machine has 2 cores. A benchmark that fails is a row saying so; the others still run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from bench import p1_callbacks, p2_throughput, p3_upstream_calls, p4_pipeline_latency, p5_in_flight, p6_embedded
from bench.harness import Figure, append_results, print_figures, render_table

BENCHMARKS: dict[str, Callable[[bool], list[Figure]]] = {
    "P1": lambda profile: p1_callbacks.run(profile=profile),
    "P2": lambda profile: p2_throughput.run(profile=profile),
    "P3": lambda profile: p3_upstream_calls.run(),
    "P4": lambda profile: p4_pipeline_latency.run(profile=profile),
    "P5": lambda profile: p5_in_flight.run(profile=profile),
    "P6": lambda profile: p6_embedded.run(),
    "A": lambda profile: __import__("bench.a_admission", fromlist=["run"]).run(),  # admission A1-A5 (issue 12)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. P1,P4 (default: all)")
    parser.add_argument("--profile", action="store_true", help="py-spy where a benchmark supports it")
    args = parser.parse_args()
    chosen = [b.strip().upper() for b in args.only.split(",") if b.strip()] or list(BENCHMARKS)
    figures: list[Figure] = []
    timings: list[str] = []
    started = time.monotonic()
    for name in chosen:
        print(f"== {name} ==", flush=True)
        began = time.monotonic()
        try:
            found = BENCHMARKS[name](args.profile)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            traceback.print_exc()
            found = [Figure(name, "benchmark failed", None, "", notes=[f"{type(exc).__name__}: {exc}"])]
        print_figures(found)
        figures += found
        timings.append(f"{name} {time.monotonic() - began:.0f}s")
    total = time.monotonic() - started
    print(f"\n== summary ({total / 60:.1f} min: {', '.join(timings)}) ==")
    print(render_table(figures))
    command = "python -m bench.run_all" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    path = append_results(figures, command, extra=f"Wall time {total / 60:.1f} min ({', '.join(timings)}).")
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
