"""The CI-sized chaos run, on both brokers: lost and duplicated callbacks, a flaky upstream, a killed worker and a
restarted receiver. Every job must end succeeded, none lost, no unaccounted duplicate paid submit."""

from __future__ import annotations

from bench.chaos import run_chaos


def test_chaos_ci_sized(broker_url, tmp_path):
    # Behind an in-flight cap, shared by two API keys: workers SIGKILLed mid-admission strand nothing (no job left
    # queued) and leak no slot (none left admitted and unfinished; the cap held, counted from the rows).
    summary = run_chaos(jobs=200, pipelines=10, broker_url=broker_url, var_dir=tmp_path / "var", kill_every=8.0,
                        restart_receiver=True, timeout=240, max_in_flight=24, owners=2)
    print(summary.render())
    assert summary.lost == 0, summary.render()
    assert summary.unaccounted_duplicates == 0, summary.render()
    assert summary.by_state == summary.expected, summary.render()
    assert summary.submits_per_job.get(0, 0) == 0, "every job reached the upstream"
    assert summary.events, "the saboteur really killed something"
    assert summary.pipelines_by_state == {"succeeded": 10}, summary.render()
    assert summary.leaked_slots == 0 and 0 < summary.peak_in_flight <= 24, summary.render()
    assert len(summary.by_owner) == 3, summary.render()  # two keys' jobs, and the pipelines' (local)
