#pragma once
// Internal: where cv::resize's INTER_LINEAR samples (half-pixel centres, clamped at the borders),
// for loops that upsample on the fly instead of making a full-size image.
#include <algorithm>
#include <cmath>
#include <vector>

namespace dualcam::fusion::detail {

// For each of n_out output positions along one axis: the first source index and the weight of
// the next one (source length n_in).
// `scale` is the source step per output pixel: n_in / n_out (as cv::resize) unless given, e.g.
// exactly 1/f for a source made of f x f blocks (the last one partial) whose centres lie at
// f * i + (f - 1) / 2.
inline void linear_axis(int n_out, int n_in, std::vector<int>& i0, std::vector<float>& t, double scale = 0) {
  i0.resize(n_out);
  t.resize(n_out);
  if (!(scale > 0)) scale = double(n_in) / n_out;
  for (int k = 0; k < n_out; ++k) {
    const double f = (k + 0.5) * scale - 0.5;
    int i = int(std::floor(f));
    float w = float(f - i);
    if (i < 0) i = 0, w = 0;
    if (i >= n_in - 1) i = n_in - 1, w = 0;
    i0[k] = i;
    t[k] = w;
  }
}

}  // namespace dualcam::fusion::detail
