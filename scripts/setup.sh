#!/usr/bin/env bash
# Installs everything Workroom needs to build, run and test on a fresh Debian/Ubuntu machine
# (and on a machine that already has it: every step is skipped when already done).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

need_apt=()
command -v rg >/dev/null || need_apt+=(ripgrep)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v cc >/dev/null || need_apt+=(build-essential)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

"$repo/scripts/python-env.sh" >/dev/null
echo "setup complete"
