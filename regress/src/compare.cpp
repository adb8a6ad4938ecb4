#include "dualcam/regress/runner.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/visualize.hpp"
#include "runner_internal.hpp"

namespace fs = std::filesystem;

namespace dualcam::regress {
namespace {

using detail::fmt;

Json number_or_inf(double v) { return std::isfinite(v) ? Json(v) : Json(v > 0 ? "inf" : "-inf"); }


cv::Mat to_bgr8(const cv::Mat& img) {
  cv::Mat out = img;
  if (out.depth() == CV_16U) out.convertTo(out, CV_8U, 1.0 / 257.0);
  if (out.channels() == 1) cv::cvtColor(out, out, cv::COLOR_GRAY2BGR);
  return out.clone();
}

// |a - b| (largest over channels) times `gain`, through a heat map: black = equal.
cv::Mat amplified_difference(const cv::Mat& a8, const cv::Mat& b8, double gain) {
  cv::Mat d;
  cv::absdiff(a8, b8, d);
  if (d.channels() == 3) {
    std::vector<cv::Mat> ch;
    cv::split(d, ch);
    d = cv::max(cv::max(ch[0], ch[1]), ch[2]);
  }
  d.convertTo(d, CV_8U, gain);
  cv::Mat heat;
  cv::applyColorMap(d, heat, cv::COLORMAP_INFERNO);
  return heat;
}

OutputResult compare_image(const OutputSpec& spec, const cv::Mat& produced, bool pictures) {
  OutputResult r;
  const cv::Mat golden = read_image(spec.golden);
  const ImageTolerance& t = spec.image;
  if (t.min_psnr_db) r.tolerance["min_psnr_db"] = *t.min_psnr_db;
  if (t.min_ssim) r.tolerance["min_ssim"] = *t.min_ssim;
  if (t.max_abs_diff) r.tolerance["max_abs_diff"] = *t.max_abs_diff;
  if (t.max_differing_share) r.tolerance["max_differing_share"] = *t.max_differing_share;
  if (golden.size() != produced.size() || golden.channels() != produced.channels()) {
    r.failures.push_back("the new image is " + std::to_string(produced.cols) + "x" + std::to_string(produced.rows) + "x" +
                         std::to_string(produced.channels()) + ", the golden " + std::to_string(golden.cols) + "x" +
                         std::to_string(golden.rows) + "x" + std::to_string(golden.channels()));
    return r;
  }
  const ImageComparison c = compare_images(produced, golden);
  r.figures = {{"psnr_db", number_or_inf(c.psnr_db)},
               {"ssim", c.ssim},
               {"max_abs_diff", c.max_abs_diff},
               {"differing_share", c.differing_share}};
  if (t.min_psnr_db && !(c.psnr_db >= *t.min_psnr_db)) r.failures.push_back(fmt("PSNR %.2f dB < %.2f dB", c.psnr_db, *t.min_psnr_db));
  if (t.min_ssim && !(c.ssim >= *t.min_ssim)) r.failures.push_back(fmt("SSIM %.4f < %.4f", c.ssim, *t.min_ssim));
  if (t.max_abs_diff && c.max_abs_diff > *t.max_abs_diff)
    r.failures.push_back(fmt("max |diff| %.0f > %.0f", c.max_abs_diff, *t.max_abs_diff));
  if (t.max_differing_share && c.differing_share > *t.max_differing_share)
    r.failures.push_back(fmt("differing pixels %.3f %% > %.3f %%", 100 * c.differing_share, 100 * *t.max_differing_share));
  if (pictures) {
    const cv::Mat g8 = to_bgr8(golden), n8 = to_bgr8(produced);
    r.pictures = {{"golden", g8, ""}, {"new", n8, ""}, {"difference x16", amplified_difference(g8, n8, 16.0), ""}};
  }
  return r;
}

OutputResult compare_disparity(const OutputSpec& spec, const cv::Mat& produced, bool pictures) {
  OutputResult r;
  const cv::Mat golden = read_pfm(spec.golden);
  const DisparityTolerance& t = spec.disparity;
  if (t.max_bad1) r.tolerance["max_bad1"] = *t.max_bad1;
  if (t.max_bad2) r.tolerance["max_bad2"] = *t.max_bad2;
  if (t.max_mae_px) r.tolerance["max_mae_px"] = *t.max_mae_px;
  if (golden.size() != produced.size() || golden.type() != CV_32FC1) {
    r.failures.push_back("the new disparity is " + std::to_string(produced.cols) + "x" + std::to_string(produced.rows) +
                         ", the golden " + std::to_string(golden.cols) + "x" + std::to_string(golden.rows) + "x" +
                         std::to_string(golden.channels()));
    return r;
  }
  const DisparityErrors e = disparity_errors(produced, golden);
  r.figures = {{"bad1", e.bad1}, {"bad2", e.bad2}, {"mae_px", e.mae_px}, {"evaluated", e.evaluated}};
  if (t.max_bad1 && e.bad1 > *t.max_bad1) r.failures.push_back(fmt("bad-1.0 %.3f %% > %.3f %%", 100 * e.bad1, 100 * *t.max_bad1));
  if (t.max_bad2 && e.bad2 > *t.max_bad2) r.failures.push_back(fmt("bad-2.0 %.3f %% > %.3f %%", 100 * e.bad2, 100 * *t.max_bad2));
  if (t.max_mae_px && !(e.mae_px <= *t.max_mae_px)) r.failures.push_back(fmt("MAE %.3f px > %.3f px", e.mae_px, *t.max_mae_px));
  if (pictures) {
    const auto [lo, hi] = disparity_display_range(golden);  // one colour scale for golden and new
    // |new - golden| x 64 (4 px and more = white); known in the golden but unknown now = white.
    cv::Mat diff(golden.size(), CV_8U, cv::Scalar(0));
    for (int y = 0; y < golden.rows; ++y)
      for (int x = 0; x < golden.cols; ++x) {
        const float g = golden.at<float>(y, x), n = produced.at<float>(y, x);
        if (!std::isfinite(g)) continue;
        diff.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(std::isfinite(n) ? 64.0 * std::abs(n - g) : 255.0);
      }
    cv::Mat heat;
    cv::applyColorMap(diff, heat, cv::COLORMAP_INFERNO);
    r.pictures = {{"golden", colorize_disparity(golden, lo, hi), ""},
                  {"new", colorize_disparity(produced, lo, hi), ""},
                  {"|difference| x64 px", heat, ""}};
  }
  return r;
}

OutputResult compare_rig(const OutputSpec& spec, const StereoRig& n) {
  OutputResult r;
  const StereoRig g = read_rig(spec.golden);
  const RigTolerance& t = spec.rig;
  double focal = 0, principal = 0, dist = 0;
  Json params = Json::array();
  auto param = [&](const std::string& name, double gv, double nv) {
    params.push_back({{"name", name}, {"golden", gv}, {"new", nv}, {"diff", nv - gv}});
  };
  for (int cam = 0; cam < 2; ++cam) {
    const CameraModel& a = cam == 0 ? g.mono : g.color;
    const CameraModel& b = cam == 0 ? n.mono : n.color;
    const std::string p = cam == 0 ? "mono." : "color.";
    if (a.size != b.size)
      r.failures.push_back(p + "size " + std::to_string(b.size.width) + "x" + std::to_string(b.size.height) +
                           " differs from the golden's " + std::to_string(a.size.width) + "x" + std::to_string(a.size.height));
    for (int i = 0; i < 2; ++i) {
      focal = std::max(focal, 100.0 * std::abs(b.K(i, i) - a.K(i, i)) / std::abs(a.K(i, i)));
      principal = std::max(principal, std::abs(b.K(i, 2) - a.K(i, 2)));
      param(p + (i == 0 ? "fx" : "fy"), a.K(i, i), b.K(i, i));
      param(p + (i == 0 ? "cx" : "cy"), a.K(i, 2), b.K(i, 2));
    }
    const int na = int(a.dist.total()), nb = int(b.dist.total());
    static const char* kNames[] = {"k1", "k2", "p1", "p2", "k3"};
    for (int i = 0; i < std::max(na, nb); ++i) {
      const double av = i < na ? a.dist.at<double>(i) : 0.0, bv = i < nb ? b.dist.at<double>(i) : 0.0;
      dist = std::max(dist, std::abs(bv - av));
      param(p + (i < 5 ? kNames[i] : "d" + std::to_string(i)), av, bv);
    }
  }
  cv::Vec3d rv;
  cv::Rodrigues(cv::Mat(g.R.t() * n.R), rv);
  const double rotation = cv::norm(rv) * 180.0 / CV_PI;
  const double baseline = 100.0 * std::abs(n.baseline() - g.baseline()) / g.baseline();
  param("baseline_mm", g.baseline(), n.baseline());
  r.figures = {{"focal_pct", focal},       {"principal_px", principal}, {"distortion_abs", dist},
               {"rotation_deg", rotation}, {"baseline_pct", baseline},  {"parameters", params}};
  if (t.focal_pct) r.tolerance["focal_pct"] = *t.focal_pct;
  if (t.principal_px) r.tolerance["principal_px"] = *t.principal_px;
  if (t.distortion_abs) r.tolerance["distortion_abs"] = *t.distortion_abs;
  if (t.rotation_deg) r.tolerance["rotation_deg"] = *t.rotation_deg;
  if (t.baseline_pct) r.tolerance["baseline_pct"] = *t.baseline_pct;
  if (t.focal_pct && !(focal <= *t.focal_pct)) r.failures.push_back(fmt("focal %.4f %% > %.4f %%", focal, *t.focal_pct));
  if (t.principal_px && !(principal <= *t.principal_px))
    r.failures.push_back(fmt("principal point %.4f px > %.4f px", principal, *t.principal_px));
  if (t.distortion_abs && !(dist <= *t.distortion_abs))
    r.failures.push_back(fmt("distortion %.5f > %.5f", dist, *t.distortion_abs));
  if (t.rotation_deg && !(rotation <= *t.rotation_deg))
    r.failures.push_back(fmt("rotation %.5f deg > %.5f deg", rotation, *t.rotation_deg));
  if (t.baseline_pct && !(baseline <= *t.baseline_pct))
    r.failures.push_back(fmt("baseline %.4f %% > %.4f %%", baseline, *t.baseline_pct));
  return r;
}

// ---- update ---------------------------------------------------------------------------------------

bool same_bytes(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  const cv::Mat ac = a.isContinuous() ? a : a.clone(), bc = b.isContinuous() ? b : b.clone();
  return std::memcmp(ac.data, bc.data, ac.total() * ac.elemSize()) == 0;
}

OutputResult update_output_impl(const OutputSpec& spec, const Produced& p, bool pictures) {
  std::error_code ec;
  const bool exists = fs::is_regular_file(spec.golden, ec);
  OutputResult r;
  if (exists) {
    r = compare_output(spec, p, pictures);
    r.failures.clear();  // an update judges nothing; the figures say how far the old golden was
    bool same = false;
    switch (p.kind) {
      case OutputKind::Image: same = same_bytes(read_image(spec.golden), p.image); break;
      case OutputKind::Disparity: same = same_bytes(read_pfm(spec.golden), p.disparity); break;
      case OutputKind::Rig: {
        const auto bytes = read_file_bytes(spec.golden);
        same = std::string(bytes.begin(), bytes.end()) == format_rig(p.rig, p.matrices);
        break;
      }
    }
    r.update = same ? "unchanged" : "changed";
    if (same) return r;
  } else {
    r.update = "new";
  }
  const fs::path parent = fs::path(spec.golden).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) throw_io("cannot create '" + parent.string() + "': " + ec.message());
  }
  switch (p.kind) {
    case OutputKind::Image: write_image(spec.golden, p.image); break;
    case OutputKind::Disparity: write_pfm(spec.golden, p.disparity); break;
    case OutputKind::Rig: write_rig(spec.golden, p.rig, p.matrices); break;
  }
  return r;
}

std::string figures_text_impl(const OutputResult& o) {
  const Json& f = o.figures;
  char buf[256] = "";
  auto num = [&](const char* k) { return f.contains(k) && f[k].is_number() ? f[k].get<double>() : 0.0; };
  if (f.is_null()) return "";
  switch (o.kind) {
    case OutputKind::Image: {
      const std::string psnr = f["psnr_db"].is_string() ? std::string("inf") : fmt("%.2f", num("psnr_db"), 0);
      std::snprintf(buf, sizeof buf, "PSNR %s dB, SSIM %.4f, max |diff| %d, differing %.2f %%", psnr.c_str(), num("ssim"),
                    int(num("max_abs_diff")), 100 * num("differing_share"));
      break;
    }
    case OutputKind::Disparity:
      std::snprintf(buf, sizeof buf, "bad-1.0 %.2f %%, bad-2.0 %.2f %%, MAE %.3f px", 100 * num("bad1"), 100 * num("bad2"),
                    num("mae_px"));
      break;
    case OutputKind::Rig:
      std::snprintf(buf, sizeof buf, "focal %.4f %%, principal %.3f px, distortion %.5f, rotation %.4f deg, baseline %.4f %%",
                    num("focal_pct"), num("principal_px"), num("distortion_abs"), num("rotation_deg"), num("baseline_pct"));
      break;
  }
  return buf;
}
}  // namespace

namespace detail {

std::string fmt(const char* f, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

OutputResult update_output(const OutputSpec& spec, const Produced& produced, bool pictures) {
  return update_output_impl(spec, produced, pictures);
}

std::string figures_text(const OutputResult& output) { return figures_text_impl(output); }

}  // namespace detail

OutputResult compare_output(const OutputSpec& spec, const Produced& produced, bool pictures) {
  if (produced.kind != spec.kind) throw_invalid("output '" + spec.name + "' has the wrong kind");
  OutputResult r;
  switch (spec.kind) {
    case OutputKind::Image: r = compare_image(spec, produced.image, pictures); break;
    case OutputKind::Disparity: r = compare_disparity(spec, produced.disparity, pictures); break;
    case OutputKind::Rig: r = compare_rig(spec, produced.rig); break;
  }
  r.name = spec.name;
  r.kind = spec.kind;
  r.golden = spec.golden_text;
  r.passed = r.failures.empty();
  return r;
}


}  // namespace dualcam::regress
