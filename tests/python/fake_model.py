"""Start the `fake-model` server binary from Python tests.

The server speaks the real Anthropic Messages and OpenAI Chat Completions streaming formats and
answers from a script (see `tests/fake-model/src/script.rs`). Typical use, outside pytest::

    from fake_model import start_fake_model

    with start_fake_model({"steps": [{"content": [{"type": "text", "text": "hi"}]}]}) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="sk-test")
        ...
        assert server.model_requests()[0]["body"]["model"] == "..."

Inside pytest, prefer the `fake_model` fixture from conftest.py, which stops servers on teardown.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from binaries import binary_path, ensure_binary
MODEL_PATHS = ("/v1/messages", "/v1/chat/completions")
READY_PREFIX = "listening on "


def fake_model_binary() -> Path:
    """Path of the server binary: $FAKE_MODEL_BIN, else <target dir>/debug/fake-model."""
    return binary_path("fake-model", "FAKE_MODEL_BIN")


class FakeServer:
    """A running `fake-model` process."""

    def __init__(self, process: subprocess.Popen, url: str, workdir: Path, log_path: Path,
                 script_path: Path, stderr_path: Path) -> None:
        self.process = process
        #: Base URL without /v1, e.g. "http://127.0.0.1:40123" (ANTHROPIC_BASE_URL).
        self.url = url
        #: Base URL for OpenAI-style clients, which expect the /v1 prefix.
        self.openai_url = url + "/v1"
        self.workdir = workdir
        self.log_path = log_path
        self.script_path = script_path
        self.stderr_path = stderr_path

    def requests(self) -> list[dict[str, Any]]:
        """Every request received so far: {method, path, headers, body, served_by?}."""
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def model_requests(self) -> list[dict[str, Any]]:
        """Only the POSTs to /v1/messages and /v1/chat/completions (query strings ignored)."""
        return [
            r for r in self.requests()
            if r["method"] == "POST" and r["path"].split("?", 1)[0] in MODEL_PATHS
        ]

    def stderr(self) -> str:
        """The server's own log so far (useful in assertion messages)."""
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in `timeout` seconds. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> "FakeServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_fake_model(script: dict[str, Any], *, workdir: Path | str | None = None,
                     port: int | None = None, timeout: float = 30.0,
                     env: dict[str, str] | None = None) -> FakeServer:
    """Write `script` to a file, start the server on it and wait until it is listening.

    `workdir` receives script.json, requests.jsonl and fake-model.stderr (a fresh temporary
    directory if not given). The caller must `stop()` the server (or use it as a context manager).
    """
    binary = ensure_binary("fake-model", "fake-model", "FAKE_MODEL_BIN")
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="fake-model-"))
    workdir.mkdir(parents=True, exist_ok=True)
    script_path = workdir / "script.json"
    log_path = workdir / "requests.jsonl"
    stderr_path = workdir / "fake-model.stderr"
    script_path.write_text(json.dumps(script, indent=2), encoding="utf-8")
    log_path.unlink(missing_ok=True)

    argv = [str(binary), "--script", str(script_path), "--log", str(log_path)]
    if port is not None:
        argv += ["--port", str(port)]
    with stderr_path.open("wb") as stderr_file:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=stderr_file, env=env, bufsize=0)
    assert process.stdout is not None

    def fail(why: str) -> RuntimeError:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        log = stderr_path.read_text(encoding="utf-8", errors="replace")
        return RuntimeError(f"fake-model {why}; stderr:\n{log}")

    line = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise fail(f"did not report readiness within {timeout}s")
            if not selector.select(remaining):
                continue
            byte = process.stdout.read(1)
            if not byte:
                raise fail(f"exited with {process.wait()} before listening")
            line += byte
    text = line.decode().strip()
    if not text.startswith(READY_PREFIX):
        raise fail(f"printed {text!r} instead of {READY_PREFIX!r}")
    url = text[len(READY_PREFIX):]
    return FakeServer(process, url, workdir, log_path, script_path, stderr_path)
