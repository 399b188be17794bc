#!/usr/bin/env bash
# Installs what livemon needs to build, run and test, and only what is
# missing: Debian packages (OpenCV, Chromium, ffmpeg) and npm packages.
# Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
pkg-config --exists opencv4 2>/dev/null || need_apt+=(libopencv-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v gcc >/dev/null || need_apt+=(build-essential)
if [ "${LIVEMON_SKIP_BROWSER:-}" = "" ]; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  # Korean text in the browser (screenshots, e2e in the ko locale).
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk)
fi
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "deps: installing ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "deps: Go 1.26 is required (https://go.dev/dl/)"; exit 1; }
command -v npm >/dev/null || { echo "deps: Node.js 20 with npm is required"; exit 1; }

# npm packages: reinstall when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

go mod download
