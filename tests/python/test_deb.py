"""The installable package (`scripts/bundle.sh` → `Workroom_<version>_<arch>.deb`).

What is checked:
- the package holds the app, the two vhost-user daemons and the static guest agent, depends on
  QEMU and WebKitGTK, and stays under the 15 MB budget;
- the packaged app, unpacked as-is (`dpkg-deb -x`, no root needed) and started on an empty data
  directory, prepares the guest image itself from the agent it carries, showing progress as
  numbers, lands on the conversation and gets an answer from a VM booted from that image, with
  the packaged daemons first on PATH.

The package is `$WORKROOM_DEB`, else the newest under `<target>/release/bundle/deb/`; the tests
skip when there is none (build one with `scripts/bundle.sh`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import pytest

from binaries import target_dir

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402

from app_driver import App, Page, which  # noqa: E402

DEB_BUDGET = 15_000_000
HELLO = "Hello from a VM built by the packaged app."


@pytest.fixture(scope="module")
def deb() -> Path:
    explicit = os.environ.get("WORKROOM_DEB")
    if explicit:
        return Path(explicit)
    debs = sorted((target_dir() / "release" / "bundle" / "deb").glob("*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        pytest.skip("no .deb: build one with scripts/bundle.sh (or set WORKROOM_DEB)")
    return debs[-1]


@pytest.fixture(scope="module")
def unpacked(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def test_the_package_holds_the_app_the_daemons_and_the_agent(deb: Path, unpacked: Path) -> None:
    assert deb.stat().st_size < DEB_BUDGET, f"{deb.name} is {deb.stat().st_size / 1e6:.1f} MB (budget 15 MB)"
    control = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Depends"], check=True,
                             capture_output=True, text=True).stdout
    assert "qemu-system-x86" in control and "libwebkit2gtk-4.1" in control, control
    for program in ("workroom-app", "virtiofsd", "vhost-device-vsock"):
        path = unpacked / "usr" / "bin" / program
        assert path.is_file() and os.access(path, os.X_OK), f"{path} missing or not executable"
    agent = unpacked / "usr" / "lib" / "Workroom" / "workroom-agent"
    header = agent.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", "the bundled agent is not an ELF executable"
    # Static: the image builder refuses anything with an interpreter; check the same here.
    readelf = subprocess.run(["readelf", "-l", str(agent)], capture_output=True, text=True).stdout
    assert "INTERP" not in readelf, "the bundled agent is dynamically linked"
    desktop = list((unpacked / "usr" / "share" / "applications").glob("*.desktop"))
    assert desktop and "Exec=workroom-app" in desktop[0].read_text(), desktop


def test_the_packaged_app_prepares_its_image_and_runs_a_session(unpacked: Path, fake_model, tmp_path: Path) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: run under `xvfb-run -a`")
    if which("tauri-driver") is None or which("WebKitWebDriver") is None:
        pytest.skip("tauri-driver or WebKitWebDriver is missing")
    server = fake_model({"rules": [{"when": {}, "reply": {"content": [{"type": "text", "text": HELLO}]}}]})
    home = tmp_path / "workroom-home"  # empty: no image, no settings
    folder = tmp_path / "Packaged Folder"
    folder.mkdir()
    env = dict(os.environ)
    # The packaged daemons come first; QEMU comes from the system, as the package's Depends says.
    env["PATH"] = f"{unpacked / 'usr' / 'bin'}:{Path.home() / '.cargo' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["WORKROOM_HOME"] = str(home)
    env["WORKROOM_BASE_URL"] = server.url
    env["ANTHROPIC_API_KEY"] = "sk-test"
    env["WORKROOM_WEBKIT_DEFAULTS"] = "1"  # for WebKitWebDriver's screenshots (see webview_defaults)
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        env.pop(name, None)
    app = App(unpacked / "usr" / "bin" / "workroom-app", env, tmp_path / "tauri-driver.log")
    shots = Path(os.environ.get("WORKROOM_E2E_SHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        page = Page(app.start(folder), shots, "deb")
        # The first run prepares the image by itself; progress is shown as a percentage.
        seen: set[str] = set()

        def progress_or_done(d) -> bool:
            for p in d.find_elements(By.CSS_SELECTOR, ".image-setup .progress p"):
                seen.add(p.text)
            return bool(d.find_elements(By.CSS_SELECTOR, ".folder-chips .chip"))

        deadline = time.monotonic() + 300
        while not progress_or_done(page.driver):
            if page.driver.find_elements(By.CSS_SELECTOR, ".image-setup [role=alert]"):
                page.shot("image-failed")
                raise AssertionError(f"preparing the image failed:\n{page.text()}")
            if time.monotonic() > deadline:
                page.shot("no-session")
                raise AssertionError(f"no session after 5 minutes:\n{page.text()}")
            time.sleep(0.2)
        percentages = {s for s in seen if s.endswith("%)")}
        assert len(percentages) >= 2, f"the image step showed no progress numbers: {seen}"
        manifest = json.loads((home / "images" / platform.machine() / "manifest.json").read_text())
        assert manifest["agent"]["source"] == "given", manifest["agent"]
        page.shot("session-after-first-run")
        page.send("Hello?")
        page.wait_turn_end(0, timeout=120)
        assert HELLO in page.text()
        page.shot("answered")
    finally:
        app.stop()
