"""Dashboard habits (issue 15): a styled 404 and a favicon, list and detail pages that refresh while work is in
flight, "export requested" in the timeline, and a graph whose edges never run under a box."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from shared.config import Settings
from shared.db import open_session
from shared.models import Job, Pipeline, PipelineStep, utcnow
from webhook.app import create_app
from webhook.dashboard.job_details import timeline
from webhook.dashboard.pipeline_graph import BOX_W, NAME_CHARS, layout

REFRESH = '<meta http-equiv="refresh"'


@pytest.fixture
def web(settings: Settings) -> FlaskClient:
    app = create_app({"HOOKLINE_SETTINGS": settings.with_overrides(ui_password="pw-for-tests"), "TESTING": True})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/login").text)
    assert token
    answer = client.post("/ui/login", data={"credential": "pw-for-tests", "csrf_token": token.group(1)})
    assert answer.status_code == 302
    return client


def test_a_styled_404_outside_the_api_and_json_inside(web: FlaskClient) -> None:
    for path in ("/ui/no-such-page", "/nothing-here", f"/ui/jobs/{'0' * 32}"):
        page = web.get(path)
        assert page.status_code == 404 and page.mimetype == "text/html", path
        assert 'id="error-page"' in page.text and "dashboard.css" in page.text and "favicon.svg" in page.text
    api = web.get("/v1/no-such-thing")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
    icon = web.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data


def test_pages_refresh_only_while_work_is_in_flight(web: FlaskClient, settings: Settings) -> None:
    with open_session(settings) as s:
        done = Job(operation="lyrics", params={}, status="succeeded", finished_at=utcnow())
        s.add(done)
        s.commit()
    assert REFRESH not in web.get("/ui/jobs").text
    assert REFRESH not in web.get(f"/ui/jobs/{done.id}").text
    with open_session(settings) as s:
        running = Job(operation="lyrics", params={}, status="running")
        pipe = Pipeline(name="p", status="running")
        s.add_all([running, pipe])
        s.commit()
    assert REFRESH in web.get("/ui/jobs").text and REFRESH in web.get(f"/ui/jobs/{running.id}").text
    assert REFRESH in web.get("/ui/pipelines").text and REFRESH in web.get(f"/ui/pipelines/{pipe.id}").text
    assert REFRESH not in web.get("/ui/jobs?status=succeeded").text


def test_the_timeline_says_export_requested() -> None:
    now = utcnow()
    job = Job(id="a" * 32, operation="wav", params={"clip_id": "c"}, status="running", created_at=now,
              submitted_at=now + timedelta(seconds=1), upstream_task_id=None)
    details = [e.detail for e in timeline(job, [], [])]
    assert "export requested" in details and not any("None" in d for d in details)
    job.upstream_task_id = "task-9"
    assert "upstream task task-9" in [e.detail for e in timeline(job, [], [])]


def _points(path: str) -> list[tuple[float, float]]:
    """Points along an edge: the corners of its straight segments (H/V) and samples of its curve (C)."""
    points: list[tuple[float, float]] = []
    x = y = 0.0
    for command, args in re.findall(r"([MHVC])([^MHVC]*)", path):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command == "M":
            x, y = numbers
            points.append((x, y))
        elif command in "HV":
            target = (numbers[0], y) if command == "H" else (x, numbers[0])
            points += [(x + (target[0] - x) * t / 20, y + (target[1] - y) * t / 20) for t in range(21)]
            x, y = target
        else:
            (c1x, c1y, c2x, c2y, ex, ey) = numbers
            for i in range(21):
                t = i / 20
                points.append(((1 - t) ** 3 * x + 3 * (1 - t) ** 2 * t * c1x + 3 * (1 - t) * t * t * c2x + t ** 3 * ex,
                               (1 - t) ** 3 * y + 3 * (1 - t) ** 2 * t * c1y + 3 * (1 - t) * t * t * c2y + t ** 3 * ey))
            x, y = ex, ey
    return points


def test_graph_edges_never_pass_under_a_box_and_labels_fit() -> None:
    # a -> b -> c -> d and a -> d, a -> c, e -> d: long edges cross columns that hold boxes.
    names = ["a", "b", "c", "d", "e", "a_step_with_a_really_long_name_indeed"]
    spec = {"steps": {"a": {}, "b": {"from": "a"}, "c": {"from": ["b", "a"]}, "d": {"from": ["c", "a", "e"]},
                      "e": {}, names[5]: {"from": "b"}}}
    steps = [PipelineStep(name=n, operation="music", status="pending") for n in names]
    graph = layout(steps, spec)
    boxes = {b.name: b for b in graph.boxes}
    assert len(graph.edges) == 7
    for edge in graph.edges:
        points = _points(edge.path)
        start, end = points[0], points[-1]
        parent, child = boxes[edge.parent], boxes[edge.child]
        assert start == (parent.x + parent.width, parent.y + parent.height // 2)  # leaves its parent's side
        assert end == (child.x, child.y + child.height // 2)  # reaches its child's side
        for px, py in points[1:-1]:
            for box in graph.boxes:
                inside = box.x < px < box.x + box.width and box.y < py < box.y + box.height
                assert not inside, (edge.parent, edge.child, (px, py), box.name)
        assert all(0 <= px <= graph.width and 0 <= py <= graph.height for px, py in points)
    long_box = boxes[names[5]]
    assert len(long_box.name_label) == NAME_CHARS and long_box.name_label.endswith("…")
    assert NAME_CHARS * 8 < BOX_W - 10  # at 13px bold, ~8px a character at most for these names
