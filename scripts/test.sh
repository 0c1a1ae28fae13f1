#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust unit and end-to-end tests (including real VMs, which
# need `scripts/setup.sh` to have installed QEMU and the daemons and built the image), the macOS
# type-check, quick benchmark runs, the .deb, and the Python tests: the agent driven by the official
# Claude Agent SDK, and the desktop app driven through WebDriver.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

echo "== the app's page (ui/): type check, unit tests, production build (the app embeds ui/dist)"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run lint && npm test && npm run build)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== macOS: check and clippy for both Apple targets (the VZ backend and the app; no Mac needed)"
scripts/check-macos.sh
echo "== guest images (rebuilt when the agent changed; both architectures, so the cross build stays honest)"
cargo run --quiet --locked -p workroom-image -- build --arch x86_64
cargo run --quiet --locked -p workroom-image -- build --arch aarch64
echo "== the full userland with LibreOffice (x86_64: the real-VM tests run shell commands in it)"
cargo run --quiet --locked -p workroom-image -- userland --arch x86_64 --office 2>&1 | grep -v '^using cached'
echo "== cargo test"
cargo test --locked
echo "== cargo bench (quick smoke run)"
cargo bench -p workroom-agent --bench agent --locked -- --quick
cargo bench -p workroom-host --bench checkpoint --locked -- --quick

echo "== python conformance tests"
venv=$("$repo/scripts/python-env.sh")
cargo build -p workroom-agent -p fake-model --locked
cargo build -p workroom-app --locked
echo "== the .deb (release build of the app with the agent and the daemons inside)"
deb=$(scripts/bundle.sh | tail -1)
# Under a virtual display, so the desktop app's WebDriver end-to-end tests (the development build and
# the packaged app's first run) run too.
WORKROOM_DEB="$deb" xvfb-run -a "$venv/bin/pytest" -q tests/python
echo "== app benchmark (start-up, memory, .deb size, frame gaps while streaming)"
xvfb-run -a "$venv/bin/python" tests/python/bench_app.py --quick --deb "$deb"
