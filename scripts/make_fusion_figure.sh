#!/usr/bin/env bash
# Builds docs/fusion_figure.png: one dev scene at light 0.05 (protocol P2, reference = colour):
# the colour camera's image, dualcam's fused image, and the same detailed region of both
# enlarged 4x (nearest neighbour), each labelled with its PSNR against the clean image.
# Needs a built dualcam (default build/apps/dualcam), the Middlebury data (default
# ../shared/data/middlebury2005_2006_thirdsize), python3 and ImageMagick `convert` (not
# installed on CI: this script is not part of the tests).
#   scripts/make_fusion_figure.sh [path/to/dualcam] [data dir] [work dir]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dualcam="${1:-$here/build/apps/dualcam}"
data="${2:-$here/../shared/data/middlebury2005_2006_thirdsize}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
command -v convert >/dev/null || { echo "make_fusion_figure: ImageMagick 'convert' is needed" >&2; exit 1; }

scene=Books
crop_w=116 crop_h=87 crop_x=306 crop_y=12    # a detailed region: the line drawings and title of a book cover
zoom=4

# The protocol's simulated pair and the engine's output, exactly as `dualcam eval` scores them.
"$dualcam" eval --protocol p2 --light 0.05 --data "$data" --scenes "$scene" --save-dir "$work" --json "$work/eval.json"
read -r psnr_out psnr_in < <(python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))['eval']['scenes'][0]
print('%.1f %.1f' % (s['psnr_db'], s['input_psnr_db']))" "$work/eval.json")

label() { convert "$1" +repage -gravity North -background white -splice 0x26 -pointsize 18 -annotate +0+3 "$2" "$3"; }
box="rectangle $((crop_x - 1)),$((crop_y - 1)) $((crop_x + crop_w)),$((crop_y + crop_h))"
for which in color output; do
  convert "$work/${scene}_$which.png" -fill none -stroke '#ff3030' -strokewidth 2 -draw "$box" "$work/full_$which.png"
  convert "$work/${scene}_$which.png" -crop "${crop_w}x${crop_h}+${crop_x}+${crop_y}" +repage \
    -filter point -resize "$((zoom * 100))%" "$work/crop_$which.png"
done
label "$work/full_color.png" "colour camera at light 0.05 (PSNR $psnr_in dB)" "$work/l_full_color.png"
label "$work/full_output.png" "dualcam fuse, colour + mono (PSNR $psnr_out dB)" "$work/l_full_output.png"
label "$work/crop_color.png" "colour camera: red box, $zoom x" "$work/l_crop_color.png"
label "$work/crop_output.png" "dualcam fuse: red box, $zoom x" "$work/l_crop_output.png"
convert \( "$work/l_full_color.png" "$work/l_full_output.png" -bordercolor white -border 4 +append \) \
        \( "$work/l_crop_color.png" "$work/l_crop_output.png" -bordercolor white -border 4 +append \) \
        -gravity center -background white -append +repage -depth 8 -strip "$here/docs/fusion_figure.png"
echo "wrote $here/docs/fusion_figure.png (PSNR against the clean image: input $psnr_in dB, fused $psnr_out dB; work files in $work)"
