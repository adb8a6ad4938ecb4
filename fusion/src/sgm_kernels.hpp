#pragma once
// The fast path of the census/SGM matcher (STYLE habit 9): the inner loops, kept apart from the
// algorithm in census_sgm.cpp. Everything is integer (16-bit costs), laid out as
// [row][column][disparity] with the disparity innermost so the loops over d vectorise, and split
// into row tiles or column chunks that are written by exactly one task: the result does not
// depend on the thread count. Private to fusion (not installed).
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace dualcam::fusion::kernels {

// Census signature of every pixel of a CV_8UC1 image over a `win_w` x `win_h` window (odd sizes,
// at most 65 pixels): bit k is set when neighbour k is darker than the centre. Border replicated.
std::vector<std::uint64_t> census_transform(const cv::Mat& image8, int win_w, int win_h);

// Matching cost volume C[y][x][d] (d in [0, D)) = sum over a (2r+1)^2 box of the Hamming distance
// between left census at (x', y') and right census at (x' - d, y'). Where x' - d < 0 the distance
// is `invalid_cost`. `cost` is resized to H * W * D.
void census_cost_volume(const std::vector<std::uint64_t>& left, const std::vector<std::uint64_t>& right, int width,
                        int height, int D, int box_radius, int invalid_cost, std::vector<std::uint16_t>& cost);

// Sets C[y][x][d] = `value` for every d where `blind_left` (CV_8U W x H, may be empty) is set at
// (x, y), and for every d with x - d >= 0 where `blind_right` (may be empty) is set at (x - d, y).
void set_blind_costs(const cv::Mat& blind_left, const cv::Mat& blind_right, int D, std::uint16_t value,
                     std::vector<std::uint16_t>& cost);

struct SgmParams {
  int p1 = 0, p2 = 0;       // penalties in cost units
  double p2_edge = 1.0;     // factor on p2 where the guide steps by more than edge_threshold
  int edge_threshold = 255; // grey-level step
  int paths = 8;            // 4 or 8
};

// Semi-global aggregation: sum[y][x][d] = sum over the paths of L_r(x, y, d). `guide` (CV_8UC1,
// W x H) is the reference image whose edges lower P2. `sum` is resized to H * W * D.
void sgm_aggregate(const std::vector<std::uint16_t>& cost, const cv::Mat& guide, int D, const SgmParams& params,
                   std::vector<std::uint16_t>& sum);

}  // namespace dualcam::fusion::kernels
