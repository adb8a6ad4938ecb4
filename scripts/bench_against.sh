#!/usr/bin/env bash
# Times this build's 12 MP fuse against another revision built beside it, in the same session
# (the machines are shared and noisy: only ratios from one run mean something).
#   scripts/bench_against.sh REV [ROUNDS]
# Builds REV in a git worktree (under build/against-REV, reused), then alternates `dualcam bench`
# of REV, of REV under this build's allocator policy (apps/main.cpp: GLIBC_TUNABLES with no mmap
# per large block and no trim), and of this build, ROUNDS times (default 2), and prints the
# colour- and mono-reference fuse medians of each. Needs ./build (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/bench_against.sh REV [ROUNDS]}
rounds=${2:-2}
here=build/apps/dualcam
[ -x "$here" ] || { echo "bench_against: build this checkout first (scripts/setup.sh)" >&2; exit 2; }
sha=$(git rev-parse --short "$rev^{commit}") || { echo "bench_against: no revision '$rev'" >&2; exit 2; }
tree=build/against-$sha
[ -d "$tree" ] || git worktree add --detach "$tree" "$sha" >/dev/null
cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tree/build" -j"${DUALCAM_JOBS:-2}" --target dualcam >/dev/null
args=(bench --size 4000x3000 --max-disparity 256 --threads 2 --stages fuse-color,fuse-mono --repeat 3)
tunables="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"
run() {  # label, env, binary
  local line
  line=$(env $2 "$3" "${args[@]}" | awk '/^fuse, reference colour/ {c=$4} /^fuse, reference mono/ {m=$4} END {print c, m}')
  printf '%-28s colour %s s   mono %s s\n' "$1" ${line}
}
for i in $(seq "$rounds"); do
  run "$sha" "" "$tree/build/apps/dualcam"
  run "$sha (allocator policy)" "GLIBC_TUNABLES=$tunables" "$tree/build/apps/dualcam"
  run "this build" "" "$here"
done
