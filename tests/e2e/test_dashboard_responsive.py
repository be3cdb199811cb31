"""The dashboard at a phone's width (390 px) and a desktop's (1280 px) in a real headless Chromium, against the
receiver serving real HTTP on a seeded SQLite database: no page scrolls sideways, the navigation collapses behind
a menu button on the phone, the pipeline graph scrolls inside its own box, every graph edge starts on its parent's
box and ends on its child's (and never runs under a box), and every label stays inside its box. Screenshots of
every page at both widths go to test-output/screenshots/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.serving import make_server

from shared.cli.stack import free_port, wait_until
from shared.config import Settings
from shared.db import open_session
from shared.models import Attempt, CallbackRecord, Job, Pipeline, PipelineStep, utcnow
from tests.e2e.test_dashboard_browser import BROWSER_WAIT, browser, shot  # noqa: F401 - the browser fixture
from webhook.app import create_app

pytestmark = pytest.mark.e2e
PASSWORD = "responsive-pw"
WIDTHS = (390, 1280)
# A wide DAG: a chain of five, long edges skipping columns, a fan-in, and a name longer than a box.
STEPS = {
    "song": {"op": "generate"}, "extend": {"from": "song"}, "extend_again": {"from": "extend"},
    "concat": {"from": ["extend_again", "song"]}, "wav": {"from": ["concat", "song", "extend"]},
    "lyrics_for_the_second_verse_of_this_song": {"op": "lyrics"}, "cover": {"from": ["song"]},
    "midi": {"from": ["lyrics_for_the_second_verse_of_this_song", "concat"]},
}


def seed(settings: Settings) -> dict[str, str]:
    now = utcnow()
    with open_session(settings) as s:
        pipe = Pipeline(name="a wide pipeline with a rather long name for a phone screen", status="running",
                        spec={"steps": STEPS}, created_at=now - timedelta(minutes=3), updated_at=now)
        s.add(pipe)
        s.flush()
        statuses = ["succeeded", "succeeded", "dispatched", "pending", "pending", "failed", "skipped", "canceled"]
        for position, (name, status) in enumerate(zip(STEPS, statuses, strict=True)):
            s.add(PipelineStep(pipeline_id=pipe.id, name=name, position=position, operation="music", status=status,
                               reason="a reason long enough to wrap on a narrow screen " * 2 if status == "failed"
                               else None))
        job = Job(operation="music", params={"prompt": "x" * 300, "tags": "folk"}, status="failed",
                  error="upstream said: " + "a very long error message without many breaks " * 4,
                  upstream_task_id="t" * 60, pipeline_id=pipe.id, step_name="song", created_at=now, updated_at=now,
                  finished_at=now)
        running = Job(operation="wav", params={"clip_id": "c" * 40}, status="submitted", submitted_at=now)
        s.add_all([job, running])
        s.flush()
        s.add_all([Attempt(job_id=job.id, attempt_no=1, operation="music", endpoint="music", outcome="rejected",
                           http_status=400, error="bad " * 30),
                   CallbackRecord(job_id=job.id, verdict="rejected", http_status=401,
                                  reason="token did not match " * 5)])
        s.commit()
        return {"pipeline": pipe.id, "job": job.id, "running": running.id}


@pytest.fixture
def site(settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    ids = seed(settings)
    app = create_app({"HOOKLINE_SETTINGS": settings.with_overrides(ui_password=PASSWORD)})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", ids
    server.shutdown()
    thread.join(timeout=10)


OVERFLOW = "return [document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth];"
GRAPH = """
const rects = {};
document.querySelectorAll('#dag g.node').forEach(g => {
  const r = g.querySelector('rect').getBBox();
  const texts = Array.from(g.querySelectorAll('text')).map(t => { const b = t.getBBox();
    return [b.x, b.y, b.width, b.height]; });
  rects[g.dataset.step] = {x: r.x, y: r.y, w: r.width, h: r.height, texts: texts};
});
const edges = Array.from(document.querySelectorAll('#dag path.edge')).map(p => {
  const n = p.getTotalLength(), samples = [];
  for (let i = 0; i <= 80; i++) { const q = p.getPointAtLength(n * i / 80); samples.push([q.x, q.y]); }
  return {from: p.dataset.from, to: p.dataset.to, samples: samples};
});
const box = document.getElementById('dag-box');
return {rects: rects, edges: edges, box: [box.scrollWidth, box.clientWidth]};
"""


def log_in(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/ui/jobs")
    driver.find_element(By.ID, "credential").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, ".login button[type=submit]").click()
    wait_until(lambda: "/ui/login" not in driver.current_url, timeout=BROWSER_WAIT, what="the login")


def at_width(driver: Any, width: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})


def check_graph(driver: Any) -> dict[str, Any]:
    found = driver.execute_script(GRAPH)
    rects = found["rects"]
    assert len(rects) == len(STEPS) and len(found["edges"]) == 10
    for edge in found["edges"]:
        parent, child, samples = rects[edge["from"]], rects[edge["to"]], edge["samples"]
        (x0, y0), (x1, y1) = samples[0], samples[-1]
        assert abs(x0 - (parent["x"] + parent["w"])) <= 1 and parent["y"] <= y0 <= parent["y"] + parent["h"], edge
        assert abs(x1 - child["x"]) <= 1 and child["y"] <= y1 <= child["y"] + child["h"], edge
        for x, y in samples[1:-1]:  # never under a box (its own two included)
            for name, r in rects.items():
                assert not (r["x"] + 1 < x < r["x"] + r["w"] - 1 and r["y"] + 1 < y < r["y"] + r["h"] - 1), \
                    (edge["from"], edge["to"], name, x, y)
    for name, r in rects.items():
        for tx, ty, tw, th in r["texts"]:
            assert r["x"] <= tx and tx + tw <= r["x"] + r["w"] - 4, (name, tx, tw, r)  # the label fits its box
            assert r["y"] <= ty and ty + th <= r["y"] + r["h"], name
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_width_and_the_graph_is_drawn_right(
        site: tuple[str, dict[str, str]], browser: Any, width: int) -> None:  # noqa: F811 - the imported fixture
    from selenium.webdriver.common.by import By

    base, ids = site
    log_in(browser, base)
    at_width(browser, width)
    pages = {"jobs": "/ui/jobs", "job": f"/ui/jobs/{ids['job']}", "pipelines": "/ui/pipelines",
             "pipeline": f"/ui/pipelines/{ids['pipeline']}", "costs": "/ui/costs", "health": "/ui/health",
             "not-found": "/ui/no-such-page"}
    for name, path in pages.items():
        browser.get(base + path)
        wait_until(lambda: browser.execute_script("return document.readyState") == "complete",
                   timeout=BROWSER_WAIT, what=f"{path} to load")
        shot(browser, f"responsive-{width}-{name}")
        document_width, viewport, body_width = browser.execute_script(OVERFLOW)
        assert viewport == width, (name, viewport)
        assert document_width <= viewport and body_width <= viewport, (name, document_width, viewport)

    browser.get(base + pages["pipeline"])
    graph = check_graph(browser)
    scroll_width, client_width = graph["box"]
    nav = browser.find_element(By.CSS_SELECTOR, "header.top nav")
    menu = browser.find_element(By.CSS_SELECTOR, "label.menu-button")
    if width == 390:
        assert scroll_width > client_width  # the wide graph scrolls inside its own box, not the page
        assert not nav.is_displayed() and menu.is_displayed()  # collapsed behind the menu button
        menu.click()
        wait_until(nav.is_displayed, timeout=BROWSER_WAIT, what="the menu to open")
        shot(browser, "responsive-390-menu-open")
        assert browser.execute_script(OVERFLOW)[0] <= width
    else:
        assert scroll_width <= client_width + 1  # room for the whole graph
        assert nav.is_displayed() and not menu.is_displayed()
