"""Driving the desktop app (`workroom-app`) through WebDriver: `tauri-driver` (crates.io) fronting
`WebKitWebDriver` (Debian's `webkit2gtk-driver`). Shared by the end-to-end test
(`test_app_e2e.py`) and the app benchmark (`bench_app.py`).

tauri-driver hands its own environment to the app, so the app's settings (`WORKROOM_HOME`,
`WORKROOM_BASE_URL`, `ANTHROPIC_API_KEY`) are set in tauri-driver's environment.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

DRIVER_PORT = 4444  # tauri-driver's default
ARCH = platform.machine()


def which(name: str) -> str | None:
    extra = str(Path.home() / ".cargo" / "bin")
    return shutil.which(name) or shutil.which(name, path=extra)


def image_dir() -> Path:
    return Path.home() / ".local" / "share" / "workroom" / "images" / ARCH


# --- the app, through tauri-driver ----------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class App:
    """One tauri-driver process and the WebDriver session (app launch) on it."""

    def __init__(self, binary: Path, env: dict[str, str], log: Path) -> None:
        self.binary = binary
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None
        self.driver: WebDriver | None = None

    def start(self, folder: Path) -> WebDriver:
        if port_open(DRIVER_PORT):
            raise AssertionError(f"port {DRIVER_PORT} is already in use: another tauri-driver is running")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [which("tauri-driver") or "tauri-driver", "--port", str(DRIVER_PORT)],
                env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while not port_open(DRIVER_PORT):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tauri-driver did not listen on {DRIVER_PORT}:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {
            "application": str(self.binary),
            "args": ["--open-folder", str(folder)],
        })
        # A new session launches the app; a connection dropped by a driver still settling is retried once.
        for attempt in range(2):
            try:
                self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{DRIVER_PORT}", options=options)
                return self.driver
            except Exception as error:  # urllib3's ProtocolError is not a WebDriverException
                if attempt == 1:
                    raise AssertionError(
                        f"no WebDriver session ({error!r}); tauri-driver log:\n{self.log.read_text(errors='replace')}"
                    ) from error
                time.sleep(1)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # the driver may close the connection as the app exits; cleanup follows
                pass
            self.driver = None
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
            self.process = None
        deadline = time.monotonic() + 5
        while port_open(DRIVER_PORT) and time.monotonic() < deadline:
            time.sleep(0.05)


def app_pids(binary: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe") == str(binary):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


# --- page helpers ---------------------------------------------------------------------------------


class Page:
    def __init__(self, driver: WebDriver, shots: Path, prefix: str) -> None:
        self.driver = driver
        self.shots = shots
        self.prefix = prefix

    def text(self) -> str:
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException as error:
            return f"(page text unavailable: {error.msg})"

    def wait(self, what: str, condition: Callable[[WebDriver], Any], timeout: float = 30) -> Any:
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(WebDriverException,)).until(condition)
        except TimeoutException:
            self.shot(f"FAILED-{what[:40].replace(' ', '-').replace('/', '-')}")
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; page text:\n{self.text()}") from None

    def shot(self, name: str) -> None:
        try:
            self.driver.save_screenshot(str(self.shots / f"{self.prefix}-{name}.png"))
        except WebDriverException:
            pass

    def all(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def count(self, css: str) -> int:
        return len(self.all(css))

    def send(self, message: str) -> None:
        box = self.wait("the composer", lambda d: d.find_element(By.ID, "composer-text"))
        box.click()
        box.send_keys(message)
        box.send_keys(Keys.ENTER)

    def button(self, scope_css: str, label: str, timeout: float = 30):
        def find(d: WebDriver):
            for scope in d.find_elements(By.CSS_SELECTOR, scope_css):
                for button in scope.find_elements(By.TAG_NAME, "button"):
                    if button.text.strip().startswith(label) and button.is_displayed() and button.is_enabled():
                        return button
            return False
        return self.wait(f'a button "{label}" in {scope_css}', find, timeout)

    def turn_footers(self) -> list[str]:
        return [f.text for f in self.all(".turn-footer")]

    def wait_turn_end(self, before: int, timeout: float = 60) -> str:
        footers = self.wait(f"turn {before + 1} to end (a .turn-footer)",
                            lambda d: (f := self.turn_footers()) and len(f) > before and f, timeout)
        return footers[before]
