#!/usr/bin/env bash
# Builds the installable app: a .deb on Linux (the .app on macOS: README, "Build on macOS").
#
# The package carries what Debian does not: the static guest agent (so the first run only downloads the
# Debian kernel and busybox to assemble the guest image, and needs no Rust toolchain) and the two
# vhost-user daemons, virtiofsd and vhost-device-vsock (installed next to the app in /usr/bin).
# QEMU comes from Debian as a package dependency.
#
# Usage: scripts/bundle.sh            (run scripts/setup.sh once first)
# Progress goes to stderr; the only line on stdout is the path of the .deb.
set -euo pipefail
# Everything but the final path to stderr.
exec 3>&1 1>&2
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"

host_triple=$(rustc -vV | awk '/^host:/ {print $2}')
case "$host_triple" in
  x86_64-*) agent_triple=x86_64-unknown-linux-musl ;;
  aarch64-*) agent_triple=aarch64-unknown-linux-musl ;;
  *) echo "bundle.sh: unsupported host $host_triple" >&2; exit 1 ;;
esac
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

staging=src-tauri/bundle-staging
rm -rf "$staging"
mkdir -p "$staging"

echo "== guest agent ($agent_triple)"
cargo build --quiet --release --locked -p workroom-agent --bin workroom-agent --no-default-features --target "$agent_triple"
cp "$target/$agent_triple/release/workroom-agent" "$staging/workroom-agent"

echo "== vhost-user daemons"
for daemon in virtiofsd vhost-device-vsock; do
  path=$(command -v "$daemon" || true)
  if [ -z "$path" ]; then
    echo "bundle.sh: $daemon is not installed (scripts/setup.sh installs it)" >&2
    exit 1
  fi
  # Tauri's externalBin convention: <name>-<target triple>, installed as <name>.
  cp "$path" "$staging/$daemon-$host_triple"
  strip "$staging/$daemon-$host_triple" 2>/dev/null || true
done

echo "== app (release) and .deb"
(cd ui && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
(cd src-tauri && ../ui/node_modules/.bin/tauri build --ci --bundles deb --config tauri.bundle.conf.json)

deb=$(ls -t "$target"/release/bundle/deb/*.deb | head -1)
echo "size: $(du -h "$deb" | cut -f1)"
echo "$deb" >&3
