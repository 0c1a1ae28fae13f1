#!/bin/sh
# Cargo runner on macOS (see .cargo/config.toml): signs the program ad hoc with the entitlements the
# Virtualization framework needs, then runs it with the given arguments.
set -eu
program=$1
shift
codesign --force --sign - --entitlements "$(dirname "$0")/../src-tauri/Entitlements.plist" "$program" 2>/dev/null
exec "$program" "$@"
