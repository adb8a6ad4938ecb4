#!/usr/bin/env bash
# Set-up, then the whole default test suite (ctest). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${DUALCAM_BUILD_DIR:-build}"
ctest --output-on-failure -j"${DUALCAM_JOBS:-2}" "$@"
