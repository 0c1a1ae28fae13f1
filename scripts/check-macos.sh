#!/usr/bin/env bash
# Type-checks and lints the macOS build — the host library with its Apple Virtualization backend, the
# `workroom` CLI and the desktop app — for both Apple targets, on any machine (no Mac, no SDK):
#
#   scripts/check-macos.sh          # cargo check + cargo clippy -D warnings, aarch64 and x86_64
#
# All Rust code is checked for real: the objc2 bindings are plain Rust and need nothing from the SDK.
# What would need the SDK is the C code that a few dependencies' build scripts compile (ring, the
# bundled SQLite, objc2's exception helper) — its headers (stdio.h, objc/objc.h) only exist on a Mac.
# A check links nothing, so those build scripts get a stand-in compiler that writes empty objects.
# (Debian's clang does not help: without the SDK's headers it fails on ring and SQLite;
# DOCS_RS=1 only skips objc2's helper.) The macOS workflow builds the same code with the real SDK.
#
# Honours CARGO_TARGET_DIR (default: target/check-macos). Needs ui/dist (scripts/setup.sh builds it)
# because the app embeds the page at compile time.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/check-macos}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
targets=(aarch64-apple-darwin x86_64-apple-darwin)
crates=(-p workroom-host -p workroom-app)

if [[ ! -f ui/dist/index.html ]]; then
  echo "ui/dist is missing: run scripts/setup.sh (or 'npm ci && npm run build' in ui/) first" >&2
  exit 1
fi

installed=$(rustup target list --installed)
for target in "${targets[@]}"; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
done

# The stand-in C compiler (see above). cc-rs first asks the compiler who it is (`-E` on a probe
# file; `-?` must fail or it is taken for MSVC), then compiles with `-o <object>`.
stand_in="$CARGO_TARGET_DIR/check-macos-cc"
mkdir -p "$CARGO_TARGET_DIR"
cat >"$stand_in" <<'CC'
#!/bin/sh
# Check-only stand-in for the macOS SDK's C compiler: writes empty objects (nothing is linked).
out=
prev=
for arg in "$@"; do
  case "$arg" in
    '-?') exit 1 ;;
    -E) printf '#pragma message "clang"\n#pragma message "gcc"\n'; exit 0 ;;
  esac
  [ "$prev" = -o ] && out=$arg
  prev=$arg
done
[ -n "$out" ] && : >"$out"
exit 0
CC
chmod +x "$stand_in"

for target in "${targets[@]}"; do
  env_target=${target//-/_}
  export "CC_${env_target}=$stand_in" "CXX_${env_target}=$stand_in" "AR_${env_target}=ar"
  echo "== $target: cargo check"
  cargo check --locked "${crates[@]}" --all-targets --target "$target"
  echo "== $target: cargo clippy -D warnings"
  cargo clippy --locked "${crates[@]}" --all-targets --target "$target" -- -D warnings
done
echo "macOS build checks passed for ${targets[*]}"
