"""The review-checking page in a real browser: headless Chromium driven over the DevTools
protocol (a websocket), against the app served by uvicorn with a fake model pair.

A person's path: type a review whose second sentence is the spoiler, press Check, see
exactly that sentence blurred, click it to reveal it (Enter hides it again). Screenshots
land in test-output/."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar import Litestar
from websockets.sync.client import ClientConnection, connect

from api.app import create_app
from spoiler_assets_tests.api.fake_models import KeywordClassifier
from spoiler_assets_tests.api.shield_fakes import KeywordSentenceScorer, PairProvider, served_pair
from spoiler_assets_tests.servers import free_port, wait_until_ready

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "test-output"
CHROMIUM = Path("/usr/bin/chromium")
REVIEW = (
    "The cinematography is gorgeous and the cast is great. "
    "In the ending the hero dies in his brother's arms. "
    "The soundtrack 🎻 stayed with me for days."
)


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install it (apt-get install chromium, see .ci/run)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium): page not tested in a browser")
    return CHROMIUM


@contextlib.contextmanager
def serve(app: Litestar) -> Iterator[str]:
    """`app` on a free loopback port, by uvicorn in a thread, for the block's duration."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until_ready(lambda: server.started, "uvicorn", interval_s=0.05, process=thread)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Browser:
    """One page of a headless Chromium, commanded over the DevTools protocol."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:  # events arrive in between; only our answer matters
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 20) -> Any:
        deadline = time.monotonic() + timeout_s
        while not (value := self.js(expression)):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.1)
        return value

    def click(self, selector: str) -> None:
        """A real left click (press and release) on the element: at the centre of its first
        line box (an inline sentence may wrap, and its bounding box then covers others)."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getClientRects()[0];"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1
            )

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                text="\r",
            )

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


@contextlib.contextmanager
def browser(chromium: Path, profile: Path) -> Iterator[Browser]:
    """Headless Chromium with remote debugging on a port of its choosing, one page."""
    process = subprocess.Popen(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1100,1300",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until_ready(
            lambda: port_file.exists() and port_file.read_text().count("\n") >= 1,
            "chromium's DevTools port",
            timeout_s=60,
            interval_s=0.1,
            process=process,
        )
        port = port_file.read_text().splitlines()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [t for t in json.loads(response.read()) if t["type"] == "page"]
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            page = Browser(socket)
            page.call("Page.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _open_and_check(page: Browser, url: str, text: str) -> None:
    page.call("Page.navigate", url=url)
    page.wait_for("document.readyState === 'complete' && !!document.getElementById('check')")
    page.js("document.getElementById('review-text').focus()")
    page.call("Input.insertText", text=text)  # typed into the focused textarea
    page.click("#check")


_SENTENCES = """Array.from(document.querySelectorAll('#shielded .sentence')).map((s) => ({
  text: s.textContent, blurred: s.classList.contains('blurred'), revealed: s.classList.contains('revealed'),
  filter: getComputedStyle(s).filter, pressed: s.getAttribute('aria-pressed')}))"""


def test_the_spoiler_sentence_is_blurred_and_revealed_on_click(chromium_path: Path, tmp_path: Path) -> None:
    app = create_app(PairProvider(served_pair(KeywordClassifier(), KeywordSentenceScorer())))
    with serve(app) as url, browser(chromium_path, tmp_path / "profile") as page:
        _open_and_check(page, url, REVIEW)
        page.wait_for("!document.getElementById('result').hidden")
        page.screenshot(OUTPUT / "shield_page.png")
        before = page.js(_SENTENCES)

        page.click("#shielded .sentence.blurred")
        after_click = page.js(_SENTENCES)
        page.screenshot(OUTPUT / "shield_page_revealed.png")
        page.js("document.querySelector('#shielded .sentence.spoiler').focus()")
        page.press_enter()
        after_enter = page.js(_SENTENCES)
        facts = page.js(
            "({verdict: document.getElementById('verdict').textContent,"
            " model: document.getElementById('model').textContent,"
            " probability: document.getElementById('probability').textContent})"
        )

    assert "".join(s["text"] for s in before) == REVIEW  # the review shown whole, nothing lost
    assert [s["blurred"] for s in before] == [False, True, False]
    assert before[1]["text"].startswith("In the ending the hero dies") and "blur(" in before[1]["filter"]
    assert [s["blurred"] for s in after_click] == [False, False, False]
    assert (
        after_click[1]["revealed"]
        and after_click[1]["filter"] == "none"
        and after_click[1]["pressed"] == "true"
    )
    assert after_enter[1]["blurred"] and after_enter[1]["pressed"] == "false"  # keyboard hides it again
    assert facts["verdict"].startswith("Spoiler") and facts["model"] == "spoiler-shield, version 3"
    assert facts["probability"].startswith("50.0%")
    assert (OUTPUT / "shield_page.png").stat().st_size > 10_000


def test_an_api_error_is_shown_in_words(chromium_path: Path, tmp_path: Path) -> None:
    with serve(create_app(PairProvider(None))) as url, browser(chromium_path, tmp_path / "profile") as page:
        _open_and_check(page, url, REVIEW)
        message = page.wait_for(
            "!document.getElementById('error').hidden && document.getElementById('error').textContent"
        )
        result_hidden = page.js("document.getElementById('result').hidden")

    assert message.startswith("No model can answer right now (HTTP 503): no model registered")
    assert result_hidden is True
