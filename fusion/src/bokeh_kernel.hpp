#pragma once
// The fast path of bokeh.cpp, kept apart from the algorithm (STYLE habit 9): an aperture kernel
// as horizontal spans, and a blur of a 4-channel image with it, one tile at a time, by per-row
// prefix sums.
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/fusion/bokeh.hpp"

namespace dualcam::fusion::detail {

// One kernel row: columns [core_a, core_b] fully covered (none when core_a > core_b), plus up to
// two partly covered end columns; the whole row is scaled by its vertical coverage v.
struct KernelRow {
  int dy = 0;
  int core_a = 0, core_b = -1;
  int left = 0, right = 0;      // end columns
  float w_left = 0, w_right = 0;  // their horizontal coverage (0..1)
  float v = 1;                  // vertical coverage of the row (0..1)
};

struct Kernel {
  std::vector<KernelRow> rows;
  double total = 0;  // sum of all weights (the kernel's area in px^2)
  int reach_x = 0;   // largest |dx| with a non-zero weight
  int dy_min = 0, dy_max = 0;
};

// The aperture shape of radius `radius_px` (circle, or the polygon inscribed in that circle),
// rasterised with area coverage: exact horizontally, one chord per row vertically.
Kernel make_kernel(double radius_px, const Aperture& aperture);

// One output rectangle of (in convolved with kernel) / kernel.total, zero outside `in`.
// in: CV_32FC4 (only the pixels within the kernel's reach of `out_rect` are read);
// out: out_rect.height rows of out_rect.width (b, g, r, coverage) floats, row stride
// out_rect.width * 4. The prefix sums are local to the rectangle (float: at most a few dozen
// pixels are summed), so the result depends only on the rectangle, never on which thread or in
// what order rectangles are done. `scratch` is reused between calls.
void blur_rect(const cv::Mat& in, const Kernel& kernel, const cv::Rect& out_rect, float* out,
               std::vector<float>& scratch);

}  // namespace dualcam::fusion::detail
