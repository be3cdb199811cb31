"""P6: the embedded default (kombu's SQLAlchemy transport over SQLite, no servers) end to end, against Redis.

    python -m bench.p6_embedded [--jobs 200] [--noop-tasks 1000]

The same workload and stack as P2 (sandbox at zero latency, gunicorn receiver, one worker with its defaults,
beat), run twice in one go: once with ``HOOKLINE_BROKER_URL`` unset (the embedded broker under var/), once on a
fresh redis-server. For context it also times no-op Celery tasks on the embedded broker (the counter is a
separate Redis, so only the broker differs from P2's baseline).
"""

from __future__ import annotations

from bench.harness import Figure, bench_parser, parse_args, report, workdir
from bench.p2_throughput import run_end_to_end


def run(jobs: int = 200, noop_tasks: int = 1000, keep: bool = False) -> list[Figure]:
    with workdir("p6-embedded", keep) as root:
        embedded, noop = run_end_to_end(root, broker="embedded", jobs=jobs, noop_tasks=noop_tasks)
    with workdir("p6-redis", keep) as root:
        on_redis, _ = run_end_to_end(root, broker="redis", jobs=jobs)
    ratio = embedded.per_second / on_redis.per_second
    notes = [*embedded.notes, *on_redis.notes]
    figures = [Figure("P6", "jobs/s end to end, embedded broker (SQLite)", embedded.per_second, "/s",
                      on_redis.per_second, "same on Redis", ratio, "report; as high as it goes", None, notes)]
    if noop is not None:
        rate, note = noop
        figures.append(Figure("P6b", "no-op Celery tasks/s, embedded broker (context)", rate, "/s", None,
                              "P2's no-op figure is the Redis one", None, "", None, [note]))
    return figures


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--noop-tasks", type=int, default=1000)
    args = parse_args(parser)
    figures = run(args.jobs, args.noop_tasks, args.keep)
    report(figures, "bench.p6_embedded")


if __name__ == "__main__":
    main()
