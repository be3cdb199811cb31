"""The /ui dashboard in a real headless Chromium against real processes (sandbox, receiver, worker, beat).

Chromium and chromedriver come from Debian (`chromium`, `chromium-driver`); Selenium drives them. Locally the
browser tests skip when they are missing; under CI=true they FAIL. Screenshots go to test-output/screenshots/.
The HTTP-level guards (login, CSRF, file serving, redaction, per-key scoping) are checked without a browser.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from shared.cli.stack import Stack, wait_until
from shared.db import open_session
from shared.models import Pipeline, PipelineStep
from tests.conftest import ARTIFACTS, IN_CI, StackFactory
from tests.e2e.driver import create_job, get_job, wait_job

PASSWORD = "operator-pw-" + os.urandom(6).hex()
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
                  "--autoplay-policy=no-user-gesture-required", "--window-size=1360,1100", "--disable-dev-shm-usage")
SONG = {"prompt": "[Verse]\nLanterns on the quay\n\n[Chorus]\nSing me home", "tags": "folk", "title": "Quay",
        "mv": "chirp-v4"}
CUSTOM = {"mv": "chirp-v4", "title": "Quay", "tags": "folk", "prompt": "[Verse]\nLanterns on the quay"}

pytestmark = pytest.mark.e2e
BROWSER_WAIT = 30.0  # seconds: a page, a login or media in headless Chromium take longer than wait_until's default


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: required under CI=true", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    driver_path = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    if chromium is None or driver_path is None:
        _missing("chromium and chromium-driver are not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(driver_path)))
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def log_in(driver: Any, stack: Stack, credential: str, start: str = "/ui/jobs") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{stack.receiver_url}{start}")
    assert "/ui/login" in driver.current_url, "the dashboard is behind a login"
    driver.find_element(By.ID, "credential").send_keys(credential)
    driver.find_element(By.CSS_SELECTOR, ".login button[type=submit]").click()
    wait_until(lambda: "/ui/login" not in driver.current_url, timeout=BROWSER_WAIT, what="the login to go through")


AUDIO_STATE = """
return Array.from(document.querySelectorAll('audio')).map(a => ({
  src: a.currentSrc, source: a.dataset.source, ready: a.readyState, duration: a.duration,
  error: a.error ? a.error.code : null, time: a.currentTime}));
"""


def play_every_audio(driver: Any) -> list[dict[str, Any]]:
    """Start every <audio> (muted) and wait until each has data to play and a duration; returns their state."""
    driver.execute_script("document.querySelectorAll('audio').forEach(a => { a.muted = true; a.play(); });")

    def all_playing() -> list[dict[str, Any]] | None:
        state = driver.execute_script(AUDIO_STATE)
        assert all(a["error"] is None for a in state), state
        ok = state and all(a["ready"] >= 2 and a["duration"] and a["duration"] > 0 and a["time"] > 0 for a in state)
        return state if ok else None

    return wait_until(all_playing, timeout=BROWSER_WAIT, what="every <audio> to load and play")


def images_loaded(driver: Any) -> list[int]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('img.cover')).map(i => i.complete ? i.naturalWidth : 0);")


def wait_stored_artifacts(stack: Stack, job_id: str, count: int) -> dict[str, Any]:
    def stored() -> dict[str, Any] | None:
        job = get_job(stack, job_id)
        return job if len([a for a in job["artifacts"] if a["status"] == "stored"]) >= count else None

    return wait_until(stored, timeout=60, what=f"{count} stored artifacts of job {job_id}")


def test_operator_logs_in_finds_a_song_and_plays_its_stored_audio(make_stack: StackFactory, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    stack, _ = make_stack(env={"HOOKLINE_UI_PASSWORD": PASSWORD})
    job_id = create_job(stack, "music", SONG)
    job = wait_job(stack, job_id)
    assert job["status"] == "succeeded", job
    wait_stored_artifacts(stack, job_id, count=4)  # per clip: the audio and at least one cover

    browser.get(f"{stack.receiver_url}/ui/login")
    shot(browser, "01-login")
    log_in(browser, stack, PASSWORD)
    row = browser.find_element(By.CSS_SELECTOR, f"#jobs tr[data-job='{job_id}']")
    assert "succeeded" in row.text and "music" in row.text and "$0.144" in row.text
    shot(browser, "02-jobs")

    row.find_element(By.CSS_SELECTOR, "a").click()
    wait_until(lambda: browser.find_elements(By.ID, "job-status"), timeout=BROWSER_WAIT, what="the job page")
    assert browser.find_element(By.ID, "job-status").text == "succeeded"
    state = play_every_audio(browser)
    assert len(state) == 2 and all(a["source"] == "stored" for a in state), state
    assert all(a["src"].startswith(f"{stack.receiver_url}/v1/jobs/{job_id}/artifacts/") for a in state), state
    durations = sorted(c["duration"] for c in job["clips"])
    assert sorted(round(a["duration"], 1) for a in state) == pytest.approx(durations, abs=0.2)
    assert wait_until(lambda: all(w > 0 for w in images_loaded(browser)) and images_loaded(browser),
                      timeout=BROWSER_WAIT, what="covers")
    assert "Lanterns on the quay" in browser.find_element(By.ID, "lyrics").text
    timeline = browser.find_element(By.ID, "timeline").text
    assert "callback COMPLETE: applied" in timeline and "attempt 1: music → accepted" in timeline
    assert "$0.144" in browser.find_element(By.ID, "attempts").text
    browser.execute_script("document.querySelectorAll('audio').forEach(a => a.pause());")
    shot(browser, "03-job")

    browser.get(f"{stack.receiver_url}/ui/health")
    assert browser.find_element(By.CSS_SELECTOR, "#workers-alive .big").text != "0"
    shot(browser, "04-health")
    browser.get(f"{stack.receiver_url}/ui/costs")
    assert "$0.144" in browser.find_element(By.ID, "per-day").text
    shot(browser, "05-costs")


def wait_pipeline(settings: Any, pipeline_id: str, until: set[str], timeout: float = 90.0) -> Pipeline:
    def finished() -> Pipeline | None:
        with open_session(settings) as session:
            row = session.get(Pipeline, pipeline_id)
            return row if row is not None and row.status in until else None

    return wait_until(finished, timeout=timeout, what=f"pipeline {pipeline_id} to be {until}")


def step_rows(settings: Any, pipeline_id: str) -> dict[str, PipelineStep]:
    with open_session(settings) as session:
        rows = session.scalars(select(PipelineStep).where(PipelineStep.pipeline_id == pipeline_id))
        return {r.name: r for r in rows}


def test_pipeline_dag_plays_its_song_and_retries_a_failed_step(make_stack: StackFactory, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    from shared.pipelines import create_pipeline

    stack, settings = make_stack(env={"HOOKLINE_UI_PASSWORD": PASSWORD})
    good = create_pipeline(settings, {"name": "one song", "steps": {"song": {"op": "generate", "params": CUSTOM}}})
    # continue_at past the end of the clip: the extend step fails before anything is sent; wav is skipped.
    bad = create_pipeline(settings, {"name": "too far", "steps": {
        "song": {"op": "generate", "params": CUSTOM},
        "extend": {"op": "extend", "from": "song", "pick": 0, "params": {"continue_at": 9999}},
        "wav": {"op": "wav", "from": "extend"},
    }})
    wait_pipeline(settings, good, {"succeeded"})
    wait_pipeline(settings, bad, {"failed"})

    log_in(browser, stack, PASSWORD, start="/ui/pipelines")
    assert "one song" in browser.find_element(By.ID, "pipelines").text
    browser.get(f"{stack.receiver_url}/ui/pipelines/{good}")
    assert browser.find_element(By.ID, "pipeline-status").text == "succeeded"
    node = browser.find_element(By.CSS_SELECTOR, "#dag g.node[data-step='song']")
    assert node.get_attribute("data-status") == "succeeded"
    shot(browser, "06-pipeline-succeeded")
    browser.find_element(By.CSS_SELECTOR, "#step-song a.mono").click()
    wait_until(lambda: browser.find_elements(By.ID, "job-status"), timeout=BROWSER_WAIT, what="the step's job page")
    state = play_every_audio(browser)
    assert state and all(a["ready"] >= 2 and a["duration"] > 0 for a in state)

    browser.get(f"{stack.receiver_url}/ui/pipelines/{bad}")
    statuses = {n.get_attribute("data-step"): n.get_attribute("data-status")
                for n in browser.find_elements(By.CSS_SELECTOR, "#dag g.node")}
    assert statuses == {"song": "succeeded", "extend": "failed", "wav": "skipped"}
    edges = {(e.get_attribute("data-from"), e.get_attribute("data-to"))
             for e in browser.find_elements(By.CSS_SELECTOR, "#dag path.edge")}
    assert edges == {("song", "extend"), ("extend", "wav")}
    assert "past the end of clip" in browser.find_element(By.ID, "step-extend").text
    shot(browser, "07-pipeline-failed")

    retry = browser.find_element(By.CSS_SELECTOR, "#step-extend button[data-action='retry']")
    assert retry.is_enabled()
    retry.click()
    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, ".flash"), timeout=BROWSER_WAIT,
               what="the retry's answer")
    assert "retry requested for" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    rows = step_rows(settings, bad)
    assert rows["extend"].generation == 1 and rows["wav"].generation == 1 and rows["song"].generation == 0
    shot(browser, "08-pipeline-retried")
    # The same spec fails the same way again: nothing was paid for the retry either.
    wait_pipeline(settings, bad, {"failed"})
    assert step_rows(settings, bad)["extend"].status == "failed"


# --- HTTP-level guards: no browser needed ---------------------------------------------------------------------


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def session_for(stack: Stack, credential: str) -> requests.Session:
    web = requests.Session()
    token = form_token(web.get(f"{stack.receiver_url}/ui/login", timeout=10).text)
    resp = web.post(f"{stack.receiver_url}/ui/login", data={"credential": credential, "csrf_token": token},
                    allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    return web


def seed_owned_rows(settings: Any) -> dict[str, Any]:
    """Two producer keys with one job each (one with secret-looking params), and artifacts to serve or refuse."""
    from shared.apikeys import create_api_key
    from shared.models import Artifact, Attempt, Job, utcnow

    artifact_dir = Path(settings.artifact_dir).resolve()
    (artifact_dir / "seed").mkdir(parents=True, exist_ok=True)
    page = artifact_dir / "seed" / "page.html"
    page.write_text("<script>alert(1)</script>")
    sound = artifact_dir / "seed" / "tone.mp3"
    sound.write_bytes(b"ID3" + os.urandom(4000))
    sneaky = artifact_dir / "seed" / "sneaky.mp3"
    sneaky.symlink_to("/etc/passwd")
    with open_session(settings) as session:
        acme, other = create_api_key(session, settings, "acme", 1.0), create_api_key(session, settings, "other")
        now = utcnow()
        mine = Job(operation="music", status="succeeded", api_key_id=acme.id, created_at=now, updated_at=now,
                   params={"prompt": "hello", "api_key": "sk-LEAKME", "nested": {"notify_hook": "http://x/t0k3n",
                                                                                  "Secret_Value": "s3cr3t"}})
        theirs = Job(operation="lyrics", status="failed", api_key_id=other.id, params={"prompt": "x"},
                     created_at=now, updated_at=now)
        session.add_all([mine, theirs])
        session.flush()
        session.add_all([Attempt(job_id=mine.id, operation="music", endpoint="music", outcome="accepted",
                                 cost_usd=0.75, api_key_id=acme.id),
                         Attempt(job_id=theirs.id, operation="lyrics", endpoint="lyrics", outcome="accepted",
                                 cost_usd=0.02, api_key_id=other.id)])
        files = {name: Artifact(job_id=mine.id, kind=kind, source_url=f"http://x/{name}", path=str(path),
                                status="stored", content_type=ctype)
                 for name, kind, path, ctype in [("page", "json", page, "text/html"),
                                                 ("tone", "audio", sound, "audio/mpeg"),
                                                 ("sneaky", "audio", sneaky, "audio/mpeg"),
                                                 ("outside", "audio", Path("/etc/passwd"), "audio/mpeg"),
                                                 ("climb", "audio", Path("../../../etc/passwd"), "audio/mpeg")]}
        session.add_all(files.values())
        session.commit()
        return {"acme": acme, "other": other, "mine": mine.id, "theirs": theirs.id,
                "files": {name: a.id for name, a in files.items()}}


def test_dashboard_guards_login_csrf_files_secrets_and_key_scope(make_stack: StackFactory) -> None:
    stack, settings = make_stack(env={"HOOKLINE_UI_PASSWORD": PASSWORD}, beat=False, workers=0)
    seeded = seed_owned_rows(settings)
    base = stack.receiver_url

    anonymous = requests.get(f"{base}/ui/jobs?status=failed", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and "/ui/login?next=/ui/jobs?status%3Dfailed" in anonymous.headers["Location"]
    assert requests.get(f"{base}/ui/artifacts/{seeded['files']['tone']}", allow_redirects=False,
                        timeout=10).status_code == 302
    web = requests.Session()
    token = form_token(web.get(f"{base}/ui/login", timeout=10).text)
    assert web.post(f"{base}/ui/login", data={"credential": PASSWORD}, timeout=10).status_code == 400  # no token
    assert web.post(f"{base}/ui/login", data={"credential": "wrong", "csrf_token": token},
                    timeout=10).status_code == 401
    landed = web.post(f"{base}/ui/login", data={"credential": PASSWORD, "csrf_token": token,
                                                "next": "https://evil.example/ui"}, allow_redirects=False, timeout=10)
    assert landed.status_code == 302 and landed.headers["Location"] == "/ui/jobs"  # no open redirect
    operator = web
    page = operator.get(f"{base}/ui/jobs/{seeded['mine']}", timeout=10)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert not {"sk-LEAKME", "t0k3n", "s3cr3t"} & set(re.findall(r"sk-LEAKME|t0k3n|s3cr3t", page.text))
    assert page.text.count("[redacted]") == 3 and "hello" in page.text
    stale = operator.post(f"{base}/ui/logout", data={"csrf_token": "forged"}, timeout=10)
    assert stale.status_code == 400  # a cross-site POST without the session's token does nothing

    files = seeded["files"]
    tone = operator.get(f"{base}/ui/artifacts/{files['tone']}", headers={"Range": "bytes=0-99"}, timeout=10)
    assert tone.status_code == 206 and tone.headers["Content-Type"] == "audio/mpeg" and len(tone.content) == 100
    html = operator.get(f"{base}/ui/artifacts/{files['page']}", timeout=10)
    assert html.status_code == 200 and html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith("attachment")
    for name in ("sneaky", "outside", "climb"):  # only files under settings.artifact_dir are served
        assert operator.get(f"{base}/ui/artifacts/{files[name]}", timeout=10).status_code == 404, name
    assert operator.get(f"{base}/ui/costs", timeout=10).text.count("acme") == 1

    acme = session_for(stack, seeded["acme"].key)
    listing = acme.get(f"{base}/ui/jobs", timeout=10).text
    assert seeded["mine"] in listing and seeded["theirs"] not in listing
    assert acme.get(f"{base}/ui/jobs/{seeded['theirs']}", timeout=10).status_code == 404
    assert acme.get(f"{base}/ui/artifacts/{files['tone']}", timeout=10).status_code == 200
    costs = acme.get(f"{base}/ui/costs", timeout=10).text
    assert "$0.750" in costs and "other" not in costs and "75%" in costs
    other = session_for(stack, seeded["other"].key)
    assert other.get(f"{base}/ui/artifacts/{files['tone']}", timeout=10).status_code == 404

    with open_session(settings) as session:  # disabling a key ends its dashboard sessions at once
        from shared.models import ApiKey

        session.get(ApiKey, seeded["acme"].id).disabled = True  # type: ignore[union-attr]
        session.commit()
    assert acme.get(f"{base}/ui/jobs", allow_redirects=False, timeout=10).status_code == 302
