#!/usr/bin/env bash
# Set-up, then the main job on the embedded sample: fuse the synthetic colour + mono pair and
# write the fused image and a disparity preview into ./out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=${DUALCAM_BUILD_DIR:-build}/apps/dualcam
mkdir -p out
"$BIN" sample -o out/sample
"$BIN" fuse --mono out/sample/mono.png --color out/sample/color.png --rig out/sample/rig.yaml \
  -o out/fused.png --json out/fuse_report.json
"$BIN" depth --mono out/sample/mono.png --color out/sample/color.png --rig out/sample/rig.yaml \
  -o out/disparity.pfm --preview out/disparity.png
echo
echo "Done. Look at:"
echo "  out/fused.png          the fused colour image (colour view)"
echo "  out/sample/color.png   the colour camera's image, for comparison"
echo "  out/disparity.png      the disparity preview (out/disparity.pfm holds the values)"
echo "  out/fuse_report.json   timings and statistics"
