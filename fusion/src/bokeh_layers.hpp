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

// Layer occupancy is kept per block of kBlock x kBlock pixels; the reduced grids are blurred per
// tile of kTile x kTile pixels of their own grid, and only where their level reaches.
constexpr int kBlock = 8;
constexpr int kTile = 32;  // a multiple of kBlock

struct LayerMaps {
  std::vector<double> levels;  // signed radii, ascending (far -> near)
  cv::Mat lower;               // CV_16S: index j of the level just below the pixel's radius
  cv::Mat t;                   // CV_32F: weight of level j + 1 (1 - t goes to level j)
  int bw = 0, bh = 0;          // blocks per row, block rows
  std::vector<std::vector<std::uint8_t>> occupied;  // per level, per block: 1 = has weight there
};

// The levels for the radii in `radius` (signed px, see signed_blur_radius; steps from the
// options' layer_growth and reduced_layer_growth) and each pixel's share of its two nearest
// levels.
LayerMaps assign_layers(const cv::Mat& radius, const BokehOptions& o);

// The layers, blurred and composited from the nearest (largest signed radius) to the farthest:
// each is hidden where the layers in front of it already cover the aperture.
//
// The work is bounded by the image, not by how many levels the depth holds (docs/bokeh.md,
// "Speed"): the levels blurred on a reduced grid (radius above full_res_radius_px) are
// box-averaged down in one pass over the image for all of them at once and blurred on their
// grids; then each output tile of kOutTile x kOutTile pixels runs through the levels that reach
// it, front to back, with its accumulators in the tile (the full-resolution levels blurred
// there from a window of the image, the reduced ones upsampled bilinearly), and is finished with
// the hidden background where the layers leave coverage missing.
class HiddenBackground;

class LayerRenderer {
 public:
  static constexpr int kOutTile = 64;
  // src: the image to blur (CV_32FC3); maps: assign_layers over a radius map of src's size.
  LayerRenderer(const cv::Mat& src, const LayerMaps& maps, const BokehOptions& o);
  // The image's pixels `roi` (src's coordinates) composited, the coverage the layers leave
  // missing taken from `hidden`: out (CV_32FC3, roi's size) = (colour + hidden * missing) /
  // (coverage + missing). Levels with any pixel are counted in `stats`.
  void render(const cv::Rect& roi, const HiddenBackground& hidden, cv::Mat& out, BokehStats& stats);

 private:
  struct Level {
    double r = 0;     // |radius|, px at full resolution
    int scale = 1;    // grid reduction
    int lw = 0, lh = 0;  // the grid's size
    Kernel kernel;    // on the level's grid
    int reach = 0;    // full-resolution px beyond its pixels that the level's blur reaches
    bool any = false;
    cv::Mat low;      // scale > 1: the level blurred on its grid (CV_32FC4)
  };
  void prepare_reduced();
  // The part of `rect` within level l's reach of its occupied blocks (empty when none is near).
  cv::Rect reached(int l, const cv::Rect& rect) const;
  // Blurred values of full-resolution level `l` over `rect` (src's coordinates) into `val`
  // (rect.area() x 4 floats).
  void blur_full(int l, const cv::Rect& rect, float* val, std::vector<float>& window, std::vector<float>& scratch) const;
  // Composites the tile `rect`; acc: rect.area() x 4, cover: rect.area().
  // Per-thread buffers, reused from tile to tile (large ones freshly allocated per tile would be
  // mapped and faulted in each time).
  struct Work {
    std::vector<float> acc, cover, val, pv, pv_next, window, scratch, hrow, zero_row, xw, blurred;
    std::vector<std::uint8_t> row_any;
    std::vector<int> xi;
  };
  // Reduced level `l` upsampled over `rect` and composited into w's accumulators; false when it
  // is zero there throughout (then nothing was changed).
  bool upsample_composite(int l, const cv::Rect& rect, Work& w) const;
  void composite_tile(int tile, const cv::Rect& rect, Work& w) const;

  const cv::Mat& src_;
  const LayerMaps& maps_;
  const BokehOptions& o_;
  std::vector<Level> lv_;
  cv::Rect roi_;
  int otw_ = 0, oth_ = 0;  // output tiles per row, tile rows (over roi_)
  std::vector<std::vector<std::uint8_t>> near_;
  tbb::enumerable_thread_specific<Work> work_;  // per level, per output tile: the level reaches it
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
