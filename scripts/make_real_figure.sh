#!/usr/bin/env bash
# Builds docs/real_figure.png from the real colour + mono pairs (no calibration: --rig auto):
# per pair, the colour camera's image, dualcam fuse at the colour view and at the mono view, and
# the LDRM network's published output for the same pair, then a detailed region of each
# enlarged. The colour camera's pictures are dark (a short low-ISO exposure): the input and both
# fused images are shown with the same display gain (named in the labels), LDRM as published.
# Needs a built dualcam (default build/apps/dualcam), the pairs (default
# ../shared/data/real_color_mono, see docs/evaluation.md), and python3 with OpenCV
# (Debian python3-opencv; not installed on CI: this script is not part of the tests).
#   scripts/make_real_figure.sh [path/to/dualcam] [data dir] [work dir]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dualcam="${1:-$here/build/apps/dualcam}"
data="${2:-$here/../shared/data/real_color_mono}"
work="${3:-$(mktemp -d)}"
mkdir -p "$work"
py=python3
$py -c "import cv2" 2>/dev/null || py=/usr/bin/python3
$py -c "import cv2" 2>/dev/null || { echo "make_real_figure: python3 with OpenCV (python3-opencv) is needed" >&2; exit 1; }

pairs=()
for dir in "$data"/pair_*; do
  [ -f "$dir/color.png" ] && [ -f "$dir/mono.png" ] || continue
  name=$(basename "$dir")
  for ref in color mono; do
    "$dualcam" fuse --mono "$dir/mono.png" --color "$dir/color.png" --rig auto --reference "$ref" \
      -o "$work/${name}_$ref.png" --json "$work/${name}_$ref.json"
  done
  pairs+=("$dir")
done
[ ${#pairs[@]} -gt 0 ] || { echo "make_real_figure: no pair_*/ with color.png and mono.png in $data" >&2; exit 1; }

$py - "$work" "$here/docs/real_figure.png" "${pairs[@]}" <<'PY'
import os, sys
import cv2, numpy as np
work, out, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
W = 480          # panel width
GAIN = 2.5       # display gain for the dark colour-camera pictures (applied in linear light)
def show(img, gain):
    if gain == 1: return img
    lin = (img.astype(np.float32) / 255.0) ** 2.2 * gain
    return np.clip(255.0 * np.clip(lin, 0, 1) ** (1 / 2.2) + 0.5, 0, 255).astype(np.uint8)
def label(img, text):
    bar = np.full((28, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, img])
rows = []
for d in dirs:
    name = os.path.basename(d)
    color = cv2.imread(os.path.join(d, 'color.png'))
    h, w = color.shape[:2]
    panels = [(color, GAIN, 'colour camera (x%.1f for display)' % GAIN),
              (cv2.imread(os.path.join(work, name + '_color.png')), GAIN, 'dualcam, colour view (x%.1f)' % GAIN),
              (cv2.imread(os.path.join(work, name + '_mono.png')), GAIN, 'dualcam, mono view (x%.1f)' % GAIN)]
    ldrm = os.path.join(d, 'ldrm_result.png')
    if os.path.exists(ldrm): panels.append((cv2.imread(ldrm), 1, 'LDRM (ACM MM 2023), as published'))
    # A detailed region: the 1/4-width window with the most mono gradient energy.
    mono = cv2.imread(os.path.join(d, 'mono.png'), cv2.IMREAD_GRAYSCALE)
    cw, ch = w // 4, h // 4
    energy = cv2.boxFilter(np.abs(cv2.Laplacian(cv2.GaussianBlur(mono, (0, 0), 1.5).astype(np.float32), cv2.CV_32F)),
                           -1, (cw, ch), normalize=True)
    y, x = np.unravel_index(np.argmax(energy[ch // 2:h - ch // 2, cw // 2:w - cw // 2]),
                            (h - 2 * (ch // 2), w - 2 * (cw // 2)))
    x0, y0 = int(x), int(y)
    full, crops = [], []
    for img, gain, text in panels:
        img = cv2.resize(img, (w, h)) if img.shape[:2] != (h, w) else img
        v = show(img, gain)
        small = cv2.resize(v, (W, W * h // w), interpolation=cv2.INTER_AREA)
        s = W / w
        cv2.rectangle(small, (int(x0 * s), int(y0 * s)), (int((x0 + cw) * s), int((y0 + ch) * s)), (48, 48, 255), 2)
        full.append(label(small, name + ': ' + text))
        crop = cv2.resize(v[y0:y0 + ch, x0:x0 + cw], (W, W * ch // cw), interpolation=cv2.INTER_NEAREST)
        crops.append(label(crop, 'red box, %.1fx' % (W / cw)))
    pad = lambda a: cv2.copyMakeBorder(a, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    rows.append(np.hstack([pad(p) for p in full]))
    rows.append(np.hstack([pad(p) for p in crops]))
width = max(r.shape[1] for r in rows)
rows = [cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255)) for r in rows]
cv2.imwrite(out + '.tmp.png', np.vstack(rows))
os.replace(out + '.tmp.png', out)
print('wrote', out)
PY
