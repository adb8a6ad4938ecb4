#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/.
#   scripts/sanitize.sh          the whole suite (about 4 min of tests on 2 cores, after a full build)
#   scripts/sanitize.sh --quick  CI's subset: the engine's tests (image, PFM and rig readers, colour,
#                                metrics), building only what they need
# Other arguments go to ctest (e.g. -L slow, -LE slow). The install test (a consumer project built
# against the installed libraries) is left out: it builds without the sanitizer runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
filter=()
targets=""
if [ "${1:-}" = "--quick" ]; then
  shift
  targets="test_engine"
  filter=(-R "^test_engine:")
fi
DUALCAM_BUILD_DIR=build-asan DUALCAM_BUILD_TARGETS="$targets" \
  DUALCAM_CMAKE_ARGS="-DDUALCAM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" scripts/setup.sh
cd build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"${DUALCAM_JOBS:-2}" -LE install "${filter[@]}" "$@"
