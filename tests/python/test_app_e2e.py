"""End-to-end tests of the desktop app (`workroom-app`), driven through WebDriver.

The real app runs under X (Xvfb) and boots a real VM; `tauri-driver` (crates.io) fronts
`WebKitWebDriver` (Debian's `webkit2gtk-driver`), and the fake model server stands in for the
provider. Run with::

    xvfb-run -a .venv/bin/pytest -q tests/python/test_app_e2e.py

The tests skip when there is no display, no `tauri-driver`, no `WebKitWebDriver`, no built app
or no guest image. Screenshots of the main steps go to `$WORKROOM_E2E_SHOTS` (default: pytest's
temporary directory for the test).

The driving itself (tauri-driver, WebDriver session, page helpers) is in `app_driver.py`.
"""

from __future__ import annotations

import os
import json
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from binaries import REPO_ROOT, target_dir
from fake_model import FakeServer

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

from app_driver import ARCH, App, Page, app_pids, image_dir, processes_mentioning, which  # noqa: E402

HELLO_REPLY = (
    "Hello from the fake model. This answer arrives in many small pieces, "
    "so the page has to render a stream."
)
OLD_CONTENT = "ORIGINAL-CONTENT: written by the test\n"
NEW_CONTENT = "NEW-CONTENT: written by the agent after Allow once\n"
AFTER_TOOL = "Tool step finished."


# --- what the machine must have -------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_binary() -> Path:
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: run under `xvfb-run -a` (package xvfb) for the app e2e tests")
    if which("tauri-driver") is None:
        pytest.skip("tauri-driver is missing (`cargo install --locked tauri-driver`)")
    if which("WebKitWebDriver") is None:
        pytest.skip("WebKitWebDriver is missing (Debian package webkit2gtk-driver)")
    if not (image_dir() / "manifest.json").exists():
        pytest.skip(f"no guest image in {image_dir()} (build it with `workroom-image`)")
    binary = target_dir() / "debug" / "workroom-app"
    if not binary.exists():
        if not (REPO_ROOT / "ui" / "dist" / "index.html").exists():
            pytest.skip("ui/dist is missing: `cd ui && npm run build`, then `cargo build -p workroom-app`")
        subprocess.run(["cargo", "build", "-p", "workroom-app"], cwd=REPO_ROOT, check=True)
    return binary


@pytest.fixture
def shots_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("WORKROOM_E2E_SHOTS") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def workroom_env(tmp_path: Path) -> Callable[[FakeServer], dict[str, str]]:
    """tauri-driver's (hence the app's) environment, with a fresh data directory per test."""
    home = tmp_path / "workroom-home"
    (home / "images").mkdir(parents=True)
    (home / "images" / ARCH).symlink_to(image_dir())

    def make(server: FakeServer) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{Path.home() / '.cargo' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["WORKROOM_HOME"] = str(home)
        env["WORKROOM_BASE_URL"] = server.url
        env["ANTHROPIC_API_KEY"] = "sk-test"
        # WebKitWebDriver's screenshots hang with the renderer the app picks on GPU-less machines.
        env["WORKROOM_WEBKIT_DEFAULTS"] = "1"
        for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
            env.pop(name, None)
        return env

    return make


@pytest.fixture
def launch(app_binary: Path, tmp_path: Path) -> Iterator[Callable[[dict[str, str], Path], WebDriver]]:
    """Starts tauri-driver and the app (one launch per call); everything is stopped at teardown."""
    apps: list[App] = []
    before = set(app_pids(app_binary))

    def start(env: dict[str, str], folder: Path) -> WebDriver:
        for app in apps:
            app.stop()
        app = App(app_binary, env, tmp_path / f"tauri-driver-{len(apps)}.log")
        apps.append(app)
        return app.start(folder)

    yield start
    for app in apps:
        app.stop()
    # The app shuts its VMs down on SIGTERM; anything left of this test's launches goes too.
    for pid in set(app_pids(app_binary)) - before:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    home = str(tmp_path / "workroom-home")
    deadline = time.monotonic() + 10
    while processes_mentioning(home) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in processes_mentioning(home):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _page_server() -> ThreadingHTTPServer:
    """A one-page web server on a host loopback address (closed when the test process ends)."""
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = f"<html><body><p>{PAGE_BODY}</p></body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((PAGE_HOST, 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- the script ----------------------------------------------------------------------------------


# A page on a host loopback address nobody has allowed: the app must ask before WebFetch reaches it.
PAGE_HOST = "127.0.0.5"
PAGE_BODY = "PAGE-BODY: fetched through the host's network proxy"
# The index of the generic "after a tool result" rule in the script below.
AFTER_TOOL_RULE = 10


def _script(page_port: int = 9) -> dict[str, Any]:
    def text(t: str, **extra: Any) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": t}], **extra}

    def tool(name: str, tool_input: dict[str, Any], say: str) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": say},
                            {"type": "tool_use", "name": name, "input": tool_input}]}

    return {
        "rules": [
            # (1) a streamed answer: small chunks with a pause between events.
            {"when": {"last_user_text_contains": "say hello"},
             "reply": text(HELLO_REPLY, text_chunk=4, event_delay_ms=25)},
            # (2) overwrite an existing file: Read first (the Write tool insists), then Write.
            {"when": {"last_user_text_contains": "overwrite notes"},
             "reply": tool("Read", {"file_path": "notes.txt"}, "Reading notes.txt first.")},
            {"when": {"last_is_tool_result": True, "tool_result_contains": "ORIGINAL-CONTENT"},
             "reply": tool("Write", {"file_path": "notes.txt", "content": NEW_CONTENT}, "Now overwriting it.")},
            # (3) a command the person denies.
            {"when": {"last_user_text_contains": "touch a file"},
             "reply": tool("Bash", {"command": "touch denied.txt"}, "Creating the file.")},
            # (4) a long command the person stops.
            {"when": {"last_user_text_contains": "wait a long time"},
             "reply": tool("Bash", {"command": "sleep 30"}, "Sleeping.")},
            # (2c) a multiple-choice question, answered in the window.
            {"when": {"last_user_text_contains": "ask me"},
             "reply": tool("AskUserQuestion", {"questions": [{
                 "question": "Which format?", "header": "Format", "multiSelect": False,
                 "options": [{"label": "CSV", "description": "plain text"},
                             {"label": "XLSX", "description": "Excel"}]}]}, "One question first.")},
            # (2d) a web page on a host nobody allowed yet: the network prompt.
            {"when": {"last_user_text_contains": "fetch the page"},
             "reply": tool("WebFetch", {"url": f"http://{PAGE_HOST}:{page_port}/", "prompt": "What does it say?"},
                           "Fetching it.")},
            # (2e) two sub-agents at once; each reports back into its own card.
            {"when": {"last_user_text_contains": "split the work"},
             "reply": {"content": [
                 {"type": "tool_use", "name": "Task", "input": {"description": "Count the files", "prompt": "Please count the files."}},
                 {"type": "tool_use", "name": "Task", "input": {"description": "Read the notes", "prompt": "Please read the notes."}}]}},
            {"when": {"last_user_text_contains": "Please count the files"}, "reply": text("SUBAGENT-REPORT: counted")},
            # (2f) a spreadsheet, previewed in the window.
            {"when": {"last_user_text_contains": "expense sheet"},
             "reply": tool("CreateSpreadsheet", {"file_path": "Expenses.xlsx", "sheets": [{"name": "March", "rows": [
                 ["Vendor", "Amount"], ["Cafe", 12.5], ["Train", 84], ["Hotel", 230.4],
                 ["Total", {"formula": "=SUM(B2:B4)"}]]}]}, "Writing the sheet.")},
            {"when": {"last_is_tool_result": True}, "reply": text(AFTER_TOOL)},
            {"when": {}, "reply": text("fallback answer")},
        ],
    }


# --- the test -------------------------------------------------------------------------------------


# A real window, a real VM under software emulation and a WebDriver bridge on a shared 2-core
# machine: one retry absorbs a lost WebDriver connection; every assertion still has to hold.
@pytest.mark.flaky(reruns=1)
def test_app_end_to_end(fake_model, workroom_env, launch, shots_dir: Path, tmp_path: Path) -> None:
    """Open a folder, stream an answer, allow a Write, undo and redo it, deny a Bash, stop a long
    tool, restart."""
    page_server = _page_server()
    server = fake_model(_script(page_server.server_address[1]))
    env = workroom_env(server)
    folder = tmp_path / "Project Folder"
    folder.mkdir()
    notes = folder / "notes.txt"
    notes.write_text(OLD_CONTENT, encoding="utf-8")
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 2)
        mark = now

    # --- first launch: the folder from the command line opens a session --------------------------
    page = Page(launch(env, folder), shots_dir, "1")
    page.wait("the session on the launch folder (a chat with the folder chip)",
              lambda d: any(c.text == folder.name for c in d.find_elements(By.CSS_SELECTOR, ".folder-chips .chip")))
    page.shot("session-opened")
    lap("launch")

    # (1) a message and its streamed answer
    page.send("Please say hello")
    page.wait("the user's message in the chat",
              lambda d: any("Please say hello" in m.text for m in d.find_elements(By.CSS_SELECTOR, ".user-message")))
    page.wait("the answer to start streaming (.assistant-message with a .stream-cursor)",
              lambda d: d.find_elements(By.CSS_SELECTOR, ".assistant-message .stream-cursor"), timeout=60)
    partial = page.all(".assistant-message")[-1].text
    page.shot("streaming")
    footer = page.wait_turn_end(0)
    answer = page.all(".assistant-message")[-1].text
    assert HELLO_REPLY in answer, f"streamed answer {answer!r}; page:\n{page.text()}"
    assert partial != HELLO_REPLY, "the answer was seen only complete, never while streaming"
    assert footer.startswith("Done in"), footer
    assert not page.all(".assistant-message .stream-cursor"), "the stream cursor stayed after the turn"
    page.shot("answered")
    lap("hello (incl. VM boot)")

    # (2) Allow once for a Write that overwrites notes.txt
    page.send("Please overwrite notes")
    card = page.wait("the Write permission card",
                     lambda d: [c for c in d.find_elements(By.CSS_SELECTOR, ".permission-card") if c.is_displayed()])[0]
    assert "NEW-CONTENT" in card.text, f"the card does not show the new content:\n{card.text}"
    assert notes.read_text(encoding="utf-8") == OLD_CONTENT, "the file changed before the answer"
    page.shot("write-permission")
    page.button(".permission-card", "Allow once").click()
    page.wait_turn_end(1)
    page.wait("the permission card to go away", lambda d: not d.find_elements(By.CSS_SELECTOR, ".permission-card"))
    assert notes.read_text(encoding="utf-8") == NEW_CONTENT, "notes.txt does not hold the agent's content"
    assert AFTER_TOOL in page.text()
    page.shot("write-allowed")
    lap("write allowed")

    # (2b) the turn's changed files, its diff, undo, redo, and a conflict with the person's edit
    card = page.wait("the changed-files card of turn 1",
                     lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="changes-card"][data-turn="1"]'))[0]
    row = page.wait("notes.txt in the changed files",
                    lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, '[data-testid="change-row"]')
                               if r.get_attribute("data-path") == "notes.txt"])[0]
    row.click()
    page.wait("the diff of notes.txt", lambda d: "NEW-CONTENT" in card.text and "ORIGINAL-CONTENT" in card.text)
    page.shot("changes-diff")
    card.find_element(By.CSS_SELECTOR, '[data-testid="undo-turn"]').click()
    page.wait("the turn to show as undone", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="turn-undone"]'))
    assert notes.read_text(encoding="utf-8") == OLD_CONTENT, "undo did not put notes.txt back"
    page.shot("undone")
    page.wait("the Redo button", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="redo-turn"]'))[0].click()
    page.wait("notes.txt to hold the agent's content again",
              lambda d: notes.read_text(encoding="utf-8") == NEW_CONTENT)
    page.wait("the Undo button again", lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="undo-turn"]')
                                                 if b.is_displayed() and b.is_enabled()])
    # The person edits the file after the agent: undo asks before touching it.
    notes.write_text("USER-EDIT: the person's own change\n", encoding="utf-8")
    page.all('[data-testid="undo-turn"]')[0].click()
    dialog = page.wait("the conflict dialog", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="undo-conflicts"]'))[0]
    assert "notes.txt" in dialog.text, dialog.text
    assert notes.read_text(encoding="utf-8").startswith("USER-EDIT"), "undo overwrote the person's edit before asking"
    page.shot("undo-conflict")
    dialog.find_element(By.CSS_SELECTOR, '[data-testid="conflict-keep"]').click()
    page.wait("the conflict dialog to close",
              lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="undo-conflicts"]'))
    assert notes.read_text(encoding="utf-8").startswith("USER-EDIT"), "Keep my changes did not keep them"
    lap("changes, undo, redo, conflict")

    # (2c) the agent asks a multiple-choice question; the answer reaches the model
    page.send("Please ask me something")
    card = page.wait("the question card", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="question-card"]'))[0]
    assert "Which format?" in card.text, card.text
    [o for o in card.find_elements(By.CSS_SELECTOR, '[data-testid="question-option"]')
     if o.get_attribute("data-label") == "XLSX"][0].click()
    card.find_element(By.CSS_SELECTOR, '[data-testid="answers-send"]').click()
    page.wait_turn_end(2)
    answered = [r for r in server.model_requests() if '\\"Which format?\\"=\\"XLSX\\"' in json.dumps(r["body"])]
    assert answered, "the model never got the answer"
    page.shot("question-answered")
    lap("question answered")

    # (2d) WebFetch to a host nobody allowed: the window asks, and every request is listed
    page.send("Please fetch the page")
    card = page.wait("the network question", lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="network-card"]'))[0]
    assert PAGE_HOST in card.text, card.text
    page.shot("network-question")
    page.button('[data-testid="network-card"]', "Allow once").click()
    page.wait_turn_end(3)
    page.wait("the network line for the page", lambda d: [
        line for line in d.find_elements(By.CSS_SELECTOR, '[data-testid="network-line"]')
        if line.get_attribute("data-host") == PAGE_HOST and line.get_attribute("data-allowed") == "true"])
    fetched = [r for r in server.model_requests() if "PAGE-BODY" in json.dumps(r["body"])]
    assert fetched, "the page never reached the model"
    page.shot("network-allowed")
    lap("web fetch asked and allowed")

    # (2e) two sub-agents run at once; their work shows in their own cards, not in the conversation
    page.send("Please split the work")
    page.wait_turn_end(4)
    cards = page.wait("two finished sub-agent cards", lambda d: (c := [
        x for x in d.find_elements(By.CSS_SELECTOR, '[data-testid="subagent-card"]')
        if x.get_attribute("data-status") == "done"]) and len(c) == 2 and c)
    assert any("Count the files" in c.text for c in cards), [c.text for c in cards]
    main_text = " ".join(m.text for m in page.all(".assistant-message"))
    assert "SUBAGENT-REPORT" not in main_text, "a sub-agent's words landed in the main conversation"
    page.shot("subagents")
    lap("sub-agents")

    # (2f) a spreadsheet the agent wrote, previewed in the window
    page.send("Please make the expense sheet")
    page.wait_turn_end(5)
    assert (folder / "Expenses.xlsx").exists(), "the spreadsheet was not written"
    page.wait("the preview button", lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="preview-button"]')
                                              if b.is_displayed()])[-1].click()
    preview = page.wait("the table preview", lambda d: [p for p in d.find_elements(By.CSS_SELECTOR, '[data-testid="file-preview"]')
                                                        if p.get_attribute("data-kind") == "table"])[0]
    table = preview.find_element(By.CSS_SELECTOR, '[data-testid="preview-table"]').text
    assert "Hotel" in table and "326.9" in table, table
    page.shot("spreadsheet-preview")
    preview.send_keys(Keys.ESCAPE)
    page.wait("the preview to close", lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="file-preview"]'))
    lap("spreadsheet previewed")

    # (3) Deny a Bash command: it must not run
    page.send("Please touch a file")
    card = page.wait("the Bash permission card",
                     lambda d: [c for c in d.find_elements(By.CSS_SELECTOR, ".permission-card") if c.is_displayed()])[0]
    assert "touch denied.txt" in card.text, card.text
    page.shot("bash-permission")
    page.button(".permission-card", "Deny").click()
    page.wait_turn_end(6)
    assert not (folder / "denied.txt").exists(), "the denied command ran"
    assert server.model_requests()[-1]["served_by"] == f"rules[{AFTER_TOOL_RULE}]", \
        "the model did not get the denial as a tool result"
    page.shot("bash-denied")
    lap("bash denied")

    # (4) Stop during a long tool
    page.send("Please wait a long time")
    # `sleep` is a harmless command, which the agent may run without asking; answer if it asks.
    def sleep_started(d: WebDriver):
        cards = [c for c in d.find_elements(By.CSS_SELECTOR, ".permission-card") if c.is_displayed() and "sleep 30" in c.text]
        running = [c for c in d.find_elements(By.CSS_SELECTOR, ".tool-card.is-running") if "sleep 30" in c.text]
        return (cards and ("card", cards[0])) or (running and ("running", running[0]))

    kind, element = page.wait("the sleep command to run (or ask to)", sleep_started)
    if kind == "card":
        page.button(".permission-card", "Allow once").click()
        page.wait("the sleep command to be running",
                  lambda d: [c for c in d.find_elements(By.CSS_SELECTOR, ".tool-card.is-running") if "sleep 30" in c.text])
    page.shot("long-tool-running")
    stop = page.button(".composer", "Stop")
    stopped_at = time.monotonic()
    stop.click()
    footer = page.wait_turn_end(7, timeout=10)
    stop_seconds = time.monotonic() - stopped_at
    assert footer.startswith("Stopped after"), f"turn footer {footer!r}; page:\n{page.text()}"
    assert stop_seconds < 8, f"Stop took {stop_seconds:.1f}s"
    page.wait("the Stop button to go away",
              lambda d: not [b for b in d.find_elements(By.CSS_SELECTOR, ".composer button") if b.text.startswith("Stop")])
    page.shot("stopped")
    timings["stop to turn end"] = round(stop_seconds, 2)
    lap("long tool stopped")

    # Stop the VM before closing, so the window closes without asking.
    page.button(".vm-status", "Stop the virtual machine").click()
    page.wait("the VM to stop", lambda d: d.find_elements(By.CSS_SELECTOR, ".vm-stopped, .vm-idle"), timeout=30)
    lap("vm stopped")

    # --- (5) second launch, same data directory: the session and its history are there ----------
    other = tmp_path / "Other Folder"
    other.mkdir()
    page = Page(launch(env, other), shots_dir, "2")
    rows = page.wait("two sessions in the sidebar (the old one and the new launch folder's)",
                     lambda d: (r := d.find_elements(By.CSS_SELECTOR, ".session-row .session-open")) and len(r) >= 2 and r)
    page.wait("the new launch folder's session to open",
              lambda d: any(c.text == other.name for c in d.find_elements(By.CSS_SELECTOR, ".folder-chips .chip")))
    page.shot("restarted")
    old = [r for r in rows if r.get_attribute("aria-current") != "page"]
    assert len(old) == 1, f"expected one other session; sidebar:\n{page.driver.find_element(By.CSS_SELECTOR, '.sidebar').text}"
    old[0].click()
    page.wait("the old session's chip", lambda d: any(
        c.text == folder.name for c in d.find_elements(By.CSS_SELECTOR, ".folder-chips .chip")))
    page.wait("the old session's history (all four messages and the streamed answer)", lambda d: all(
        t in d.find_element(By.CSS_SELECTOR, ".chat-items").text
        for t in ("Please say hello", HELLO_REPLY, "Please overwrite notes", "Please touch a file",
                  "Please wait a long time")))
    footers = page.turn_footers()
    assert len(footers) == 8 and footers[-1].startswith("Stopped after"), f"turn footers after restart: {footers}"
    page.shot("history")
    lap("restart and history")
    print("e2e timings (s):", timings)


def _toolset_script() -> dict[str, Any]:
    def tool(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "tool_use", "name": name, "input": tool_input}]}

    python = ("python3 -c \"import openpyxl, docx, pptx, pypdf, pdfplumber, PIL; "
              "print('PY-OK', openpyxl.__version__, pdfplumber.__version__)\"")
    return {"rules": [
        {"when": {"last_user_text_contains": "use python"}, "reply": tool("Bash", {"command": python})},
        {"when": {"last_user_text_contains": "write the report"}, "reply": tool("CreatePdf", {
            "file_path": "Report.pdf", "title": "Quarterly report",
            "blocks": [{"heading": "Quarterly report", "level": 1}, {"paragraph": "Revenue grew 12 percent."},
                       {"table": [["Quarter", "Revenue"], ["Q1", "100"], ["Q2", "112"]]}]})},
        {"when": {"last_is_tool_result": True}, "reply": {"content": [{"type": "text", "text": AFTER_TOOL}]}},
        {"when": {}, "reply": {"content": [{"type": "text", "text": "fallback answer"}]}},
    ]}


@pytest.mark.flaky(reruns=1)
def test_full_toolset_from_settings_and_pdf_pages(fake_model, workroom_env, launch, shots_dir: Path,
                                                   tmp_path: Path) -> None:
    """Prepare the full toolset in Settings (progress bar), switch to it, run Python in the VM; then
    preview a PDF the agent wrote, drawn page by page."""
    server = fake_model(_toolset_script())
    env = workroom_env(server)
    folder = tmp_path / "Reports"
    folder.mkdir()
    page = Page(launch(env, folder), shots_dir, "toolset")
    page.wait("the session on the launch folder",
              lambda d: any(c.text == folder.name for c in d.find_elements(By.CSS_SELECTOR, ".folder-chips .chip")))

    # Settings → Toolset → Full → Prepare: a progress bar, then "Prepared", and the setting is saved.
    page.button(".sidebar", "Settings").click()
    toolset = page.wait("the Toolset group", lambda d: d.find_element(By.CSS_SELECTOR, 'section[aria-labelledby="settings-toolset"]'))
    [label for label in toolset.find_elements(By.CSS_SELECTOR, "label.choice") if label.text.startswith("Full")][0].click()
    prepare = page.button('section[aria-labelledby="settings-toolset"]', "Prepare the full toolset")
    # The bar may come and go between two polls: the page records what it showed.
    page.driver.execute_script(
        "window.__bar = []; new MutationObserver(() => { for (const b of document.querySelectorAll('progress'))"
        " window.__bar.push(b.value); })"
        ".observe(document.body, {subtree: true, childList: true, attributes: true});")
    prepare.click()
    page.wait("the toolset to be prepared", lambda d: "Prepared" in toolset.text, timeout=600)
    shown = page.driver.execute_script("return window.__bar;")
    assert shown and max(shown) > min(shown), f"the progress bar did not move: {shown}"
    radios = toolset.find_elements(By.CSS_SELECTOR, 'input[name="userland"]')
    assert [r.is_selected() for r in radios] == [False, True], toolset.text
    assert not toolset.find_elements(By.CSS_SELECTOR, '[role="alert"]'), toolset.text
    page.shot("prepared")
    page.wait("the close button", lambda d: d.find_element(By.CSS_SELECTOR, '[aria-label="Close settings"]')).click()
    page.wait("settings to close", lambda d: not d.find_elements(By.CSS_SELECTOR, 'section[aria-labelledby="settings-toolset"]'))

    # The session's VM starts now, with the full userland: Python and its document libraries run.
    page.send("Please use python")

    def python_ran(d: WebDriver):
        cards = [c for c in d.find_elements(By.CSS_SELECTOR, ".permission-card") if c.is_displayed()]
        if cards:
            page.button(".permission-card", "Allow once").click()
            return False
        return len(page.turn_footers()) >= 1

    page.wait("the Python command to run (allowed if asked)", python_ran, timeout=240)
    results = json.dumps(server.model_requests()[-1]["body"])
    assert "PY-OK 3.0.9 0.10.2" in results, results[-2000:]
    page.shot("python-ran")

    # A PDF the agent wrote, previewed as drawn pages.
    page.send("Please write the report")
    page.wait_turn_end(1, timeout=120)
    assert (folder / "Report.pdf").exists(), "the PDF was not written"
    page.wait("the preview button", lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="preview-button"]')
                                              if b.is_displayed()])[-1].click()
    preview = page.wait("the PDF preview", lambda d: [p for p in d.find_elements(By.CSS_SELECTOR, '[data-testid="file-preview"]')
                                                      if p.get_attribute("data-kind") == "pdf"])[0]
    canvas = page.wait("page 1 drawn", lambda d: d.find_elements(By.CSS_SELECTOR, 'canvas[data-page="1"][data-drawn="true"]'),
                       timeout=60)[0]
    # Something was drawn: the canvas has ink, not only a white page.
    inked = page.driver.execute_script(
        "const c = arguments[0]; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n;", canvas)
    assert inked > 100, f"page 1 looks blank ({inked} dark pixels)"
    assert "Page 1 of 1" in preview.text, preview.text
    page.shot("pdf-preview")
