#!/usr/bin/env bash
# Runs Workroom: the desktop app when there is a display, else a headless session in a VM
# (scripts/demo.sh: `workroom run` on a scratch folder). Run scripts/setup.sh once first.
#
#   scripts/run.sh [FOLDER]     # the app, opening FOLDER if given
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "(no display: running a headless session instead of the app)"
  exec "$repo/scripts/demo.sh"
fi
[ -f ui/dist/index.html ] || (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
cargo build --quiet -p workroom-app
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ $# -gt 0 ]; then
  exec "$target/debug/workroom-app" --open-folder "$1"
fi
exec "$target/debug/workroom-app"
