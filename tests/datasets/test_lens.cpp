// The simulator's one lens model (lens.hpp): the forward model is cv::projectPoints, the inverse
// undoes it to far below a micro-pixel over the whole image of a strong 8-coefficient lens, and the
// board renderer maps pixels to the board through it.
#include <catch2/catch.hpp>

#include <cmath>

#include <opencv2/calib3d.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/datasets/board_render.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/datasets/lens.hpp"
#include "dualcam/engine/error.hpp"

using namespace dualcam;
using namespace dualcam::datasets;

namespace {

// A strong rational lens (k1 k2 p1 p2 k3 k4 k5 k6): about 155 px of barrel distortion at the
// corner of a 640 x 480 image, tangential terms and all three denominator terms, still one-to-one
// (the radial map folds only at 2.4 times the corner's radius).
CameraModel strong_lens() {
  CameraModel c;
  c.size = {640, 480};
  c.K = cv::Matx33d(420, 0, 318.7, 0, 421.5, 241.2, 0, 0, 1);
  c.dist = (cv::Mat_<double>(1, 8) << -0.22, 0.06, 0.002, -0.0015, -0.004, 0.05, -0.01, 0.004);
  return c;
}

}  // namespace

TEST_CASE("Lens inverse: distort(undistort(p)) == p within 1e-6 px over the image of a strong 8-coefficient lens",
          "[datasets][lens]") {
  const CameraModel cam = strong_lens();
  const LensInverse lens(cam);
  double worst = 0, moved = 0;
  int failed = 0;
  for (int y = 0; y < cam.size.height; ++y)
    for (int x = 0; x < cam.size.width; ++x)
      for (const double off : {-0.5, 0.0, 0.25}) {  // pixel corners, centres and in between
        const double u = x + off, v = y + off;
        double nx, ny, pu, pv;
        if (!lens(u, v, nx, ny)) {
          ++failed;
          continue;
        }
        lens.project(nx, ny, pu, pv);
        worst = std::max(worst, std::hypot(pu - u, pv - v));
        moved = std::max(moved, std::hypot(nx * cam.K(0, 0) + cam.K(0, 2) - u, ny * cam.K(1, 1) + cam.K(1, 2) - v));
      }
  INFO("largest round-trip error " << worst << " px; the lens moves a pixel by up to " << moved << " px");
  CHECK(failed == 0);
  CHECK(worst < 1e-6);
  CHECK(moved > 100);  // strong: an inverse that ignored any term would be far off

  // The forward model is OpenCV's.
  std::vector<cv::Point3d> pts;
  for (double ny = -0.9; ny <= 0.9; ny += 0.3)
    for (double nx = -1.2; nx <= 1.2; nx += 0.3) pts.emplace_back(nx, ny, 1.0);
  std::vector<cv::Point2d> cv_px;
  cv::projectPoints(pts, cv::Vec3d(0, 0, 0), cv::Vec3d(0, 0, 0), cv::Mat(cam.K), cam.dist, cv_px);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    double u, v;
    lens.project(pts[i].x, pts[i].y, u, v);
    CHECK(std::hypot(u - cv_px[i].x, v - cv_px[i].y) < 1e-9);
  }
}

TEST_CASE("Lens inverse: the random calibration rigs' lenses, and refused models", "[datasets][lens]") {
  BoardSetOptions o;
  o.mono_size = {640, 480};
  o.color_size = {480, 360};
  const StereoRig rig = random_rig(7, o);
  for (const CameraModel* cam : {&rig.mono, &rig.color}) {
    const LensInverse lens(*cam);
    for (int y = 0; y < cam->size.height; y += 7)
      for (int x = 0; x < cam->size.width; x += 7) {
        double nx, ny, u, v;
        REQUIRE(lens(x, y, nx, ny));
        lens.project(nx, ny, u, v);
        CHECK(std::hypot(u - x, v - y) < 1e-6);
      }
  }
  CameraModel bad = strong_lens();
  bad.K(0, 0) = 0;
  CHECK_THROWS_AS(LensInverse(bad), Error);
  bad = strong_lens();
  bad.K(1, 2) = std::nan("");
  CHECK_THROWS_AS(LensInverse(bad), Error);
  bad = strong_lens();
  bad.dist.convertTo(bad.dist, CV_32F);
  CHECK_THROWS_AS(LensInverse(bad), Error);
}

TEST_CASE("Board renderer: a projected corner maps back onto its board point through an 8-coefficient lens",
          "[datasets][lens][board_render]") {
  const CameraModel cam = strong_lens();
  const calibration::BoardSpec board = calibration::parse_board_spec("chessboard:9x6:25mm");
  // The board 400 mm away, tilted, filling the middle of the image and reaching into the corners.
  cv::Matx33d R;
  cv::Rodrigues(cv::Vec3d(0.25, -0.35, 0.1), R);
  const cv::Vec3d t(-100, -60, 300);
  cv::Vec3d rv;
  cv::Rodrigues(R, rv);
  std::vector<cv::Point2d> px;
  std::vector<cv::Point3d> obj;
  for (const auto& p : board.object_points()) obj.emplace_back(p.x, p.y, p.z);
  cv::projectPoints(obj, rv, t, cv::Mat(cam.K), cam.dist, px);
  int inside = 0;
  for (std::size_t i = 0; i < px.size(); ++i) {
    if (px[i].x < 0 || px[i].y < 0 || px[i].x > cam.size.width - 1 || px[i].y > cam.size.height - 1) continue;
    ++inside;
    cv::Point2d b;
    REQUIRE(board_point_at(cam, R, t, px[i], b));
    CHECK(std::hypot(b.x - obj[i].x, b.y - obj[i].y) < 1e-6);  // mm
  }
  CHECK(inside > 40);
  const cv::Mat img = render_board(BoardPattern(board), cam, R, t);
  CHECK(img.size() == cam.size);
  CHECK(img.type() == CV_32F);
}
