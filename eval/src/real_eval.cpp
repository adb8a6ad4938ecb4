#include "dualcam/eval/real_eval.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/metrics.hpp"

namespace dualcam::eval {

void RealEvalOptions::validate() const {
  if (data.empty()) throw_invalid("RealEvalOptions::data: name the folder of real pairs");
  check_range("RealEvalOptions::flat_share", flat_share, 1e-3, 1.0);
  fuse.validate();
  denoise.validate();
}

namespace fs = std::filesystem;

namespace {

// The one file of `dir` whose stem is `stem` (color.png, color.jpg, ...), or "".
std::string file_with_stem(const fs::path& dir, const std::string& stem) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().stem() == stem) found.push_back(e.path().string());
  if (found.size() > 1)
    throw_invalid("real pair '" + dir.string() + "': more than one '" + stem + ".*' file");
  return found.empty() ? std::string() : found.front();
}

std::optional<RealPair> pair_in(const fs::path& dir) {
  RealPair p{dir.filename().string(), file_with_stem(dir, "color"), file_with_stem(dir, "mono")};
  if (p.color_path.empty() || p.mono_path.empty()) return std::nullopt;
  return p;
}

cv::Mat to_8bit(const cv::Mat& img) {
  if (img.depth() == CV_8U) return img;
  cv::Mat out;
  img.convertTo(out, CV_8U, 1.0 / 257.0);
  return out;
}

// The figures of one image at one view.
Json figures(const cv::Mat& image8, const cv::Mat& guide8, const cv::Mat& flat, const cv::Mat& valid) {
  return Json{{"flat_noise", flat_area_noise(image8, flat)}, {"detail_correlation", detail_correlation(image8, guide8, valid)}};
}

Json alignment_json(const fusion::FuseStats& s) {
  Json j{{"row_error_median_px", s.alignment.row_error_px}, {"matched_share", s.match.matched_share}};
  if (s.alignment.self_rectification) {
    const fusion::SelfRectification& sr = *s.alignment.self_rectification;
    j["model"] = sr.model;
    j["baseline"] = sr.baseline;
    j["inliers"] = sr.inliers;
    j["row_error_rms_px"] = sr.rows.rms_px;
    j["row_error_p95_px"] = sr.rows.p95_abs_px;
  }
  return j;
}

void print_row(std::FILE* log, const std::string& pair, const char* view, const std::string& method, const Json& f,
               const Json* alignment) {
  if (!log) return;
  std::fprintf(log, "%-12s %-6s %-8s %10.3f %10.4f", pair.c_str(), view, method.c_str(), f["flat_noise"].get<double>(),
               f["detail_correlation"].get<double>());
  if (alignment)
    std::fprintf(log, "  rows rms %.2f px, p95 %.2f px, matched %.3f", (*alignment).value("row_error_rms_px", 0.0),
                 (*alignment).value("row_error_p95_px", 0.0), (*alignment)["matched_share"].get<double>());
  std::fprintf(log, "\n");
  std::fflush(log);
}

}  // namespace

std::vector<RealPair> find_real_pairs(const std::string& data) {
  const fs::path root(data);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw_io("real pairs: '" + data + "' is not a folder");
  std::vector<RealPair> pairs;
  if (auto p = pair_in(root)) {
    pairs.push_back(*p);
    return pairs;
  }
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory())
      if (auto p = pair_in(e.path())) pairs.push_back(*p);
  std::sort(pairs.begin(), pairs.end(), [](const RealPair& a, const RealPair& b) { return natural_less(a.name, b.name); });
  if (pairs.empty()) throw_invalid("real pairs: no folder under '" + data + "' holds a color.* and a mono.* file");
  return pairs;
}

Json run_real_eval(const RealEvalOptions& options, std::FILE* log) {
  options.validate();
  const std::vector<RealPair> pairs = find_real_pairs(options.data);
  if (log) {
    std::fprintf(log, "%-12s %-6s %-8s %10s %10s\n", "pair", "view", "method", "flat_noise", "detail_r");
    std::fflush(log);
  }
  Json per_pair = Json::array();
  // Sums over the pairs per "view/method" key, for the means.
  std::map<std::string, std::pair<Json, int>> sums;
  auto add = [&](const std::string& key, const Json& f) {
    auto& s = sums[key];
    if (s.second == 0) s.first = Json{{"flat_noise", 0.0}, {"detail_correlation", 0.0}};
    s.first["flat_noise"] = s.first["flat_noise"].get<double>() + f["flat_noise"].get<double>();
    s.first["detail_correlation"] = s.first["detail_correlation"].get<double>() + f["detail_correlation"].get<double>();
    ++s.second;
  };
  for (const RealPair& pair : pairs) {
    const CameraPair cameras = read_camera_pair(pair.mono_path, pair.color_path);
    Json pj{{"pair", pair.name}, {"color", pair.color_path}, {"mono", pair.mono_path},
            {"mono_conversion", cameras.mono_conversion.to_json()}};
    const cv::Mat color8 = to_8bit(cameras.color), mono8 = to_8bit(cameras.mono);
    for (const fusion::Reference ref : {fusion::Reference::Color, fusion::Reference::Mono}) {
      const bool at_color = ref == fusion::Reference::Color;
      const char* view = fusion::to_string(ref);
      fusion::FuseOptions fo = options.fuse;
      fo.auto_rig = true;
      fo.rectified = false;
      fo.reference = ref;
      Json vj;
      fusion::FuseResult res;
      try {
        res = fusion::fuse({cameras.mono, cameras.color, nullptr}, fo);
      } catch (const Error& e) {
        vj["refused"] = e.what();
        if (log) std::fprintf(log, "%-12s %-6s engine refused: %s\n", pair.name.c_str(), view, e.what());
        pj[view] = vj;
        continue;
      }
      const Json alignment = alignment_json(res.stats);
      vj["alignment"] = alignment;
      // The mono at this view: warped into the colour view, or the mono itself.
      const cv::Mat guide8 = at_color ? to_srgb8(res.other) : mono8;
      cv::Mat valid = at_color ? res.other_valid : cv::Mat(mono8.size(), CV_8U, cv::Scalar(255));
      cv::Mat flat = flat_area_mask(guide8, options.flat_share);
      cv::bitwise_and(flat, valid, flat);
      vj["flat_share"] = double(cv::countNonZero(flat)) / double(flat.total());
      vj["coverage"] = double(cv::countNonZero(valid)) / double(valid.total());
      std::vector<std::pair<std::string, cv::Mat>> methods;
      if (at_color) {
        methods.emplace_back("input", color8);
        methods.emplace_back("nlm", peer_denoise(color8, options.denoise));
      } else {
        // The colour input seen at the mono view (warped by the engine's disparity), for scale.
        methods.emplace_back("input", to_srgb8(res.other));
      }
      methods.emplace_back("engine", to_srgb8(res.image));
      Json mj;
      for (const auto& [name, image] : methods) {
        const Json f = figures(image, guide8, flat, valid);
        mj[name] = f;
        add(std::string(view) + "/" + name, f);
        print_row(log, pair.name, view, name, f, name == "engine" ? &alignment : nullptr);
      }
      vj["methods"] = mj;
      pj[view] = vj;
    }
    per_pair.push_back(pj);
  }
  Json mean = Json::object();
  for (const auto& [key, s] : sums) {
    mean[key] = Json{{"flat_noise", s.first["flat_noise"].get<double>() / s.second},
                     {"detail_correlation", s.first["detail_correlation"].get<double>() / s.second},
                     {"pairs", s.second}};
    if (log)
      std::fprintf(log, "%-12s %-15s %10.3f %10.4f  (%d pairs)\n", "mean", key.c_str(), mean[key]["flat_noise"].get<double>(),
                   mean[key]["detail_correlation"].get<double>(), s.second);
  }
  if (log) std::fflush(log);
  return Json{{"protocol", "real"},
              {"guide", "the mono at the view: warped into the colour view by the engine (colour), the mono itself (mono)"},
              {"nlm", {{"h", options.denoise.h}, {"h_color", options.denoise.h_color},
                       {"template_window", options.denoise.template_window}, {"search_window", options.denoise.search_window}}},
              {"pairs", per_pair},
              {"mean", mean}};
}

}  // namespace dualcam::eval
