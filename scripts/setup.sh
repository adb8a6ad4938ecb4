#!/usr/bin/env bash
# Installs the Debian 12 packages dualcam needs (only the missing ones; through sudo when not
# root) and builds it in ./build ($DUALCAM_BUILD_DIR). Used by scripts/demo.sh, scripts/test.sh and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libopencv-dev libopencv-contrib-dev libceres-dev libeigen3-dev
          libtbb-dev catch2 libcli11-dev nlohmann-json3-dev libraw-dev libraw-bin zlib1g-dev
          pybind11-dev python3-dev python3-numpy python3-pytest python3-opencv
          libimage-exiftool-perl exiv2 chromium)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${DUALCAM_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${DUALCAM_CMAKE_ARGS:-} >/dev/null
# DUALCAM_BUILD_TARGETS: build only these targets (space-separated), e.g. for a quick sanitizer run.
cmake --build "$BUILD_DIR" -j"${DUALCAM_JOBS:-2}" ${DUALCAM_BUILD_TARGETS:+--target $DUALCAM_BUILD_TARGETS}
