#pragma once
// The depth layers of render_bokeh (bokeh.cpp), private to fusion: which layer each pixel
// belongs to, the layers blurred and composited front to back, and the hidden background that
// fills what a blurred foreground's silhouette leaves uncovered.
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <tbb/enumerable_thread_specific.h>

#include "bokeh_kernel.hpp"
#include "dualcam/fusion/bokeh.hpp"

namespace dualcam::fusion::detail {

// Layer occupancy is kept per block of kBlock x kBlock pixels; layers are blurred and
// composited per tile of kTile x kTile pixels of their own (possibly reduced) grid, so a layer
// costs in proportion to the area it touches, not to its bounding box.
constexpr int kBlock = 8;
constexpr int kTile = 32;  // a multiple of kBlock

struct LayerMaps {
  std::vector<double> levels;  // signed radii, ascending (far -> near)
  cv::Mat lower;               // CV_16S: index j of the level just below the pixel's radius
  cv::Mat t;                   // CV_32F: weight of level j + 1 (1 - t goes to level j)
  int bw = 0, bh = 0;          // blocks per row, block rows
  std::vector<std::vector<std::uint8_t>> occupied;  // per level, per block: 1 = has weight there
};

// The levels for the radii in `radius` (signed px, see signed_blur_radius) and each pixel's
// share of its two nearest levels.
LayerMaps assign_layers(const cv::Mat& radius, double growth);

// The layers, blurred and composited from the nearest (largest signed radius) to the farthest:
// each is hidden where the layers in front of it already cover the aperture.
class LayerCompositor {
 public:
  // src: the image to blur (CV_32FC3); maps: assign_layers over a radius map of src's size.
  LayerCompositor(const cv::Mat& src, const LayerMaps& maps, const BokehOptions& o);
  // Blurs layer `level` and composites it behind the layers done so far; call with the levels
  // from the last to the first. A layer with any pixel is counted in `stats`.
  void composite(int level, BokehStats& stats);
  // Premultiplied colour and summed coverage of the layers done (CV_32FC4, src's size).
  const cv::Mat& accumulated() const { return acc_; }

 private:
  struct Grid;
  void blur_and_composite(const Grid& g, const Kernel& kernel, const cv::Mat& prev, cv::Mat& cur,
                          const std::vector<cv::Rect>& cur_rects);

  const cv::Mat& src_;
  const LayerMaps& maps_;
  const BokehOptions& o_;
  cv::Mat acc_;    // premultiplied colour + weight
  cv::Mat cover_;  // summed coverage of the layers done
  // Blurred coverage of the layer done last (read) and of the current one (written); each is
  // zero outside the full-resolution tiles listed beside it.
  cv::Mat cov_buf_[2];
  std::vector<cv::Rect> cov_rects_[2];
  cv::Mat low_buf_;  // the layer on its (reduced) grid; only the tiles in use are written
  tbb::enumerable_thread_specific<std::vector<float>> scratch_tls_, out_tls_;
};

// What lies behind the nearest surface around each pixel: the image restricted to pixels that are
// farther (by more than 1 px of blur radius) than the nearest surface within `reach` px, spread
// into the rest by pull-push (pyramid fill). Used for the light a blurred foreground lets through
// its own silhouette, which the reference view never saw. At full resolution the fill is the
// pixel itself where it is such a farther pixel, else the coarser levels' fill upsampled
// bilinearly; HiddenBackground::at() evaluates that for one pixel, since only the pixels that
// the layers leave partly uncovered need it.
class HiddenBackground {
 public:
  HiddenBackground(const cv::Mat& src, const cv::Mat& radius, int reach);

  bool behind(int x, int y) const {
    return radius_.at<float>(y, x) < pooled_.at<float>(y / kQ, x / kQ) - 1.0f;
  }

  // The hidden background at full-resolution pixel (x, y) (colour, zero where nothing was found).
  cv::Vec3f at(int x, int y) const {
    if (behind(x, y)) return src_.at<cv::Vec3f>(y, x);
    const float fx = std::min(float(fill1_.cols - 1), std::max(0.0f, (x + 0.5f) * sx_ - 0.5f));
    const float fy = std::min(float(fill1_.rows - 1), std::max(0.0f, (y + 0.5f) * sy_ - 0.5f));
    const int x0 = int(fx), y0 = int(fy);
    const int x1 = std::min(x0 + 1, fill1_.cols - 1), y1 = std::min(y0 + 1, fill1_.rows - 1);
    const float wx = fx - float(x0), wy = fy - float(y0);
    const cv::Vec4f* r0 = fill1_.ptr<cv::Vec4f>(y0);
    const cv::Vec4f* r1 = fill1_.ptr<cv::Vec4f>(y1);
    const cv::Vec4f v = (r0[x0] * (1 - wx) + r0[x1] * wx) * (1 - wy) + (r1[x0] * (1 - wx) + r1[x1] * wx) * wy;
    return cv::Vec3f(v[0], v[1], v[2]);
  }

 private:
  static constexpr int kQ = 4;
  const cv::Mat& src_;
  const cv::Mat& radius_;
  cv::Mat pooled_;  // nearest surface within reach, per kQ x kQ block
  cv::Mat fill1_;   // the fill at half resolution (normalised colour, weight)
  float sx_ = 0.5f, sy_ = 0.5f;
};

}  // namespace dualcam::fusion::detail
