#include "dualcam/datasets/board_render.hpp"

#include <cmath>
#include <limits>

#include <opencv2/aruco/charuco.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/lens.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::datasets {

using calibration::BoardKind;
using calibration::aruco_dictionary_id;

BoardPattern::BoardPattern(const BoardSpec& spec, double margin_squares) : spec_(spec) {
  spec.validate();
  check_range("BoardPattern margin_squares", margin_squares, 0.0, 100.0);
  const double sq = spec.square_mm;
  margin_mm_ = margin_squares * sq;
  if (spec.kind == BoardKind::Chessboard) {
    // COLSxROWS inner corners; corner (c, r) at (c*sq, r*sq): squares from -sq to cols*sq.
    squares_x_ = spec.cols + 1;
    squares_y_ = spec.rows + 1;
    x0_ = -sq;
    y0_ = -sq;
    cells_.create(squares_y_, squares_x_, CV_8U);
    for (int j = 0; j < squares_y_; ++j)
      for (int i = 0; i < squares_x_; ++i) cells_.at<uchar>(j, i) = (i + j) % 2 == 0 ? 0 : 1;
    return;
  }
  // ChArUco: take the layout (which squares are black, which hold markers, and the marker bits)
  // from OpenCV's own drawing of the board, sampled at cell centres, so detection ids agree.
  squares_x_ = spec.cols;
  squares_y_ = spec.rows;
  x0_ = 0;
  y0_ = 0;
  auto dict = cv::aruco::getPredefinedDictionary(aruco_dictionary_id(spec.dictionary));
  auto board = cv::aruco::CharucoBoard::create(spec.cols, spec.rows, float(spec.square_mm), float(spec.marker_mm), dict);
  mcells_ = dict->markerSize + 2;
  const int P = 24 * mcells_;  // pixels per square of the reference drawing
  cv::Mat drawing;
  board->draw(cv::Size(spec.cols * P, spec.rows * P), drawing, 0, 1);
  cells_.create(squares_y_, squares_x_, CV_8U);
  bits_ = cv::Mat::zeros(squares_y_ * mcells_, squares_x_ * mcells_, CV_8U);
  const double m = spec.marker_mm / sq;  // marker side in squares
  const double off = (1.0 - m) / 2;
  for (int j = 0; j < squares_y_; ++j)
    for (int i = 0; i < squares_x_; ++i) {
      // A square's corner region (outside the marker) tells black from white.
      const uchar corner = drawing.at<uchar>(int((j + off / 4) * P), int((i + off / 4) * P));
      if (corner < 128) {
        cells_.at<uchar>(j, i) = 0;
        continue;
      }
      cells_.at<uchar>(j, i) = 2;
      for (int b = 0; b < mcells_; ++b)
        for (int a = 0; a < mcells_; ++a) {
          const double px = (i + off + (a + 0.5) * m / mcells_) * P, py = (j + off + (b + 0.5) * m / mcells_) * P;
          bits_.at<uchar>(j * mcells_ + b, i * mcells_ + a) = drawing.at<uchar>(int(py), int(px)) > 128 ? 1 : 0;
        }
    }
}

float BoardPattern::sample(double x, double y) const {
  const double sq = spec_.square_mm;
  const double u = (x - x0_) / sq, v = (y - y0_) / sq;  // in squares
  const double mu = margin_mm_ / sq;
  if (u < -mu || v < -mu || u > squares_x_ + mu || v > squares_y_ + mu) return -1.0f;
  if (u < 0 || v < 0 || u >= squares_x_ || v >= squares_y_) return 1.0f;  // white margin
  const int i = int(u), j = int(v);
  const uchar c = cells_.at<uchar>(j, i);
  if (c != 2) return float(c);
  const double m = spec_.marker_mm / sq, off = (1.0 - m) / 2;
  const double a = (u - i - off) / m, b = (v - j - off) / m;  // in the marker, [0,1)
  if (a < 0 || b < 0 || a >= 1 || b >= 1) return 1.0f;
  return float(bits_.at<uchar>(j * mcells_ + int(b * mcells_), i * mcells_ + int(a * mcells_)));
}

void BoardRenderOptions::validate() const {
  check_range("BoardRenderOptions::supersample", supersample, 1, 16);
  check_range("BoardRenderOptions::black", black, 0.0, 1.0);
  check_range("BoardRenderOptions::white", white, 0.0, 1.0);
}

bool board_point_at(const CameraModel& camera, const cv::Matx33d& R, const cv::Vec3d& t, const cv::Point2d& pixel,
                    cv::Point2d& board_mm) {
  cv::Point2d q;
  if (!LensInverse(camera)(pixel.x, pixel.y, q.x, q.y)) return false;
  const cv::Vec3d ray(q.x, q.y, 1.0), normal(R(0, 2), R(1, 2), R(2, 2));
  const double den = normal.dot(ray);
  if (std::abs(den) < 1e-12 || normal.dot(t) / den <= 0) return false;
  const cv::Matx33d H(R(0, 0), R(0, 1), t[0], R(1, 0), R(1, 1), t[1], R(2, 0), R(2, 1), t[2]);
  const cv::Vec3d b = H.inv() * ray;
  board_mm = {b[0] / b[2], b[1] / b[2]};
  return true;
}

cv::Mat render_board(const BoardPattern& pattern, const CameraModel& camera, const cv::Matx33d& R,
                     const cv::Vec3d& t, const cv::Mat& background, const BoardRenderOptions& options) {
  options.validate();
  const cv::Size size = camera.size;
  if (size.empty()) throw_invalid("render_board: the camera has no image size");
  if (!background.empty() && (background.size() != size || background.type() != CV_32F))
    throw_invalid("render_board: the background must be CV_32F of the camera's size");
  const LensInverse lens(camera);
  // Normalised coordinates at the pixel corners (x - 0.5, y - 0.5); samples inside a pixel are
  // interpolated bilinearly (the un-distortion map is smooth: the error is far below 1e-3 px).
  // NaN where the lens cannot be inverted: those samples keep the background.
  cv::Mat grid(size.height + 1, size.width + 1, CV_64FC2);
  parallel_rows(size.height + 1, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r)
      for (int c = 0; c <= size.width; ++c) {
        double x, y;
        if (!lens(c - 0.5, r - 0.5, x, y)) x = y = std::numeric_limits<double>::quiet_NaN();
        grid.at<cv::Vec2d>(r, c) = cv::Vec2d(x, y);
      }
  });
  // Board plane: X_cam = R (X, Y, 0) + t, so (x, y, 1) ~ H (X, Y, 1) with H = [r1 r2 t].
  const cv::Matx33d H(R(0, 0), R(0, 1), t[0], R(1, 0), R(1, 1), t[1], R(2, 0), R(2, 1), t[2]);
  const cv::Matx33d Hinv = H.inv();
  const cv::Vec3d normal(R(0, 2), R(1, 2), R(2, 2));
  const double nt = normal.dot(t);
  cv::Mat out(size, CV_32F);
  const int n = options.supersample;
  parallel_rows(size.height, 8, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      float* o = out.ptr<float>(r);
      for (int c = 0; c < size.width; ++c) {
        const cv::Vec2d g00 = grid.at<cv::Vec2d>(r, c), g01 = grid.at<cv::Vec2d>(r, c + 1);
        const cv::Vec2d g10 = grid.at<cv::Vec2d>(r + 1, c), g11 = grid.at<cv::Vec2d>(r + 1, c + 1);
        const float bg = background.empty() ? 0.5f : background.at<float>(r, c);
        double acc = 0;
        for (int sy = 0; sy < n; ++sy) {
          const double fy = (sy + 0.5) / n;
          for (int sx = 0; sx < n; ++sx) {
            const double fx = (sx + 0.5) / n;
            const cv::Vec2d q = (g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy;
            const cv::Vec3d ray(q[0], q[1], 1.0);
            float value = bg;
            const double den = normal.dot(ray);
            if (std::abs(den) > 1e-12 && nt / den > 0) {
              const cv::Vec3d b = Hinv * ray;
              const float refl = pattern.sample(b[0] / b[2], b[1] / b[2]);
              if (refl >= 0) value = options.black + (options.white - options.black) * refl;
            }
            acc += value;
          }
        }
        o[c] = float(acc / (n * n));
      }
    }
  });
  return out;
}

}  // namespace dualcam::datasets
