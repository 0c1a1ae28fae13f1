#!/usr/bin/env bash
# Installs everything Workroom needs to build, run and test on a fresh Debian/Ubuntu machine, and builds
# the guest image. Every step is skipped when already done, so running it again is cheap.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need_apt=()
command -v rg >/dev/null || need_apt+=(ripgrep)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v nc >/dev/null || need_apt+=(netcat-openbsd)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# The desktop app (Tauri 2 on WebKitGTK).
[ -e /usr/include/webkitgtk-4.1/webkit2/webkit2.h ] || need_apt+=(libwebkit2gtk-4.1-dev)
[ -e /usr/include/gtk-3.0/gtk/gtk.h ] || need_apt+=(libgtk-3-dev)
[ -e /usr/include/librsvg-2.0/librsvg/rsvg.h ] || need_apt+=(librsvg2-dev)
[ -e /usr/include/libsoup-3.0/libsoup/soup.h ] || need_apt+=(libsoup-3.0-dev)
command -v npm >/dev/null || need_apt+=(npm)
# The app's end-to-end tests: a virtual display and WebKit's WebDriver.
command -v xvfb-run >/dev/null || need_apt+=(xvfb)
command -v WebKitWebDriver >/dev/null || need_apt+=(webkit2gtk-driver)
# The host reaches the Secret Service keychain over D-Bus.
[ -e /usr/include/dbus-1.0/dbus/dbus.h ] || need_apt+=(libdbus-1-dev)
# virtiofsd links libcap-ng and libseccomp.
[ -e /usr/include/cap-ng.h ] || need_apt+=(libcap-ng-dev)
[ -e /usr/include/seccomp.h ] || need_apt+=(libseccomp-dev)
# The checkpoint store's tests exercise reflinks on loop-mounted btrfs and xfs images.
command -v mkfs.btrfs >/dev/null || need_apt+=(btrfs-progs)
command -v mkfs.xfs >/dev/null || need_apt+=(xfsprogs)
# The .deb test reads the bundled agent's program headers.
command -v readelf >/dev/null || need_apt+=(binutils)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# QEMU must match qemu-utils; on machines whose qemu-utils comes from bookworm-backports, so must QEMU.
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-system-aarch64 >/dev/null; then
  echo "installing QEMU"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-system-x86 qemu-system-arm >/dev/null 2>&1; then
    list=$(mktemp)
    key="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
    {
      echo "deb $key http://deb.debian.org/debian bookworm main"
      echo "deb $key http://deb.debian.org/debian bookworm-updates main"
      echo "deb $key http://deb.debian.org/debian-security bookworm-security main"
      echo "deb $key http://deb.debian.org/debian bookworm-backports main"
    } > "$list"
    apt_bpo=(-o "Dir::Etc::sourcelist=$list" -o "Dir::Etc::sourceparts=-")
    $SUDO apt-get "${apt_bpo[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_bpo[@]}" install -y -qq -t bookworm-backports qemu-system-x86 qemu-system-arm >/dev/null
    rm -f "$list"
    $SUDO apt-get update -qq
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl >/dev/null

# The VM helpers: VirtioFS and vsock daemons from crates.io.
export PATH="$HOME/.cargo/bin:$PATH"
command -v virtiofsd >/dev/null || cargo install --locked --quiet virtiofsd
command -v vhost-device-vsock >/dev/null || cargo install --locked --quiet vhost-device-vsock
command -v tauri-driver >/dev/null || cargo install --locked --quiet tauri-driver

# The guest image (kernel + initramfs with the agent) for this machine's architecture.
arch=$(uname -m)
cargo run --quiet -p workroom-image -- build --arch "$arch" >/dev/null

# The app's page (the Tauri shell embeds ui/dist at compile time).
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)

"$repo/scripts/python-env.sh" >/dev/null
echo "setup complete"
