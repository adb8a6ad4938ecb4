#include "dualcam/eval/calib_peer.hpp"

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/rectify_geometry.hpp"

namespace dualcam::eval {

using calibration::BoardKind;
using calibration::rectified_row_error;
using calibration::row_error_rectify;

namespace {

std::vector<cv::Point3f> object_points_of(const Detection& d, const std::vector<cv::Point3f>& model) {
  std::vector<cv::Point3f> pts;
  for (int id : d.ids) pts.push_back(model.at(std::size_t(id)));
  return pts;
}

}  // namespace

Detection detect_board_peer(const cv::Mat& image, const BoardSpec& spec) {
  if (spec.kind != BoardKind::Chessboard) throw_invalid("the OpenCV peer handles chessboards only");
  cv::Mat gray = image;
  if (gray.channels() == 3) cv::cvtColor(gray, gray, cv::COLOR_BGR2GRAY);
  if (gray.depth() == CV_16U) gray.convertTo(gray, CV_8U, 1.0 / 257.0);
  Detection d;
  std::vector<cv::Point2f> corners;
  if (!cv::findChessboardCorners(gray, cv::Size(spec.cols, spec.rows), corners,
                                 cv::CALIB_CB_ADAPTIVE_THRESH | cv::CALIB_CB_NORMALIZE_IMAGE)) {
    d.reason = "chessboard not found";
    return d;
  }
  cv::cornerSubPix(gray, corners, cv::Size(5, 5), cv::Size(-1, -1),
                   cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 30, 0.01));
  d.found = true;
  d.corners = corners;
  for (std::size_t i = 0; i < corners.size(); ++i) d.ids.push_back(int(i));
  return d;
}

PeerResult calibrate_stereo_peer(const std::vector<StereoView>& views, const BoardSpec& board, cv::Size mono_size,
                                 cv::Size color_size) {
  const std::vector<cv::Point3f> model = board.object_points();
  std::vector<std::vector<cv::Point3f>> obj;
  std::vector<std::vector<cv::Point2f>> im[2];
  std::vector<StereoView> used;
  std::vector<std::string> skipped;
  for (const StereoView& v : views) {
    if (!v.mono.found || !v.color.found || v.mono.ids != v.color.ids) {
      skipped.push_back(v.name);
      continue;
    }
    obj.push_back(object_points_of(v.mono, model));
    im[0].push_back(v.mono.corners);
    im[1].push_back(v.color.corners);
    used.push_back(v);
  }
  if (obj.size() < 2) throw Error(ErrorCategory::Calibration, "peer: fewer than 2 views with the board in both cameras");
  cv::Mat K[2], D[2];
  for (int c = 0; c < 2; ++c) {
    std::vector<cv::Mat> rv, tv;
    cv::calibrateCamera(obj, im[c], c == 0 ? mono_size : color_size, K[c], D[c], rv, tv, 0);
  }
  cv::Mat R, T, E, F;
  PeerResult p;
  p.rms_px = cv::stereoCalibrate(obj, im[0], im[1], K[0], D[0], K[1], D[1], mono_size, R, T, E, F,
                                 cv::CALIB_USE_INTRINSIC_GUESS,
                                 cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 100, 1e-6));
  p.views_used = int(obj.size());
  p.skipped = skipped;
  p.used = used;
  p.rig.mono.K = cv::Matx33d(K[0]);
  p.rig.mono.dist = D[0].reshape(1, 1).clone();
  p.rig.mono.size = mono_size;
  p.rig.color.K = cv::Matx33d(K[1]);
  p.rig.color.dist = D[1].reshape(1, 1).clone();
  p.rig.color.size = color_size;
  p.rig.R = cv::Matx33d(R);
  p.rig.T = cv::Vec3d(T.at<double>(0), T.at<double>(1), T.at<double>(2));
  p.row_error_px = rectified_row_error(p.rig, rectify_geometry(p.rig, row_error_rectify()), used);
  return p;
}

}  // namespace dualcam::eval
