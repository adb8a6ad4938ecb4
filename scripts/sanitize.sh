#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/.
# Extra arguments go to ctest (e.g. -L slow, -LE slow).
set -euo pipefail
cd "$(dirname "$0")/.."
DUALCAM_BUILD_DIR=build-asan DUALCAM_CMAKE_ARGS="-DDUALCAM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" scripts/setup.sh
cd build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"${DUALCAM_JOBS:-2}" "$@"
