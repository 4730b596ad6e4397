"""cs-review: the real command in a subprocess, its page driven by Playwright in Debian's Chromium (one
browser for the module), its safety checked with raw HTTP, --auto and --transport terminal without a browser.
Media are tiny: a 2 s 320x180 MP4 and small JPEG/PNG files made with ffmpeg."""

from __future__ import annotations

import http.client
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BIN = Path(sys.executable).parent
CS_REVIEW = str(BIN / "cs-review")
CHROMIUM = "/usr/bin/chromium"
NOTES = Path("/work/wt/notes")  # where the integrator looks at a couple of screenshots, when it exists
CORPUS = Path(__file__).resolve().parents[1] / "data" / "checks_corpus.jsonl"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("review-media")
    video = folder / "video.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(video))
    files = {"video": video}
    for name, colour in (("thumb1.jpg", "red"), ("thumb2.jpg", "blue"), ("shot1.png", "green"),
                         ("shot2.png", "orange"), ("alt1.png", "purple"), ("alt2.png", "yellow")):
        ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:size=320x180", "-frames:v", "1", str(folder / name))
        files[name] = folder / name
    return files


def record(media: dict, rid: str, title: str = "Pull a Better Espresso Shot", **extra) -> dict:
    thumbs = [{"path": str(media["thumb1.jpg"]), "width": 320, "height": 180, "size_bytes": 1000, "score": 0.9},
              {"path": str(media["thumb2.jpg"]), "width": 320, "height": 180, "size_bytes": 1000, "score": 0.8}]
    base = {"id": rid, "topic": "home espresso", "title": title, "hook": "A great shot starts with fresh beans.",
            "audience": "home baristas",
            "script": {"title": title, "language": "en", "cta": "Subscribe for more about home espresso.",
                       "segments": [{"text": "A great shot starts with fresh beans. Grind fine enough that the shot "
                                             "runs about thirty seconds.", "visual": "espresso", "on_screen": "Fresh beans"},
                                    {"text": "Tamp level with firm pressure. Watch for honey coloured crema.",
                                     "visual": "crema", "on_screen": "Tamp and watch"}]},
            "video": {"path": str(media["video"]), "duration_s": 2.0, "width": 320, "height": 180},
            "thumbs": thumbs, "thumb": thumbs[0],
            "meta": {"title": title, "description": "Dial in your grinder and tamp level for a sweeter espresso.",
                     "tags": ["espresso", "home espresso"], "category_id": "27", "privacy": "public",
                     "made_for_kids": False, "synthetic_media": False}}
    base.update(extra)
    return base


def shots(media: dict) -> list[dict]:
    """Two stock shots whose alternatives are written by hand, as cs-visuals keeps them."""
    alternatives = [{"provider": "pexels", "asset_id": 11, "kind": "clip", "url": "https://www.pexels.com/video/11/",
                     "preview": str(media["alt1.png"]), "author": "Ana", "license": "Pexels License", "duration_s": 6},
                    {"provider": "pixabay", "asset_id": 22, "kind": "still", "url": "https://pixabay.com/photos/22/",
                     "preview": str(media["alt2.png"]), "author": "Ben", "license": "Pixabay License", "duration_s": None}]
    return [{"start": 0, "end": 1, "kind": "still", "text": "A great shot starts with fresh beans.", "path": str(media["shot1.png"]),
             "provider": "pexels", "asset_id": 1, "author": "Cho", "license": "Pexels License", "alternatives": alternatives},
            {"start": 1, "end": 2, "kind": "still", "text": "Tamp level with firm pressure.", "path": str(media["shot2.png"]),
             "provider": "pixabay", "asset_id": 2, "author": "Dee", "license": "Pixabay License",
             "alternatives": alternatives[:1]}]


class Run:
    """cs-review in a subprocess with RECORDS on stdin; `url` is the page's address from its start-up line."""

    def __init__(self, records: list[dict], *args: str, env: dict | None = None):
        self.proc = subprocess.Popen([CS_REVIEW, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.proc.stdin.write("".join(json.dumps(r) + "\n" for r in records))
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it again
        self.first = self.proc.stderr.readline()
        assert self.first.startswith("cs-review: open http://127.0.0.1:"), self.first
        self.url = self.first.split("open ", 1)[1].strip()

    def finish(self, timeout: float = 30) -> tuple[int, list[dict], str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, [json.loads(line) for line in out.splitlines()], self.first + err


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is missing: apt-get install chromium (requirements-apt.txt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    yield context.new_page()
    context.close()


def screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar is drawn where the page was scrolled to
    page.screenshot(path=str(path), full_page=True)
    if NOTES.is_dir():
        shutil.copy(path, NOTES / f"review-{name}.png")
    return path


def article(page, rid: str):
    return page.locator(f'article[data-record-id="{rid}"]')


def decided(page, rid: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(article(page, rid).get_by_role("status")).to_have_text(text)


# --- the page --------------------------------------------------------------------------------------------


def test_approve_an_edited_title_a_chosen_thumbnail_and_swapped_shots_and_reject_another(media, page, tmp_path):
    demo = json.loads(CORPUS.read_text().splitlines()[0])["record"]  # the demo's "Why the Sky Is Blue"
    demo = {**demo, "video": {"path": str(media["video"]), "duration_s": 2.0}}
    run = Run([record(media, "espresso", visuals=shots(media)), demo])
    page.goto(run.url)
    first = article(page, "espresso")
    first.get_by_label("Title").fill("Espresso at Home, Dialled In")
    first.get_by_label("Thumbnail 2").check()
    assert first.get_by_role("img", name="Shot 1").count() == 1
    credit = first.locator(".shot").first.inner_text()
    assert "pexels" in credit and "Cho" in credit and "Pexels License" in credit
    first.get_by_label("Replace shot 1").select_option(label="Alternative 2: pixabay, Ben")
    first.get_by_label("Replace shot 2").select_option(label="A title card")
    first.get_by_role("button", name="Approve").click()
    decided(page, "espresso", "Approved")
    blocked = article(page, demo["id"])
    assert blocked.locator(".findings li.block").first.inner_text().startswith("BLOCK")  # blocks first, marked
    assert "Mulatto" in blocked.locator(".findings").inner_text()
    blocked.get_by_role("button", name="Reject").click()
    decided(page, demo["id"], "Rejected")
    screenshot(page, tmp_path, "approve-reject")
    page.get_by_role("button", name="Finish").click()
    status, out, err = run.finish()
    assert status == 0, err
    espresso, sky = out
    assert espresso["review"]["status"] == "approved" and espresso["review"]["by"] == "web"
    assert espresso["meta"]["title"] == "Espresso at Home, Dialled In"
    assert espresso["thumb"]["path"] == str(media["thumb2.jpg"])
    alternative = shots(media)[0]["alternatives"][1]
    assert espresso["review"]["edits"] == {"meta.title": "Espresso at Home, Dialled In", "thumb": str(media["thumb2.jpg"]),
                                           "visuals[0].replace": alternative, "visuals[1].replace": {"kind": "card"}}
    first_shot, second_shot = espresso["visuals"]
    assert first_shot["replace"] == alternative  # verbatim, as cs-visuals fetches it
    assert second_shot["replace"] == {"kind": "card"}
    assert first_shot["path"] == str(media["shot1.png"])  # the shot itself is cs-visuals' to change
    assert sky["review"]["status"] == "rejected"
    assert {f["check"] for f in sky["review"]["flags"]} >= {"offensive", "prompt-echo", "title-list"}


def test_request_changes_needs_a_note_and_a_refused_edit_says_why(media, page, tmp_path):
    run = Run([record(media, "espresso")])
    page.goto(run.url)
    one = article(page, "espresso")
    one.get_by_label("Title").fill("Espresso <the> Right Way")
    assert "characters" in one.locator(".count").first.inner_text()
    one.get_by_role("button", name="Approve").click()
    from playwright.sync_api import expect

    expect(one.get_by_role("alert")).to_contain_text("title: contains < or >")  # checked again on the server
    screenshot(page, tmp_path, "refused")
    one.get_by_role("button", name="Request changes").click()
    expect(one.get_by_role("alert")).to_contain_text("Write a note")
    one.get_by_label("Note").fill("The crema sentence needs a shot of the crema.")
    one.get_by_label("Title").fill("Espresso the Right Way")
    one.get_by_role("button", name="Request changes").click()
    decided(page, "espresso", "Changes requested")
    screenshot(page, tmp_path, "changes")
    page.get_by_role("button", name="Finish").click()
    status, [out], err = run.finish()
    assert status == 0, err
    assert out["review"]["status"] == "changes" and out["review"]["notes"] == "The crema sentence needs a shot of the crema."


def test_a_100_record_batch_is_usable_within_2_seconds(media, page):
    run = Run([record(media, f"r{n:03}", title=f"Espresso Tip Number {n}") for n in range(100)])
    page.goto(run.url, wait_until="commit")  # usable: every record drawn and answering; posters may still load
    page.wait_for_selector("body[data-ready-ms]")
    assert int(page.get_attribute("body", "data-ready-ms")) < 2000  # from navigation start, as the browser counts
    started = time.monotonic()
    article(page, "r099").get_by_role("button", name="Approve").click()
    decided(page, "r099", "Approved")
    assert time.monotonic() - started < 2.0  # the last record's decision, taken and confirmed by the server
    assert page.locator("article").count() == 100
    page.get_by_role("button", name="Finish").click()
    status, out, err = run.finish()
    assert status == 4, err  # 99 went out unreviewed: cron can try again
    assert [r["review"]["status"] for r in out].count("approved") == 1 and len(out) == 100


# --- without a browser -------------------------------------------------------------------------------------


def test_timeout_sends_records_out_unreviewed_with_exit_4_and_open_keeps_stdout_for_records(media, tmp_path):
    browser = tmp_path / "browser"  # what --open starts (python's webbrowser honours $BROWSER); it chatters
    browser.write_text(f"#!/bin/sh\necho 'browser noise on stdout'\necho \"$1\" > {tmp_path / 'opened'}\n")
    browser.chmod(0o755)
    run = Run([record(media, "late")], "--timeout", "1", "--open", env={**os.environ, "BROWSER": f"{browser} %s"})
    status, [out], err = run.finish()  # stdout holds the one record and nothing else
    assert status == 4 and "unreviewed" in err
    assert out["review"]["status"] == "unreviewed" and out["review"]["flags"] == []
    assert (tmp_path / "opened").read_text().strip() == run.url


def request(url: str, path: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    connection.request(method, path, body=body, headers={"Host": where.netloc, **(headers or {})})
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, dict(answer.getheaders()), data


def test_token_host_origin_traversal_body_cap_and_ranges(media):
    run = Run([record(media, "safe")])
    base = urlsplit(run.url).path  # /TOKEN/
    assert request(run.url, "/")[0] == 403
    assert request(run.url, "/wrong-token/batch.json")[0] == 403
    assert request(run.url, "/file/0/video")[0] == 403
    assert request(run.url, base, headers={"Host": "evil.example:80"})[0] == 421  # DNS rebinding
    for path in ("file/0/../../../../etc/passwd", "file/0/%2e%2e/%2e%2e/etc/passwd", "file/0/thumb/9",
                 "file/1/video", "file/0//etc/passwd"):
        assert request(run.url, base + path)[0] == 404, path
    size = media["video"].stat().st_size
    status, headers, data = request(run.url, base + "file/0/video", headers={"Range": "bytes=100-199"})
    assert status == 206 and len(data) == 100 and headers["Content-Range"] == f"bytes 100-199/{size}"
    assert data == media["video"].read_bytes()[100:200]
    assert request(run.url, base + "file/0/video", headers={"Range": f"bytes={size + 5}-"})[0] == 416
    origin = {"Origin": f"http://{urlsplit(run.url).netloc}", "Content-Type": "application/json"}
    finish = json.dumps({"decisions": {"0": {"status": "approved"}}, "finish": True}).encode()
    assert request(run.url, base + "decide", "POST", {**origin, "Origin": "http://evil.example"}, finish)[0] == 403
    no_origin = {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}  # a form from elsewhere
    assert request(run.url, base + "decide", "POST", no_origin, finish)[0] == 403
    assert request(run.url, base + "decide", "POST", origin, b"x" * (2 << 20))[0] == 413
    assert request(run.url, base + "decide", "GET")[0] == 404
    assert request(run.url, base + "decide", "POST", origin, finish)[0] == 200
    status, [out], err = run.finish()
    assert status == 0 and out["review"]["status"] == "approved", err


def test_auto_approves_clean_records_and_leaves_blocked_ones_unreviewed(media):
    demo = json.loads(CORPUS.read_text().splitlines()[0])["record"]
    lines = "".join(json.dumps(r) + "\n" for r in (record(media, "clean"), demo))
    done = subprocess.run([CS_REVIEW, "--auto", "approve-clean"], input=lines, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4, done.stderr
    clean, sky = [json.loads(line) for line in done.stdout.splitlines()]
    assert clean["review"]["status"] == "approved" and clean["review"]["by"] == "auto"
    assert sky["review"]["status"] == "unreviewed" and any(f["severity"] == "block" for f in sky["review"]["flags"])
    again = subprocess.run([CS_REVIEW, "--auto", "approve-clean"], input=json.dumps(clean) + "\n",
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and json.loads(again.stdout)["review"]["at"] == clean["review"]["at"]  # done: kept


def test_terminal_transport_asks_on_the_terminal(media, tmp_path):
    """stdin carries the records, so the questions go to /dev/tty: a pseudo-terminal here."""
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps(record(media, "tty")) + "\n" + json.dumps(record(media, "tty2")) + "\n")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal; records come from the file
        fd = os.open(records, os.O_RDONLY)
        os.dup2(fd, 0)
        out = os.open(tmp_path / "out.jsonl", os.O_WRONLY | os.O_CREAT)
        os.dup2(out, 1)
        os.execv(CS_REVIEW, [CS_REVIEW, "--transport", "terminal"])
    said = b""
    for answer in (b"c\n", b"Shorter hook please\n", b"a\n", b"Espresso, Dialled In\n"):
        while not said.rstrip().endswith((b"?", b":")):
            ready, _, _ = select.select([terminal], [], [], 20)
            assert ready, said
            try:
                said += os.read(terminal, 4096)
            except OSError:  # the child closed the terminal: it has stopped
                pytest.fail(f"cs-review stopped; the terminal showed {said!r}")
        os.write(terminal, answer)
        said = b""
    _, code = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(code) == 0
    first, second = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert first["review"] | {"at": None, "flags": None} == {"status": "changes", "by": "terminal", "at": None,
                                                             "flags": None, "notes": "Shorter hook please", "edits": {}}
    assert second["review"]["status"] == "approved" and second["meta"]["title"] == "Espresso, Dialled In"


def test_another_host_warns_and_still_refuses_a_rebinding_name(media):
    proc = subprocess.Popen([CS_REVIEW, "--host", "0.0.0.0", "--timeout", "30"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps(record(media, "wide")) + "\n")
    proc.stdin.close()
    proc.stdin = None
    warning, started = proc.stderr.readline(), proc.stderr.readline()
    assert "anyone who can reach 0.0.0.0" in warning and started.startswith("cs-review: open http://0.0.0.0:")
    where = urlsplit(started.split("open ", 1)[1].strip())
    local = f"http://127.0.0.1:{where.port}{where.path}"
    assert request(local, where.path, headers={"Host": f"127.0.0.1:{where.port}"})[0] == 200  # an address
    assert request(local, where.path, headers={"Host": f"rebind.example:{where.port}"})[0] == 421  # a name
    origin = {"Origin": f"http://127.0.0.1:{where.port}", "Content-Type": "application/json"}
    body = json.dumps({"decisions": {"0": {"status": "rejected"}}, "finish": True}).encode()
    assert request(local, where.path + "decide", "POST", origin, body)[0] == 200
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and json.loads(out)["review"]["status"] == "rejected", err
