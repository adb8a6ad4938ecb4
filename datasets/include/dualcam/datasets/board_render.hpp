#pragma once
// Analytic rendering of a calibration board seen through a camera model: the ground-truth
// images of the synthetic calibration protocol (datasets/board_sim.hpp builds whole sets on it).
//
// The board's pattern is an exact function of its plane coordinates (mm, the frame of
// BoardSpec::object_points): square edges and marker bits are sharp lines. Each pixel averages
// n x n samples; each sample is un-distorted through the camera's OpenCV model (the simulator's
// exact inverse, lens.hpp: all 8 coefficients of the rational model), turned into a ray and
// intersected with the board plane. So a board corner drawn in the image sits where
// cv::projectPoints puts it (tests check 0.05 px).
//
// A simulator piece, so it lives in datasets: calibration (the product) only detects boards and
// calibrates, and datasets depends on calibration for the board models (BoardSpec), never the
// other way round.
#include <opencv2/core.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::datasets {

using calibration::BoardSpec;

// The board's reflectance as a function of its plane coordinates.
class BoardPattern {
 public:
  explicit BoardPattern(const BoardSpec& spec, double margin_squares = 0.75);
  // Reflectance in [0,1] at (x, y) mm, or a negative value outside the board (margin included).
  float sample(double x_mm, double y_mm) const;
  const BoardSpec& spec() const { return spec_; }

 private:
  BoardSpec spec_;
  double x0_, y0_;          // top-left corner of the squares area, mm
  int squares_x_, squares_y_;
  double margin_mm_;
  cv::Mat cells_;           // CV_8U per square: 0 black, 1 white, 2 marker (ChArUco)
  cv::Mat bits_;            // ChArUco: marker cells, (rows*mcells) x (cols*mcells) CV_8U 0/1
  int mcells_ = 0;          // marker size in cells including the black border
};

struct BoardRenderOptions {
  int supersample = 4;        // n x n samples per pixel (anti-aliasing), count
  float black = 0.04f;        // reflectance of black squares, [0,1]
  float white = 0.80f;        // reflectance of white squares and the margin, [0,1]
  void validate() const;
};

// The board-plane point (mm) seen at `pixel`: the mapping render_board samples (it interpolates
// this map bilinearly between pixel corners). Returns false when the ray misses the plane or the
// lens cannot be inverted at `pixel`.
bool board_point_at(const CameraModel& camera, const cv::Matx33d& R_cam_from_board, const cv::Vec3d& t_cam_from_board,
                    const cv::Point2d& pixel, cv::Point2d& board_mm);

// Renders the board at pose camera_from_board (X_cam = R X_board + t) into CV_32F linear light;
// pixels that do not see the board keep `background` (CV_32F of camera.size, or empty = 0.5), and
// so do samples where the lens cannot be inverted. Throws Error(InvalidInput) for a camera
// without a size or a lens LensInverse refuses.
cv::Mat render_board(const BoardPattern& pattern, const CameraModel& camera, const cv::Matx33d& R_cam_from_board,
                     const cv::Vec3d& t_cam_from_board, const cv::Mat& background = cv::Mat(),
                     const BoardRenderOptions& options = {});

}  // namespace dualcam::datasets
