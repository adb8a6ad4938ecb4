#!/usr/bin/env bash
# Set-up, then the default test suite (ctest without the tests labelled slow; run those with
# `ctest --test-dir build -L slow`). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${DUALCAM_BUILD_DIR:-build}"
ctest --output-on-failure -j"${DUALCAM_JOBS:-2}" -LE slow "$@"
