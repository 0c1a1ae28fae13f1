#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust unit and end-to-end tests (including real VMs, which
# need `scripts/setup.sh` to have installed QEMU and the daemons and built the image), a quick benchmark
# run, and the Python tests that drive the agent with the official Claude Agent SDK.
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
echo "== guest images (rebuilt when the agent changed; both architectures, so the cross build stays honest)"
cargo run --quiet --locked -p workroom-image -- build --arch x86_64
cargo run --quiet --locked -p workroom-image -- build --arch aarch64
echo "== cargo test"
cargo test --locked
echo "== cargo bench (quick smoke run)"
cargo bench -p workroom-agent --bench agent --locked -- --quick

echo "== python conformance tests"
venv=$("$repo/scripts/python-env.sh")
cargo build -p workroom-agent -p fake-model --locked
# Under a virtual display, so the desktop app's WebDriver end-to-end test runs too.
cargo build -p workroom-app --locked
xvfb-run -a "$venv/bin/pytest" -q tests/python
