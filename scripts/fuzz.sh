#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a fixed time on a copy
# of the seed corpus in fuzz/corpus. Crashes land in build-fuzz/crashes/ and fail the script.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
need=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi
DUALCAM_BUILD_DIR=build-fuzz DUALCAM_CMAKE_ARGS="-DDUALCAM_FUZZ=ON -DDUALCAM_BUILD_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
  scripts/setup.sh
mkdir -p build-fuzz/crashes
status=0
for target in rig pfm image board_spec manifest depth_photo; do
  work=build-fuzz/corpus-$target
  mkdir -p "$work"
  cp -n fuzz/corpus/$target/* "$work"/ 2>/dev/null || true
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s" >&2
  if ! build-fuzz/fuzz/fuzz_$target "$work" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 \
       -rss_limit_mb=2048 -timeout=10 -artifact_prefix=build-fuzz/crashes/$target- -print_final_stats=1 2> build-fuzz/fuzz-$target.log; then
    echo "fuzz: $target FOUND A CRASH (see build-fuzz/fuzz-$target.log and build-fuzz/crashes/)" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov:" build-fuzz/fuzz-$target.log | tail -2 >&2 || true
done
exit $status
