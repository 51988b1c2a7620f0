#!/usr/bin/env bash
# Installs the system packages Ferry needs on Debian/Ubuntu.
#
#   scripts/setup.sh          what building and testing need (a C compiler for
#                             the bundled SQLite; eframe loads its graphics
#                             libraries only at run time)
#   scripts/setup.sh --gui    also what running the desktop app needs
#                             (X11/EGL libraries, a file-dialog helper)
#   scripts/setup.sh --cross  also the C compilers CI's Windows and macOS
#                             build check needs (ring, under rustls, has C)
#
# The flags combine: `scripts/setup.sh --gui --cross`.
#
# Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(gcc libc6-dev)
for flag in "$@"; do
  case "$flag" in
    --gui) packages+=(libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0 libegl1 libgl1-mesa-dri zenity) ;;
    --cross) packages+=(gcc-mingw-w64-x86-64 clang) ;;
    *) echo "setup: unknown option $flag (use --gui and/or --cross)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: system packages already present (${packages[*]})"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
