#!/usr/bin/env bash
# Builds docs/bokeh_figure.png: one simulator scene focused near and far, dualcam's bokeh beside
# the thin-lens truth (docs/bokeh.md has the numbers). Needs a built dualcam (default build/apps/dualcam), python3 and
# ImageMagick `convert` (not installed on CI: this script is not part of the tests).
#   scripts/make_bokeh_figure.sh [path/to/dualcam] [work dir]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dualcam="${1:-$here/build/apps/dualcam}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
command -v convert >/dev/null || { echo "make_bokeh_figure: ImageMagick 'convert' is needed" >&2; exit 1; }

# Scene 1 of the bokeh protocol: writes the all-in-focus input, its true disparity and the
# thin-lens truth for a near and a far focus into $work, with the figures in eval.json.
"$dualcam" eval --protocol bokeh --bokeh-scenes 1 --bokeh-cache "$work" --json "$work/eval.json"
read -r near far < <(python3 -c "
import json, sys
runs = json.load(open(sys.argv[1]))['eval']['runs']
d = {r['focus']: r['focus_disparity_px'] for r in runs}
print(d['near'], d['far'])" "$work/eval.json")
A_over_B=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['eval']; print(j['aperture_radius_mm']/j['baseline_mm'])" "$work/eval.json")

# The same blur as the truth: radius = (A / B) * |d - d_focus|, given as the largest radius.
for which in near far; do
  focus=$near; [ "$which" = far ] && focus=$far
  max_blur=$(python3 -c "
import struct, sys
# largest |d - focus| of the PFM (little-endian 'Pf')
f = open(sys.argv[1], 'rb'); f.readline(); w, h = map(int, f.readline().split()); f.readline()
v = struct.unpack('<%df' % (w * h), f.read(4 * w * h))
print(max(abs(x - float(sys.argv[2])) for x in v if x == x) * float(sys.argv[3]))" \
    "$work/bokeh_input_s1_gt.pfm" "$focus" "$A_over_B")
  "$dualcam" bokeh --image "$work/bokeh_input_s1.png" --disparity "$work/bokeh_input_s1_gt.pfm" \
    --focus-disparity "$focus" --max-blur "$max_blur" -o "$work/ours_$which.png"
done

label() { convert "$1" +repage -gravity North -background white -splice 0x22 -pointsize 16 -annotate +0+3 "$2" "$3"; }
label "$work/bokeh_input_s1.png" "input (all in focus)" "$work/l_input.png"
for which in near far; do
  label "$work/ours_$which.png" "dualcam bokeh, focus $which" "$work/l_ours_$which.png"
  label "$work"/bokeh_simtruth_s1_${which}_*.png "thin-lens truth, focus $which" "$work/l_truth_$which.png"
done
convert \( "$work/l_input.png" -size 640x502 xc:white +append \) \
        \( "$work/l_ours_near.png" "$work/l_truth_near.png" +append \) \
        \( "$work/l_ours_far.png" "$work/l_truth_far.png" +append \) -append \
        +repage -resize 50% -depth 8 -strip "$here/docs/bokeh_figure.png"
echo "wrote $here/docs/bokeh_figure.png (work files in $work)"
