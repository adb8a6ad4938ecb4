// The calibration evaluation protocols of docs/evaluation.md#calib-synthetic and #calib-real
// (calib_eval.hpp).
#include "dualcam/eval/calib_eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include <opencv2/calib3d.hpp>

#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/eval/calib_peer.hpp"

namespace fs = std::filesystem;

namespace dualcam::eval {
namespace {

// printf to the protocol's log, when there is one.
void say(std::FILE* log, const char* format, ...) __attribute__((format(printf, 2, 3)));
void say(std::FILE* log, const char* format, ...) {
  if (!log) return;
  va_list args;
  va_start(args, format);
  std::vfprintf(log, format, args);
  va_end(args);
}

using calibration::StereoView;

double rotation_diff_deg(const cv::Matx33d& a, const cv::Matx33d& b) {
  cv::Vec3d r;
  cv::Rodrigues(a.t() * b, r);
  return cv::norm(r) * 180.0 / M_PI;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct RigErrors {
  double rotation_deg = NAN, baseline_pct = NAN, focal_pct = NAN, principal_px = NAN;
  int views_used = 0;
  int views_stereo = 0;         // engine: used views that also constrain the extrinsics
  int covered = 0, tested = 0;  // true value inside the reported 3-sigma interval
  std::string failure;
};

RigErrors score(const StereoRig& est, const StereoRig& truth) {
  RigErrors e;
  e.rotation_deg = rotation_diff_deg(est.R, truth.R);
  e.baseline_pct = 100.0 * std::abs(est.baseline() - truth.baseline()) / truth.baseline();
  double f = 0, c = 0;
  for (int cam = 0; cam < 2; ++cam) {
    const cv::Matx33d& A = cam == 0 ? est.mono.K : est.color.K;
    const cv::Matx33d& B = cam == 0 ? truth.mono.K : truth.color.K;
    f += 100.0 * (std::abs(A(0, 0) - B(0, 0)) / B(0, 0) + std::abs(A(1, 1) - B(1, 1)) / B(1, 1)) / 4;
    c += std::hypot(A(0, 2) - B(0, 2), A(1, 2) - B(1, 2)) / 2;
  }
  e.focal_pct = f;
  e.principal_px = c;
  return e;
}

void coverage(RigErrors& e, const calibration::StereoCalibrationResult& res, const StereoRig& truth) {
  auto check = [&](double err, double sigma) {
    e.tested++;
    e.covered += std::abs(err) <= 3 * sigma;
  };
  for (int cam = 0; cam < 2; ++cam) {
    const cv::Matx33d& A = cam == 0 ? res.rig.mono.K : res.rig.color.K;
    const cv::Matx33d& B = cam == 0 ? truth.mono.K : truth.color.K;
    const auto& s = cam == 0 ? res.sigma.mono : res.sigma.color;
    check(A(0, 0) - B(0, 0), s.fx);
    check(A(1, 1) - B(1, 1), s.fy);
    check(A(0, 2) - B(0, 2), s.cx);
    check(A(1, 2) - B(1, 2), s.cy);
  }
  check(e.rotation_deg, res.sigma.rotation_deg);
  check(res.rig.baseline() - truth.baseline(), res.sigma.baseline_mm);
}

// The peer (docs/evaluation.md#peer-calib) detects with OpenCV's detector and keeps its corner order.
calibration::StereoViewOptions detection(bool peer) {
  calibration::StereoViewOptions o;
  o.max_pixels = 0;
  if (peer) o.detector = detect_board_peer, o.match_corner_order = false;
  return o;
}

std::vector<StereoView> detect_set(const std::vector<datasets::BoardSetView>& set, const calibration::BoardSpec& board,
                                   bool peer) {
  std::vector<calibration::ImagePair> pairs;
  for (const auto& v : set) pairs.push_back({"view" + std::to_string(pairs.size() + 1), v.mono, v.color});
  return calibration::detect_stereo_views(pairs, board, detection(peer)).views;
}

int run_synthetic(const CalibEvalOptions& o, Json& out, std::FILE* log) {
  const calibration::BoardSpec board = calibration::parse_board_spec(o.board.empty() ? "chessboard:9x6:25mm" : o.board);
  const bool engine = o.method != "peer", peer = o.method != "engine" && board.kind == calibration::BoardKind::Chessboard;
  datasets::BoardSetOptions so;
  so.views = o.views;
  calibration::StereoCalibrationOptions co;
  co.halves = false;
  std::vector<RigErrors> E, P;
  say(log, "calib-synthetic: %d rigs x %d views, board %s, mono %dx%d, colour %dx%d\n", o.rigs, o.views,
              board.to_string().c_str(), so.mono_size.width, so.mono_size.height, so.color_size.width,
              so.color_size.height);
  say(log, "%4s %7s | %6s %9s %8s %8s %6s %5s | %6s %9s %8s %8s\n", "rig", "base_mm", "v/st", "rot_deg", "base_%",
              "focal_%", "pp_px", "3sig", "views", "rot_deg", "base_%", "focal_%");
  Json rigs = Json::array();
  for (int r = 0; r < o.rigs; ++r) {
    const unsigned seed = o.seed + unsigned(r);
    const StereoRig truth = datasets::random_rig(seed, so);
    const auto set = datasets::render_board_set(truth, board, seed, so);
    RigErrors e, p;
    if (engine) {
      try {
        auto res = calibration::calibrate_stereo(detect_set(set, board, false), board, so.mono_size, so.color_size, co);
        e = score(res.rig, truth);
        e.views_used = res.views_used;
        e.views_stereo = res.views_stereo;
        coverage(e, res, truth);
      } catch (const Error& err) {
        e.failure = err.what();
      }
      E.push_back(e);
    }
    if (peer) {
      try {
        auto res = calibrate_stereo_peer(detect_set(set, board, true), board, so.mono_size, so.color_size);
        p = score(res.rig, truth);
        p.views_used = res.views_used;
      } catch (const Error& err) {
        p.failure = err.what();
      }
      P.push_back(p);
    }
    say(log, "%4d %7.2f | %3d/%-2d %9.5f %8.4f %8.4f %6.3f %2d/%-2d | %6d %9.5f %8.4f %8.4f\n", r + 1,
                truth.baseline(), e.views_used, e.views_stereo, e.rotation_deg, e.baseline_pct, e.focal_pct, e.principal_px, e.covered, e.tested,
                p.views_used, p.rotation_deg, p.baseline_pct, p.focal_pct);
    if (log) std::fflush(log);
    rigs.push_back({{"seed", seed}, {"baseline_mm", truth.baseline()},
                    {"engine", {{"views_used", e.views_used}, {"views_stereo", e.views_stereo}, {"rotation_deg", e.rotation_deg}, {"baseline_pct", e.baseline_pct},
                                {"focal_pct", e.focal_pct}, {"principal_px", e.principal_px}, {"covered", e.covered},
                                {"tested", e.tested}, {"failure", e.failure}}},
                    {"peer", {{"views_used", p.views_used}, {"rotation_deg", p.rotation_deg}, {"baseline_pct", p.baseline_pct},
                              {"focal_pct", p.focal_pct}, {"principal_px", p.principal_px}, {"failure", p.failure}}}});
  }
  auto summary = [](const std::vector<RigErrors>& v) {
    std::vector<double> a, b, c, d;
    int cov = 0, tested = 0, failed = 0;
    for (const auto& e : v) {
      if (!e.failure.empty()) {
        failed++;
        continue;
      }
      a.push_back(e.rotation_deg), b.push_back(e.baseline_pct), c.push_back(e.focal_pct), d.push_back(e.principal_px);
      cov += e.covered, tested += e.tested;
    }
    return Json{{"median_rotation_deg", median(a)}, {"median_baseline_pct", median(b)}, {"median_focal_pct", median(c)},
                {"median_principal_px", median(d)}, {"covered", cov}, {"tested", tested}, {"failed_rigs", failed}};
  };
  out["rigs"] = rigs;
  say(log, "\n%-7s %14s %14s %12s %12s %10s %s\n", "method", "median_rot_deg", "median_base_%", "median_f_%",
              "median_pp_px", "failed", "3-sigma coverage");
  for (int m = 0; m < 2; ++m) {
    if ((m == 0 && !engine) || (m == 1 && !peer)) continue;
    Json s = summary(m == 0 ? E : P);
    out[m == 0 ? "engine" : "peer"] = s;
    say(log, "%-7s %14.5f %14.4f %12.4f %12.3f %10d", m == 0 ? "engine" : "peer", double(s["median_rotation_deg"]),
                double(s["median_baseline_pct"]), double(s["median_focal_pct"]), double(s["median_principal_px"]),
                int(s["failed_rigs"]));
    if (m == 0)
      say(log, " %d of %d (%.1f %%)", int(s["covered"]), int(s["tested"]),
                  100.0 * int(s["covered"]) / std::max(1, int(s["tested"])));
    say(log, "\n");
  }
  return 0;
}

// Odd/even halves of the views the peer used, each calibrated by the peer: the change of the
// baseline length and of the translation vector, in % of the baseline.
std::pair<double, double> peer_halves_pct(const std::vector<StereoView>& used, const calibration::BoardSpec& board,
                                          cv::Size ms, cv::Size cs, double baseline) {
  std::vector<StereoView> half[2];
  for (std::size_t j = 0; j < used.size(); ++j) half[j % 2].push_back(used[j]);
  auto a = calibrate_stereo_peer(half[0], board, ms, cs);
  auto b = calibrate_stereo_peer(half[1], board, ms, cs);
  return {100.0 * std::abs(a.rig.baseline() - b.rig.baseline()) / baseline, 100.0 * cv::norm(a.rig.T - b.rig.T) / baseline};
}

int run_real(const CalibEvalOptions& o, Json& out, std::FILE* log) {
  if (o.data.empty()) throw_invalid("calib-real needs --data DIR (e.g. ../shared/data/stereo_calib_sourishg)");
  std::error_code ec;
  if (!fs::is_directory(o.data, ec)) throw_io("calib-real: '" + o.data + "' is not a directory");
  std::vector<std::string> sessions;
  for (const auto& e : fs::directory_iterator(o.data, ec))
    if (e.is_directory()) sessions.push_back(e.path().string());
  std::sort(sessions.begin(), sessions.end());
  if (sessions.empty()) throw_invalid("calib-real: no session folders in '" + o.data + "'");
  const calibration::BoardSpec board = calibration::parse_board_spec(o.board.empty() ? "chessboard:9x6:24.23mm" : o.board);
  say(log, "calib-real: %s, board %s\n", o.data.c_str(), board.to_string().c_str());
  say(log, "(engine: dualcam's default, every pair with the board in both images used, a pair whose two images\n"
              " disagree for the intrinsics only; all: --keep-all-views, every pair as a stereo pair; drop: --drop-outlier-views;\n"
              " peer: OpenCV stereoCalibrate as in docs/evaluation.md. row_stereo: mean |dy| after stereoRectify (alpha = -1)\n"
              " over the method's own inlier corners of its stereo pairs; row_all: of every used pair; row_peerpairs: on\n"
              " the method's own detected corners of the pairs the peer used (the same pairs for every method);\n"
              " row_peerset: the rig's row error on the peer's corners of the peer's pairs (the same corners for every method);\n"
              " odd vs even used views: d|T| baseline length change, |dT| translation vector change, both in %% of the\n"
              " baseline, dR rotation change)\n");
  say(log, "%-10s %-7s %11s %7s %8s %10s %8s %13s %11s %7s %7s %8s  %s\n", "session", "method", "pairs used",
              "stereo", "RMS_px", "row_stereo", "row_all", "row_peerpairs", "row_peerset", "d|T|_%", "|dT|_%", "dR_deg",
              "halves inside 3 sigma (of d|T|, |dT|, dR)");
  for (const auto& dir : sessions) {
    const std::string name = fs::path(dir).filename().string();
    const auto mono = expand_glob(dir + "/left*.jpg", "the mono images");
    const auto color = expand_glob(dir + "/right*.jpg", "the colour images");
    Json js;
    // The peer first: its pairs and corners are the common ground on which every rig's row error
    // is also measured (row_peerset).
    const auto pset = calibration::load_stereo_views(mono, color, board, detection(true));
    const PeerResult peer = calibrate_stereo_peer(pset.views, board, pset.mono_size, pset.color_size);
    auto row_on_peer_set = [&](const StereoRig& rig) {
      return calibration::rectified_row_error(rig, rectify_geometry(rig, calibration::row_error_rectify()), peer.used);
    };
    if (o.method != "peer") {
      const auto set = calibration::load_stereo_views(mono, color, board, detection(false));
      // The engine's own corners of the pairs the peer used: its row error on the peer's pairs.
      std::vector<calibration::StereoView> own_on_peer_pairs;
      for (const auto& v : set.views)
        if (std::any_of(peer.used.begin(), peer.used.end(), [&](const auto& u) { return u.name == v.name; }))
          own_on_peer_pairs.push_back(v);
      const char* labels[3] = {"engine", "all", "drop"};
      const char* keys[3] = {"engine", "engine_all_views", "engine_drop_outlier_views"};
      for (int variant = 0; variant < 3; ++variant) {
        calibration::StereoCalibrationOptions co;
        if (variant == 1) co.view_outlier_sigmas = 1000;
        if (variant == 2) co.drop_outlier_views = true;
        auto res = calibration::calibrate_stereo(set.views, board, set.mono_size, set.color_size, co);
        const double b = res.rig.baseline();
        const double peerset = row_on_peer_set(res.rig);
        const double peerpairs = calibration::rectified_row_error(
            res.rig, rectify_geometry(res.rig, calibration::row_error_rectify()), own_on_peer_pairs);
        say(log, "%-10s %-7s %5d of %-3zu %7d %8.4f %10.4f %8.4f %13.4f %11.4f %7.3f %7.3f %8.4f  %s (3 sigma: %.2f %%, "
                    "%.2f %%, %.3f deg)\n",
                    name.c_str(), labels[variant], res.views_used, set.views.size(), res.views_stereo, res.rms_px,
                    res.row_error_px, res.row_error_all_px, peerpairs, peerset, res.halves.baseline_diff_pct,
                    res.halves.translation_diff_pct, res.halves.rotation_diff_deg,
                    res.halves.within_3sigma ? "yes" : "NO", 300.0 * res.halves.baseline_sigma_mm / b,
                    300.0 * res.halves.translation_sigma_mm / b, 3 * res.halves.rotation_sigma_deg);
        js[keys[variant]] = res.to_json();
        js[keys[variant]]["row_error_on_peer_pairs_px"] = peerset;
        js[keys[variant]]["row_error_own_corners_on_peer_pairs_px"] = peerpairs;
      }
    }
    if (o.method != "engine") {
      const auto halves = peer_halves_pct(peer.used, board, pset.mono_size, pset.color_size, peer.rig.baseline());
      say(log, "%-10s %-7s %5d of %-3zu %7d %8.4f %10.4f %8.4f %13.4f %11.4f %7.3f %7.3f\n", name.c_str(), "peer",
                  peer.views_used, pset.views.size(), peer.views_used, peer.rms_px, peer.row_error_px,
                  peer.row_error_px, peer.row_error_px, row_on_peer_set(peer.rig), halves.first, halves.second);
      js["peer"] = {{"views_used", peer.views_used}, {"rms_px", peer.rms_px}, {"row_error_px", peer.row_error_px},
                    {"baseline_mm", peer.rig.baseline()}, {"halves_baseline_pct", halves.first},
                    {"halves_translation_pct", halves.second}, {"skipped", peer.skipped}};
    }
    if (log) std::fflush(log);
    out[name] = js;
  }
  return 0;
}

}  // namespace

void CalibEvalOptions::validate() const {
  if (method != "engine" && method != "peer" && method != "both")
    throw_invalid("CalibEvalOptions::method must be engine, peer or both, got '" + method + "'");
  if (protocol == "calib-synthetic") {
    check_range("CalibEvalOptions::rigs", rigs, 1, 10000);
    check_range("CalibEvalOptions::views", views, 4, 10000);
  } else if (protocol != "calib-real") {
    throw_invalid("unknown calibration protocol '" + protocol + "' (calib-synthetic or calib-real)");
  }
}

Json run_calib_eval(const CalibEvalOptions& o, std::FILE* log) {
  o.validate();
  Json out;
  if (o.protocol == "calib-synthetic")
    run_synthetic(o, out, log);
  else
    run_real(o, out, log);
  return out;
}

}  // namespace dualcam::eval
