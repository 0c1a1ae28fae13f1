"""The desktop app's benchmark: start-up time, memory, .deb size, and frame gaps while a long answer
streams. Prints one table and, with `--json PATH`, the numbers as JSON.

    xvfb-run -a .venv/bin/python tests/python/bench_app.py [--app PATH] [--deb PATH] [--quick]

- start-up: the app is launched N times on a fresh data directory (provider set, image present, no
  VM boots); the time from `exec` to the page reporting its home screen interactive (the
  `page_ready` command, printed by the app with `WORKROOM_REPORT_READY=1`). Median and range.
- memory: resident set of the app process (also its PSS and private dirty pages: most of its RSS
  is shared library pages), and of its WebKit helper processes, two seconds after the home
  screen is up (median over the launches), and again after the long answer below.
- .deb: size of the package `scripts/bundle.sh` built.
- streaming: the real path: the fake model streams a ~20k-token Markdown answer (~80 KB in
  ~12-character deltas, as fast as it can) through a real VM, the host and the window; a
  `requestAnimationFrame` loop in the page records every frame gap from the message being sent to
  the turn's end. Reported: the longest gap, the 99th percentile, frames over 50 ms.

Targets (issue 5): start < 1 s, app RSS < 150 MB, .deb < 15 MB, no stall while streaming. This
machine is shared and slow (2 cores, software-emulated VM, Xvfb without a GPU): compare ratios
between runs, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app_driver import ARCH, App, Page, image_dir, which
from binaries import REPO_ROOT, ensure_binary, target_dir
from fake_model import start_fake_model

TARGETS = {"startup_ms": 1000, "app_rss_mb": 150, "deb_mb": 15}
STREAM_CHARS = 80_000  # ≈ 20k tokens of English at ~4 characters a token


# --- measuring processes ---------------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def smaps_kb(pid: int) -> dict[str, int]:
    """`Pss` (shared pages divided among their users) and `Private_Dirty` of a process."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Pss", "Private_Dirty"):
                found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may contain spaces and parentheses: the fields after the last ')' are fixed.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def webkit_rss_kb(app_pid: int) -> int:
    total = 0
    for pid in descendants(app_pid):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name.startswith("WebKit"):
            total += rss_kb(pid)
    return total


# --- the data directory ----------------------------------------------------------------------------


def data_dir(root: Path) -> Path:
    home = root / "workroom-home"
    (home / "images").mkdir(parents=True)
    (home / "images" / ARCH).symlink_to(image_dir())
    return home


def app_env(home: Path, base_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path.home() / '.cargo' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["WORKROOM_HOME"] = str(home)
    env["WORKROOM_BASE_URL"] = base_url
    env["ANTHROPIC_API_KEY"] = "sk-bench"
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        env.pop(name, None)
    return env


# --- start-up and memory ---------------------------------------------------------------------------


def one_startup(app: Path, scratch: Path) -> dict[str, float]:
    env = app_env(data_dir(scratch))
    env["WORKROOM_REPORT_READY"] = "1"
    env["RUST_LOG"] = "warn"
    started = time.monotonic()
    process = subprocess.Popen([str(app)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert process.stdout is not None
        buffered = b""
        deadline = started + 60
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                raise RuntimeError(f"the app did not report an interactive window (exit {process.poll()})")
            ready, _, _ = select.select([process.stdout], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            buffered += chunk
            if b'"interactive"' in buffered:
                wall_ms = (time.monotonic() - started) * 1000
                break
        line = next(l for l in buffered.decode().splitlines() if '"interactive"' in l)
        in_app_ms = json.loads(line)["startup_ms"]
        time.sleep(2)  # let the page settle (fonts, idle callbacks) before reading memory
        smaps = smaps_kb(process.pid)
        return {
            "startup_ms": wall_ms,
            "startup_in_app_ms": in_app_ms,
            "app_rss_mb": rss_kb(process.pid) / 1024,
            "app_pss_mb": smaps.get("Pss", 0) / 1024,
            "app_private_mb": smaps.get("Private_Dirty", 0) / 1024,
            "webkit_rss_mb": webkit_rss_kb(process.pid) / 1024,
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- streaming -------------------------------------------------------------------------------------


def long_answer(chars: int) -> str:
    """Deterministic Markdown of about `chars` characters: prose, lists and highlighted code."""
    parts: list[str] = []
    size = 0
    n = 0
    while size < chars:
        n += 1
        if n % 7 == 0:
            block = (f"```python\ndef step_{n}(rows):\n    total = sum(r.amount for r in rows if r.ok)\n"
                     f"    return {{'step': {n}, 'total': total}}\n```")
        elif n % 5 == 0:
            block = "\n".join(f"- item {n}.{i}: check the **receipt** and the `amount` column" for i in range(4))
        else:
            block = (f"Paragraph {n}. The agent explains what it found in the folder, with *emphasis*, "
                     "a [link](https://example.com) and some `inline code`, long enough to wrap across "
                     "several lines in the window so layout has real work to do on every frame.")
        parts.append(block)
        size += len(block) + 2
    return "\n\n".join(parts)


RAF_RECORDER = """
window.__frames = {gaps: [], last: performance.now(), running: true};
const tick = (t) => {
  const f = window.__frames;
  f.gaps.push(t - f.last);
  f.last = t;
  if (f.running) requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def stream(app: Path, scratch: Path, shots: Path) -> dict[str, float]:
    answer = long_answer(STREAM_CHARS)
    script = {"rules": [
        {"when": {"last_user_text_contains": "long answer"},
         "reply": {"content": [{"type": "text", "text": answer}], "text_chunk": 12}},
        {"when": {}, "reply": {"content": [{"type": "text", "text": "ok"}]}},
    ]}
    server = start_fake_model(script, workdir=scratch / "fake-model")
    folder = scratch / "Bench Folder"
    folder.mkdir()
    driver_app = App(app, app_env(data_dir(scratch), server.url), scratch / "tauri-driver.log")
    try:
        page = Page(driver_app.start(folder), shots, "bench")
        page.wait("the session on the launch folder", lambda d: d.find_elements("css selector", ".folder-chips .chip"))
        # Boot the VM first so the measured turn is only the stream.
        page.send("warm up")
        page.wait_turn_end(0, timeout=120)
        page.driver.execute_script(RAF_RECORDER)
        sent = time.monotonic()
        page.send("Please write a long answer")
        page.wait("the answer to start", lambda d: d.find_elements("css selector", ".assistant-message .stream-cursor"),
                  timeout=120)
        first_text = time.monotonic() - sent
        page.wait_turn_end(1, timeout=600)
        total = time.monotonic() - sent
        gaps = page.driver.execute_script("window.__frames.running = false; return window.__frames.gaps;")
        rendered = page.all(".assistant-message")[-1].text
        # No screenshot: WebKitWebDriver's hang with the renderer the app picks on GPU-less machines.
        if "Paragraph 1." not in rendered or f"step_{7}" not in rendered:
            raise RuntimeError("the long answer was not rendered")
        pids = [p for p in descendants(driver_app.process.pid) if Path(f"/proc/{p}/exe").resolve() == app.resolve()] \
            if driver_app.process else []
        app_pid = pids[0] if pids else None
        gaps = sorted(gaps[1:])  # the first gap spans the script's injection
        return {
            "stream_chars": len(answer),
            "stream_first_text_s": first_text,
            "stream_total_s": total,
            "frames": len(gaps),
            "max_gap_ms": gaps[-1],
            "p99_gap_ms": gaps[int(len(gaps) * 0.99) - 1],
            "gaps_over_50ms": sum(1 for g in gaps if g > 50),
            "app_rss_after_stream_mb": rss_kb(app_pid) / 1024 if app_pid else 0.0,
            "webkit_rss_after_stream_mb": webkit_rss_kb(app_pid) / 1024 if app_pid else 0.0,
        }
    finally:
        driver_app.stop()
        server.stop()


# --- the report ------------------------------------------------------------------------------------


def default_deb() -> Path | None:
    debs = sorted((target_dir() / "release" / "bundle" / "deb").glob("*.deb"), key=lambda p: p.stat().st_mtime)
    return debs[-1] if debs else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", type=Path, help="the app binary (default: the release build, else the debug one)")
    parser.add_argument("--deb", type=Path, help="the .deb (default: the newest under target/release/bundle/deb)")
    parser.add_argument("--runs", type=int, default=5, help="launches for start-up and memory (default 5)")
    parser.add_argument("--quick", action="store_true", help="3 launches")
    parser.add_argument("--no-stream", action="store_true", help="skip the streaming measurement (it boots a VM)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("bench_app: no DISPLAY; run under `xvfb-run -a`", file=sys.stderr)
        return 2
    app = args.app or next((p for p in (target_dir() / "release" / "workroom-app",) if p.exists()), None) \
        or ensure_binary("workroom-app", "workroom-app")
    runs = 3 if args.quick else args.runs
    results: dict[str, Any] = {"app": str(app)}
    with tempfile.TemporaryDirectory(prefix="workroom-bench-") as tmp:
        scratch = Path(tmp)
        launches = [one_startup(app, scratch / f"launch-{i}") for i in range(runs)]
        for key in ("startup_ms", "startup_in_app_ms", "app_rss_mb", "app_pss_mb", "app_private_mb", "webkit_rss_mb"):
            values = [launch[key] for launch in launches]
            results[key] = statistics.median(values)
            results[f"{key}_range"] = [min(values), max(values)]
        deb = args.deb or default_deb()
        if deb and deb.exists():
            results["deb"] = str(deb)
            results["deb_mb"] = deb.stat().st_size / 1e6
        if not args.no_stream:
            if which("tauri-driver") is None or which("WebKitWebDriver") is None:
                print("bench_app: tauri-driver/WebKitWebDriver missing; skipping the streaming measurement",
                      file=sys.stderr)
            else:
                shots = Path(os.environ.get("WORKROOM_E2E_SHOTS") or scratch / "shots")
                shots.mkdir(parents=True, exist_ok=True)
                results.update(stream(app, scratch / "stream", shots))

    def row(label: str, value: str, target: str = "") -> None:
        print(f"  {label:<34} {value:>18}   {target}")

    print(f"workroom-app benchmark ({app}, {runs} launches)")
    row("start → interactive home (median)", f"{results['startup_ms']:.0f} ms",
        f"target < {TARGETS['startup_ms']} ms; range {results['startup_ms_range'][0]:.0f}–{results['startup_ms_range'][1]:.0f}")
    row("  of which inside the app", f"{results['startup_in_app_ms']:.0f} ms")
    row("app RSS (median)", f"{results['app_rss_mb']:.1f} MB", f"target < {TARGETS['app_rss_mb']} MB")
    # RSS counts every page of the shared libraries the process touched (WebKitGTK, GTK, and under
    # Xvfb Mesa's software GL with libLLVM, ~44 MB), which other processes share; PSS divides them.
    row("  app PSS / private dirty", f"{results['app_pss_mb']:.1f} / {results['app_private_mb']:.1f} MB",
        "(shared library pages counted once)")
    row("WebKit helper processes RSS", f"{results['webkit_rss_mb']:.1f} MB", "(web + network process)")
    if "deb_mb" in results:
        row(".deb size", f"{results['deb_mb']:.2f} MB", f"target < {TARGETS['deb_mb']} MB")
    if "max_gap_ms" in results:
        row(f"stream {results['stream_chars'] // 1000} KB: longest frame gap", f"{results['max_gap_ms']:.0f} ms",
            f"p99 {results['p99_gap_ms']:.0f} ms; {results['gaps_over_50ms']} of {results['frames']} frames over 50 ms")
        row("  stream duration", f"{results['stream_total_s']:.1f} s",
            f"first text after {results['stream_first_text_s']:.1f} s")
        row("  app RSS after the answer", f"{results['app_rss_after_stream_mb']:.1f} MB",
            f"WebKit {results['webkit_rss_after_stream_mb']:.1f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
