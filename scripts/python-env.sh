#!/usr/bin/env bash
# Creates (or reuses) the Python environment the conformance tests need and prints its path.
# The venv lives outside the clone, keyed by the requirements file, so CI runs reuse it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
req="$repo/tests/python/requirements.txt"
cache=${WORKROOM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workroom}
key=$(sha256sum "$req" | cut -c1-12)
venv="$cache/venv-$key"
if [ ! -x "$venv/bin/pytest" ]; then
  echo "setting up Python test environment in $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
fi
echo "$venv"
