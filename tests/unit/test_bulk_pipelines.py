"""Pipeline lines in a bulk file, through shared.pipelines (skipped when that package is not installed)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from shared.bulk.accept import accept_bulk
from shared.bulk.progress import bulk_progress
from shared.bulk.source import BulkSource
from shared.db import open_session
from shared.models import BulkBatch, BulkLine, Pipeline

pytest.importorskip("shared.pipelines", reason="pipelines (shared.pipelines) are not installed in this tree")

SPEC = {"steps": {"words": {"op": "lyrics", "params": {"prompt": "a lighthouse"}}}}


def write(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_pipeline_lines_are_validated_with_the_rest(settings, tmp_path):
    bad = {"pipeline": {"steps": {"words": {"op": "sing", "params": {}}}}}
    both = {"pipeline": SPEC, "operation": "lyrics"}
    report = accept_bulk(settings, BulkSource.from_path(write(tmp_path / "p.jsonl", [{"pipeline": SPEC}, bad, both])))
    assert report.bulk_id is None and report.invalid == 2
    fields = [(e.line, e.field) for e in report.errors]
    assert (2, "pipeline.steps.words.op") in fields and (3, "pipeline") in fields
    with open_session(settings) as s:
        assert s.scalar(select(Pipeline.id)) is None and s.scalar(select(BulkBatch.id)) is None


def test_pipeline_lines_become_pipelines_of_the_batch_once(settings, tmp_path):
    lines = [{"pipeline": SPEC, "name": f"song {n}", "key": f"p{n}"} for n in range(3)]
    lines.append({"operation": "lyrics", "params": {"prompt": "plain job"}})
    path = write(tmp_path / "p.jsonl", lines)
    first = accept_bulk(settings, BulkSource.from_path(path))
    again = accept_bulk(settings, BulkSource.from_path(path))
    assert (first.accepted, again.accepted, again.already_accepted) == (4, 0, 4)
    with open_session(settings) as s:
        pipelines = s.scalars(select(Pipeline).where(Pipeline.bulk_id == first.bulk_id)).all()
        assert sorted(p.name for p in pipelines) == ["song 0", "song 1", "song 2"]
        linked = set(s.scalars(select(BulkLine.pipeline_id).where(BulkLine.pipeline_id.is_not(None))))
        assert linked == {p.id for p in pipelines}
        progress = bulk_progress(s, first.bulk_id)
    assert progress is not None and progress["accepted"] == 4 and progress["running"] + progress["queued"] == 4


def test_a_pipeline_line_interrupted_mid_creation_is_reported_not_paid_twice(settings, tmp_path):
    path = write(tmp_path / "p.jsonl", [{"pipeline": SPEC, "key": "only"}])
    first = accept_bulk(settings, BulkSource.from_path(path))
    with open_session(settings) as s:  # as if the run died after reserving the line, before creating
        line = s.scalars(select(BulkLine)).one()
        line.pipeline_id = None
        s.commit()
    again = accept_bulk(settings, BulkSource.from_path(path))
    assert (again.accepted, again.interrupted, again.bulk_id) == (0, [1], first.bulk_id)
    with open_session(settings) as s:
        assert len(s.scalars(select(Pipeline)).all()) == 1
