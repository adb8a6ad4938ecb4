// End-to-end: the dualcam binary on the embedded sample.
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/metrics.hpp"
#include "support.hpp"

using namespace dualcam;
using test::run_cli;

namespace {
// Writes the sample once per test process.
const test::TempDir& sample_dir() {
  static test::TempDir dir;
  static bool written = false;
  if (!written) {
    auto r = run_cli("sample -o \"" + dir.path().string() + "\"");
    REQUIRE(r.exit_code == 0);
    written = true;
  }
  return dir;
}
std::string pair_args() {
  const auto& d = sample_dir();
  return "--mono \"" + (d / "mono.png") + "\" --color \"" + (d / "color.png") + "\" --rig \"" + (d / "rig.yaml") + "\"";
}
}  // namespace

TEST_CASE("dualcam fuse writes a fused image better than the colour input, and its disparity", "[cli]") {
  test::TempDir out;
  auto r = run_cli("fuse " + pair_args() + " -o \"" + (out / "fused.png") + "\" --disparity-out \"" + (out / "d.pfm") +
                   "\" --json \"" + (out / "r.json") + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto& d = sample_dir();
  cv::Mat fused = read_image(out / "fused.png");
  cv::Mat truth = read_image(d / "truth_color.png");
  cv::Mat input = read_image(d / "color.png");
  CHECK(psnr8(fused, truth) > psnr8(input, truth) + 0.5);
  cv::Mat disp = read_pfm(out / "d.pfm");
  CHECK(disp.size() == fused.size());
  CHECK(disparity_errors(disp, read_pfm(d / "disparity_color.pfm")).bad2 < 0.15);
  auto report = nlohmann::json::parse(test::read_text(out / "r.json"));
  CHECK(report["command"] == "fuse");
  CHECK(report["stats"]["stages_s"].contains("match"));
}

TEST_CASE("dualcam fuse output is byte-identical with 1 and 2 threads", "[cli][threads]") {
  test::TempDir out;
  for (const char* t : {"1", "2"}) {
    auto r = run_cli("fuse " + pair_args() + " --threads " + t + " -o \"" + (out / (std::string("f") + t + ".png")) +
                     "\" --disparity-out \"" + (out / (std::string("d") + t + ".pfm")) + "\"");
    REQUIRE(r.exit_code == 0);
  }
  CHECK(test::read_text(out / "f1.png") == test::read_text(out / "f2.png"));
  CHECK(test::read_text(out / "d1.pfm") == test::read_text(out / "d2.pfm"));
}

TEST_CASE("dualcam fuse --reference mono and dualcam depth", "[cli]") {
  test::TempDir out;
  auto r = run_cli("fuse " + pair_args() + " --reference mono -o \"" + (out / "m.png") + "\"");
  REQUIRE(r.exit_code == 0);
  const auto& d = sample_dir();
  cv::Mat fused = read_image(out / "m.png");
  CHECK(fused.size() == read_image(d / "mono.png").size());
  CHECK(psnr8(fused, read_image(d / "truth_mono_view.png")) > 24.0);

  r = run_cli("depth " + pair_args() + " -o \"" + (out / "disp.pfm") + "\"");
  REQUIRE(r.exit_code == 0);
  CHECK(std::filesystem::exists(out / "disp.png"));
  cv::Mat disp = read_pfm(out / "disp.pfm");
  CHECK(disparity_errors(disp, read_pfm(d / "disparity_color.pfm")).bad2 < 0.15);
}

TEST_CASE("dualcam fuse writes the blend weights and a colour-mapped confidence on request", "[cli]") {
  test::TempDir out;
  for (const char* ref : {"color", "mono"}) {
    const std::string w = out / (std::string("w_") + ref + ".png"), c = out / (std::string("c_") + ref + ".png");
    auto r = run_cli("fuse " + pair_args() + " --reference " + ref + " -o \"" + (out / "f.png") + "\" --weights-out \"" +
                     w + "\" --confidence-out \"" + c + "\"");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const cv::Mat fused = read_image(out / "f.png");
    const cv::Mat weight = read_image(w), confidence = read_image(c);
    REQUIRE(weight.type() == CV_8UC1);
    REQUIRE(confidence.type() == CV_8UC3);
    CHECK(weight.size() == fused.size());
    CHECK(confidence.size() == fused.size());
    // The weights are mostly 1 (the other view is visible nearly everywhere) but not all.
    const double weight_mean = cv::mean(weight)[0] / 255.0;
    CHECK(weight_mean > 0.7);
    CHECK(weight_mean < 1.0);
    // Confidence: mostly known (coloured, not black), with more than a few distinct colours,
    // and some unknown (black) pixels where the matcher rejected or the view is occluded.
    std::vector<cv::Mat> ch;
    cv::split(confidence, ch);
    const cv::Mat black = (ch[0] == 0) & (ch[1] == 0) & (ch[2] == 0);
    const double black_share = double(cv::countNonZero(black)) / double(black.total());
    CHECK(black_share > 0.0);
    CHECK(black_share < 0.3);
    cv::Mat green_hist;
    const int hist_size = 256;
    const float range[] = {0, 256};
    const float* ranges[] = {range};
    cv::calcHist(&ch[1], 1, nullptr, ~black, green_hist, 1, &hist_size, ranges);
    CHECK(cv::countNonZero(green_hist > 0) > 20);
  }
}

TEST_CASE("dualcam fuse --rectified takes a pre-rectified pair", "[cli]") {
  test::TempDir out;
  const auto& d = sample_dir();
  // The sample's images are not rectified, but a rectified pair is just two images of one size:
  // the command must accept them without a rig and produce an image of the colour's size.
  auto r = run_cli("fuse --rectified --mono \"" + (d / "mono.png") + "\" --color \"" + (d / "color.png") + "\" -o \"" +
                   (out / "f.png") + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_image(out / "f.png").size() == read_image(d / "color.png").size());
}

TEST_CASE("Every subcommand has --help with an example", "[cli]") {
  for (const char* sub : {"fuse", "depth", "sample", "compare"}) {
    auto r = run_cli(std::string(sub) + " --help");
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Example:") != std::string::npos);
  }
}

TEST_CASE("dualcam compare reports PSNR for images and bad-2.0 for disparities", "[cli]") {
  const auto& d = sample_dir();
  auto r = run_cli("compare \"" + (d / "color.png") + "\" \"" + (d / "color.png") + "\"");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("PSNR inf dB") != std::string::npos);
  CHECK(r.out.find("max |diff| 0") != std::string::npos);
  r = run_cli("compare \"" + (d / "color.png") + "\" \"" + (d / "truth_color.png") + "\"");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("PSNR 2") != std::string::npos);  // a noisy dim-light image: 20-something dB
  r = run_cli("compare \"" + (d / "disparity_color.pfm") + "\" \"" + (d / "disparity_color.pfm") + "\"");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("bad-2.0 0.00 %") != std::string::npos);
  r = run_cli("compare \"" + (d / "mono.png") + "\" \"" + (d / "color.png") + "\"");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("channel count") != std::string::npos);
}
