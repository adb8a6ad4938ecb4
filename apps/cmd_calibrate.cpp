// dualcam calibrate: a rig file and a pass/fail verdict from chessboard or ChArUco image pairs.

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "common.hpp"
#include "dualcam/calibration/board.hpp"
#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/fusion/rectify.hpp"

namespace fs = std::filesystem;

namespace dualcam::app {
namespace {

cv::Mat to_bgr8(const cv::Mat& img) {
  cv::Mat out = img;
  if (out.depth() == CV_16U) out.convertTo(out, CV_8U, 1.0 / 257.0);
  if (out.channels() == 1) cv::cvtColor(out, out, cv::COLOR_GRAY2BGR);
  return out.clone();
}

void label(cv::Mat& img, const std::string& text, cv::Point at, cv::Scalar colour = {255, 255, 255}) {
  const double scale = std::max(0.4, img.cols / 1400.0);
  cv::putText(img, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, {0, 0, 0}, 3, cv::LINE_AA);
  cv::putText(img, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}

cv::Mat side_by_side(const cv::Mat& a, const cv::Mat& b) {
  const int h = std::max(a.rows, b.rows);
  cv::Mat out(h, a.cols + b.cols, CV_8UC3, cv::Scalar(40, 40, 40));
  a.copyTo(out(cv::Rect(0, 0, a.cols, a.rows)));
  b.copyTo(out(cv::Rect(a.cols, 0, b.cols, b.rows)));
  return out;
}

cv::Mat draw_detection(const cv::Mat& image, const calibration::Detection& d, const std::string& title) {
  cv::Mat img = to_bgr8(image);
  if (d.found) {
    const float r = std::max(2.0f, img.cols / 300.0f);
    for (std::size_t i = 0; i < d.corners.size(); ++i) {
      const cv::Scalar c = i == 0 ? cv::Scalar(0, 0, 255) : cv::Scalar(0, 255, 0);
      cv::circle(img, d.corners[i], int(r), c, 1, cv::LINE_AA);
      if (i > 0) cv::line(img, d.corners[i - 1], d.corners[i], {0, 200, 255}, 1, cv::LINE_AA);
    }
    label(img, title + ": " + std::to_string(d.corners.size()) + " corners", {8, 24});
  } else {
    label(img, title + ": " + d.reason, {8, 24}, {80, 80, 255});
  }
  return img;
}

// Residual vectors of one camera over all used views, magnified.
cv::Mat draw_residual_field(const calibration::StereoCalibrationResult& res, bool mono, cv::Size size) {
  cv::Mat img(size, CV_8UC3, cv::Scalar(30, 30, 30));
  double maxr = 0;
  for (const auto& v : res.views)
    for (const auto& r : mono ? v.residuals_mono : v.residuals_color) maxr = std::max(maxr, double(cv::norm(r)));
  const double gain = maxr > 0 ? 0.04 * size.width / maxr : 1.0;
  for (const auto& v : res.views) {
    const auto& P = mono ? v.points_mono : v.points_color;
    const auto& R = mono ? v.residuals_mono : v.residuals_color;
    for (std::size_t i = 0; i < P.size(); ++i) {
      cv::Point2f tip = P[i] + cv::Point2f(float(R[i].x * gain), float(R[i].y * gain));
      cv::circle(img, P[i], 1, {160, 160, 160}, -1);
      cv::line(img, P[i], tip, {0, 220, 255}, 1, cv::LINE_AA);
    }
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s residuals (predicted - detected) x%.0f; largest %.3f px, RMS %.3f px",
                mono ? "mono" : "colour", gain, maxr, mono ? res.rms_mono_px : res.rms_color_px);
  label(img, buf, {8, 24});
  return img;
}

cv::Mat draw_residual_bars(const calibration::StereoCalibrationResult& res) {
  const int n = int(res.views.size());
  const int bw = 14, gap = 10, h = 320, left = 50;
  cv::Mat img(h + 80, std::max(500, left + n * (2 * bw + gap) + 20), CV_8UC3, cv::Scalar(255, 255, 255));
  double maxr = 1e-6;
  for (const auto& v : res.views) maxr = std::max({maxr, v.rms_mono_px, v.rms_color_px});
  const double scale = (h - 40) / maxr;
  for (int i = 0; i < n; ++i) {
    const auto& v = res.views[std::size_t(i)];
    const int x = left + i * (2 * bw + gap);
    if (!v.used) {
      cv::putText(img, "x", {x + 6, h - 4}, cv::FONT_HERSHEY_SIMPLEX, 0.5, {0, 0, 220}, 1, cv::LINE_AA);
    } else {
      cv::rectangle(img, cv::Point(x, h), cv::Point(x + bw - 1, h - int(v.rms_mono_px * scale)), {90, 90, 90}, -1);
      cv::rectangle(img, cv::Point(x + bw, h), cv::Point(x + 2 * bw - 1, h - int(v.rms_color_px * scale)),
                    {60, 140, 230}, -1);
    }
    if (i % std::max(1, n / 20) == 0)
      cv::putText(img, std::to_string(i + 1), {x, h + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  }
  const int yr = h - int(res.rms_px * scale);
  cv::line(img, {left, yr}, {img.cols - 10, yr}, {0, 160, 0}, 1, cv::LINE_AA);
  char buf[200];
  std::snprintf(buf, sizeof buf, "per-view RMS (grey mono, orange colour, x = not used); green: overall %.3f px; top %.3f px",
                res.rms_px, maxr);
  cv::putText(img, buf, {8, h + 50}, cv::FONT_HERSHEY_SIMPLEX, 0.45, {0, 0, 0}, 1, cv::LINE_AA);
  return img;
}

cv::Mat draw_rectified(const StereoRig& rig, const cv::Mat& mono, const cv::Mat& color, double row_error) {
  fusion::Rectifier rect(rig);
  cv::Mat a = rect.rectify_mono(to_bgr8(mono)), b = rect.rectify_color(to_bgr8(color));
  cv::Mat img = side_by_side(a, b);
  for (int y = 12; y < img.rows; y += std::max(12, img.rows / 24))
    cv::line(img, {0, y}, {img.cols - 1, y}, {0, 255, 0}, 1, cv::LINE_AA);
  char buf[160];
  std::snprintf(buf, sizeof buf, "rectified (mono left, colour right); mean row error %.3f px", row_error);
  label(img, buf, {8, img.rows - 10});
  return img;
}

// --report-dir: the detections of each pair, the residuals and the best stereo pair rectified.
void write_pictures(const std::string& report_dir, const calibration::StereoViewSet& set,
                    const calibration::StereoCalibrationResult& res, const std::vector<std::string>& mono,
                    const std::vector<std::string>& color) {
  std::error_code ec;
  fs::create_directory(report_dir, ec);
  if (!fs::is_directory(report_dir, ec)) throw_io("cannot create --report-dir '" + report_dir + "'");
  const fs::path dir(report_dir);
  int best = -1;
  double best_rms = 1e300;
  for (std::size_t i = 0; i < set.views.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "corners_%02zu.jpg", i + 1);
    cv::Mat pic = side_by_side(draw_detection(set.mono_images[i], set.views[i].mono, "mono " + fs::path(mono[i]).filename().string()),
                               draw_detection(set.color_images[i], set.views[i].color, "colour " + fs::path(color[i]).filename().string()));
    const auto& vr = res.views[i];
    label(pic, !vr.used ? "not used: " + vr.reason : vr.stereo ? "used" : "used, " + vr.note, {8, pic.rows - 10},
          !vr.used ? cv::Scalar(80, 80, 255) : vr.stereo ? cv::Scalar(120, 255, 120) : cv::Scalar(80, 200, 255));
    write_image((dir / name).string(), pic);
    const double rv = std::max(vr.rms_mono_px, vr.rms_color_px);
    if (vr.stereo && rv < best_rms) best_rms = rv, best = int(i);
  }
  write_image((dir / "residual_bars.png").string(), draw_residual_bars(res));
  write_image((dir / "residuals_mono.png").string(), draw_residual_field(res, true, set.mono_size));
  write_image((dir / "residuals_color.png").string(), draw_residual_field(res, false, set.color_size));
  if (best >= 0)
    write_image((dir / "rectified.jpg").string(),
                draw_rectified(res.rig, set.mono_images[std::size_t(best)], set.color_images[std::size_t(best)],
                               res.row_error_px));
}

void print_summary(const calibration::StereoCalibrationResult& res, bool halves_asked) {
  std::printf("views used     %d of %d (%d as stereo pairs)\n", res.views_used, res.views_total, res.views_stereo);
  for (const auto& v : res.views)
    if (!v.used) std::printf("  skipped %s: %s\n", v.name.c_str(), v.reason.c_str());
    else if (!v.stereo) std::printf("  %s: %s\n", v.name.c_str(), v.note.c_str());
  std::printf("corners        %d used, %d rejected as outliers\n", res.corners_used, res.corners_rejected);
  std::printf("RMS            %.4f px (mono %.4f, colour %.4f)\n", res.rms_px, res.rms_mono_px, res.rms_color_px);
  std::printf("row error      %.4f px (mean |dy| after rectification, stereo pairs); %.4f px over every used pair\n",
              res.row_error_px, res.row_error_all_px);
  std::printf("mono  f        %.2f %.2f +- %.2f %.2f px, c %.2f %.2f +- %.2f %.2f px\n", res.rig.mono.K(0, 0),
              res.rig.mono.K(1, 1), res.sigma.mono.fx, res.sigma.mono.fy, res.rig.mono.K(0, 2), res.rig.mono.K(1, 2),
              res.sigma.mono.cx, res.sigma.mono.cy);
  std::printf("colour f       %.2f %.2f +- %.2f %.2f px, c %.2f %.2f +- %.2f %.2f px\n", res.rig.color.K(0, 0),
              res.rig.color.K(1, 1), res.sigma.color.fx, res.sigma.color.fy, res.rig.color.K(0, 2),
              res.rig.color.K(1, 2), res.sigma.color.cx, res.sigma.color.cy);
  cv::Vec3d rv;
  cv::Rodrigues(res.rig.R, rv);
  std::printf("rotation       %.4f deg +- %.4f deg\n", cv::norm(rv) * 180 / M_PI, res.sigma.rotation_deg);
  std::printf("baseline       %.3f mm +- %.3f mm  T = [%.3f %.3f %.3f] mm\n", res.rig.baseline(), res.sigma.baseline_mm,
              res.rig.T[0], res.rig.T[1], res.rig.T[2]);
  if (res.halves.computed)
    std::printf("halves         rotation differs by %.4f deg (1-sigma %.4f), baseline by %.3f mm = %.2f %% (1-sigma %.3f mm): %s\n",
                res.halves.rotation_diff_deg, res.halves.rotation_sigma_deg, res.halves.baseline_diff_mm,
                res.halves.baseline_diff_pct, res.halves.baseline_sigma_mm,
                res.halves.within_3sigma ? "inside 3 sigma" : "OUTSIDE 3 sigma");
  else if (halves_asked)
    std::printf("halves         not computed: %s\n", res.halves.reason.c_str());
}

}  // namespace

Command register_calibrate(CLI::App& root) {
  struct Opts {
    std::string mono, color, board, out, report_dir, raw_layout;
    double max_rms = 0, max_row_error = 0;
    std::vector<std::string> fix;
    int min_views = calibration::StereoCalibrationOptions{}.min_views;
    bool no_halves = false, keep_all_views = false, drop_outlier_views = false;
    CommonOptions common;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* app = root.add_subcommand("calibrate", "calibrate a mono + colour module from board image pairs");
  app->add_option("--mono", o->mono, "mono images, a quoted glob (e.g. 'dir/left*.jpg'), natural order")->required();
  app->add_option("--color,--colour", o->color, "colour images, a quoted glob, paired with --mono by order")->required();
  add_raw_layout_option(app, o->raw_layout);
  app->add_option("--board", o->board,
                  "chessboard:COLSxROWS:SQUARE (inner corners) or charuco:DICT:COLSxROWS:SQUARE:MARKER (squares); "
                  "lengths with a unit, e.g. chessboard:9x6:24.23mm")
      ->required();
  app->add_option("-o,--output", o->out, "rig file to write (OpenCV YAML)")->required();
  app->add_option("--report-dir", o->report_dir, "write pictures here: corners per view, residuals, rectified pair");
  app->add_option("--max-rms", o->max_rms, "verdict: fail when the stereo RMS exceeds this, px (0 = no limit)")
      ->check(CLI::Range(0.0, 1e6));
  app->add_option("--max-row-error", o->max_row_error,
                  "verdict: fail when the mean rectified row error exceeds this, px (0 = no limit)")
      ->check(CLI::Range(0.0, 1e6));
  app->add_option("--fix", o->fix, "hold parameters fixed: fx fy cx cy k1 k2 p1 p2 k3 (prefix mono. or color.)")
      ->delimiter(',');
  app->add_option("--min-views", o->min_views, "fewest usable views")->check(CLI::Range(2, 100000));
  app->add_flag("--no-halves", o->no_halves, "skip the odd/even halves consistency check (faster)");
  app->add_flag("--keep-all-views", o->keep_all_views,
                "use every pair as a stereo pair, even one whose two images disagree (outlier corners are still "
                "rejected)");
  app->add_flag("--drop-outlier-views", o->drop_outlier_views,
                "drop pairs whose two images disagree and views with an outlying RMS (default: such a pair is "
                "used for the intrinsics only, such a view keeps its inlier corners)");
  add_common_options(app, o->common);
  app->footer(example("dualcam calibrate --mono 'shots/left*.jpg' --color 'shots/right*.jpg' "
                      "--board chessboard:9x6:24.23mm -o rig.yaml --json report.json --report-dir report "
                      "--max-rms 0.5 --max-row-error 0.3\n"
                      "Exit code: 0 pass, 3 fail (a threshold is exceeded; the rig is still written), "
                      "2 bad input, 4 file I/O, 5 calibration impossible (e.g. too few usable views)."));
  Action action = [o]() {
    const calibration::BoardSpec board = calibration::parse_board_spec(o->board);
    calibration::StereoCalibrationOptions co;
    co.fixed = o->fix;
    co.min_views = o->min_views;
    co.halves = !o->no_halves;
    if (o->keep_all_views) co.view_outlier_sigmas = 1000;
    co.drop_outlier_views = o->drop_outlier_views;
    if (o->keep_all_views && o->drop_outlier_views) throw_invalid("--keep-all-views and --drop-outlier-views exclude each other");
    co.validate();
    check_outputs({o->out, o->common.json_path});
    if (!o->report_dir.empty()) {
      std::error_code ec;
      const fs::path dir(o->report_dir);
      if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw_io("--report-dir '" + o->report_dir + "' is not a directory");
      if (!fs::exists(dir, ec)) check_output_path(dir.string());  // created at the end: its parent must exist
    }
    const auto mono = expand_glob(o->mono, "--mono");
    const auto color = expand_glob(o->color, "--color");
    if (mono.size() != color.size())
      throw_invalid("--mono matched " + std::to_string(mono.size()) + " images but --color matched " +
                    std::to_string(color.size()) + "; pairs are matched by order, so the counts must agree");
    ThreadScope threads(o->common.threads);
    Stopwatch total;
    Progress progress("calibrate", 3);
    RunReport report("calibrate");
    Stopwatch stage;
    calibration::StereoViewOptions detection;
    detection.max_pixels = o->common.max_pixels;
    detection.raw = raw_layouts(o->raw_layout);
    detection.keep_images = !o->report_dir.empty();
    calibration::StereoViewSet set =
        threads.run([&] { return calibration::load_stereo_views(mono, color, board, detection); });
    progress.advance(1, "detected");
    report.add_stage_seconds("detect", stage.seconds());
    stage.reset();
    calibration::StereoCalibrationResult res =
        threads.run([&] { return calibration::calibrate_stereo(set.views, board, set.mono_size, set.color_size, co); });
    report.add_stage_seconds("calibrate", stage.seconds());
    progress.advance(1, "calibrated");

    // Verdict.
    const calibration::CalibrationVerdict verdict = calibration::calibration_verdict(res, o->max_rms, o->max_row_error);
    const std::vector<std::string>& failed = verdict.failed;
    res.rig.extras["verdict_pass"] = verdict.pass ? 1 : 0;

    // Outputs: pictures, report, rig.
    stage.reset();
    if (!o->report_dir.empty()) write_pictures(o->report_dir, set, res, mono, color);
    report.add_stage_seconds("write", stage.seconds());
    if (!o->common.json_path.empty()) {
      report.json()["inputs"] = {{"mono", o->mono}, {"color", o->color}, {"board", board.to_string()}};
      report.json()["calibration"] = res.to_json();
      report.json()["verdict"] = verdict.to_json();
      report.json()["threads"] = threads.threads();
      report.json()["total_s"] = total.seconds();
      report.write(o->common.json_path);
    }
    write_rig(o->out, res.rig, res.rectification_matrices());
    progress.finish();

    print_summary(res, co.halves);
    std::printf("wrote          %s\n", o->out.c_str());
    if (!failed.empty()) {
      std::string all;
      for (const auto& f : failed) all += (all.empty() ? "" : "; ") + f;
      std::printf("verdict        FAIL: %s\n", all.c_str());
      std::fprintf(stderr, "dualcam calibrate: FAIL: %s\n", all.c_str());
      return 3;
    }
    std::printf("verdict        PASS\n");
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
