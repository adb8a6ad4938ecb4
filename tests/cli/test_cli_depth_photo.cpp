// Depth photos end to end: fuse/bokeh --embed-depth, bokeh reading a photo's own depth,
// depth-info, and refusals with one line and no output.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/metrics.hpp"
#include "support.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;

namespace {
using Fixture = test::SampleDir;
}  // namespace

TEST_CASE("fuse --embed-depth: the disparity comes back within one level, and bokeh from the photo matches bokeh "
          "from the PFM",
          "[cli][depth_photo]") {
  Fixture f;
  auto r = run_cli("fuse" + f.pair() + " --threads 2 -o " + f.q("photo.jpg") + " --embed-depth --disparity-out " +
                   f.q("d.pfm"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const DepthPhoto photo = read_depth_photo(f.p("photo.jpg"));
  REQUIRE(photo.container == "GDepth");
  REQUIRE(photo.depth);
  CHECK(photo.depth->metric);  // the rig's units: near = f B / d_max
  const cv::Mat written = read_pfm(f.p("d.pfm"));
  const cv::Mat back = decode_disparity(*photo.depth);
  REQUIRE(back.size() == written.size());
  double lo = 1e30, hi = -1e30;
  for (auto it = written.begin<float>(); it != written.end<float>(); ++it)
    if (std::isfinite(*it) && *it > 0) lo = std::min(lo, double(*it)), hi = std::max(hi, double(*it));
  const double level = (hi - lo) / 65535.0;
  double worst = 0;
  std::size_t compared = 0, lost = 0, wrong_known = 0;
  for (int y = 0; y < written.rows; ++y)
    for (int x = 0; x < written.cols; ++x) {
      const float a = written.at<float>(y, x), b = back.at<float>(y, x);
      if (std::isfinite(a) && a > 0) {
        if (!std::isfinite(b)) ++wrong_known;
        else worst = std::max(worst, double(std::abs(a - b)));
        ++compared;
      } else {
        wrong_known += !std::isnan(b);  // unknown (or no finite depth) stays unknown
        lost += std::isfinite(a);
      }
    }
  WARN("fuse --embed-depth round trip: max |d' - d| = " << worst << " px = " << worst / level << " levels over "
                                                        << compared << " pixels; " << lost
                                                        << " pixels at d <= 0 written as unknown");
  CHECK(wrong_known == 0);
  CHECK(worst <= level);
  CHECK(double(lost) <= 0.01 * double(compared));

  // bokeh with the photo's own depth against bokeh with the PFM, same image, same focus
  r = run_cli("bokeh --image " + f.q("photo.jpg") + " --focus 240,180 --max-blur 12 -o " + f.q("from_photo.png"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("GDepth") != std::string::npos);
  r = run_cli("bokeh --image " + f.q("photo.jpg") + " --disparity " + f.q("d.pfm") + " --focus 240,180 --max-blur 12 -o " +
              f.q("from_pfm.png"));
  REQUIRE(r.exit_code == 0);
  const double psnr = psnr8(read_image(f.p("from_photo.png")), read_image(f.p("from_pfm.png")));
  WARN("bokeh from the read-back photo vs from the PFM: PSNR " << psnr << " dB");
  CHECK(psnr >= 40.0);

  r = run_cli("depth-info " + f.q("photo.jpg"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("container: GDepth") != std::string::npos);
  CHECK(r.out.find("RangeInverse") != std::string::npos);
  CHECK(r.out.find("the rig's units") != std::string::npos);
  r = run_cli("depth-info --json " + f.q("photo.jpg"));
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  CHECK(j["container"] == "GDepth");
  CHECK(j["depth"]["near"].get<double>() == Approx(photo.depth->near));
  CHECK(j["depth"]["width"] == 480);
  CHECK(j["depth"].contains("confidence"));
}

TEST_CASE("bokeh --embed-depth: the render with its all-in-focus image, depth and focus", "[cli][depth_photo]") {
  Fixture f;
  auto r = run_cli("bokeh --image " + f.q("truth_color.png") + " --disparity " + f.q("disparity_color.pfm") +
                   " --focus 100,200 --max-blur 10 -o " + f.q("b.jpg") + " --embed-depth");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const DepthPhoto p = read_depth_photo(f.p("b.jpg"));
  REQUIRE(p.depth);
  REQUIRE(p.focus);
  CHECK(*p.focus->focal_point_x == Approx(100.5 / 480));
  CHECK(*p.focus->focal_point_y == Approx(200.5 / 360));
  CHECK(p.focus->blur_at_infinity > 0);
  CHECK(p.focus->blur_at_infinity <= 10.0 / 480 + 1e-12);
  REQUIRE(p.image_mime == "image/jpeg");
  // GImage is the sharp input, the primary the render: the GImage is closer to the input
  const cv::Mat truth = read_image(f.p("truth_color.png"));
  const cv::Mat sharp = decode_image(p.image.data(), p.image.size(), "GImage");
  const cv::Mat shown = decode_image(p.primary.data(), p.primary.size(), "primary");
  CHECK(psnr8(sharp, truth) > psnr8(shown, truth) + 3);
  // the focus disparity comes back through GFocus's focal distance
  const double d_focus = disparity_of_depth(*p.depth, p.focus->focal_distance);
  CHECK(std::isfinite(d_focus));
  // and refocusing the photo uses its all-in-focus image
  r = run_cli("bokeh --image " + f.q("b.jpg") + " --focus 400,50 --max-blur 10 -o " + f.q("again.png"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("all-in-focus image (GImage)") != std::string::npos);
}

TEST_CASE("exiftool extracts the depth image of a dualcam depth photo byte for byte", "[cli][depth_photo][tools]") {
  if (!test::have_tool("exiftool")) DUALCAM_SKIP("exiftool is not installed (Debian libimage-exiftool-perl)");
  Fixture f;
  auto r = run_cli("bokeh --image " + f.q("truth_color.png") + " --disparity " + f.q("disparity_color.pfm") +
                   " --focus 100,200 --max-blur 10 -o " + f.q("b.jpg") + " --embed-depth");
  REQUIRE(r.exit_code == 0);
  const DepthPhoto p = read_depth_photo(f.p("b.jpg"));
  r = test::run_shell("exiftool -b -XMP-GDepth:DepthImage " + f.q("b.jpg") + " > " + f.q("depth.png") +
                      " && exiftool -b -XMP-GImage:ImageData " + f.q("b.jpg") + " > " + f.q("sharp.jpg"));
  REQUIRE(r.exit_code == 0);
  CHECK(read_file_bytes(f.p("depth.png")) == p.depth->data);
  CHECK(read_file_bytes(f.p("sharp.jpg")) == p.image);
  // a GDepth photo written by exiftool is refocused by dualcam
  // a GDepth photo written by exiftool (on a copy stripped of dualcam's XMP) is refocused by dualcam
  r = test::run_shell("exiftool -q -o " + f.q("plain_copy.jpg") + " -all= " + f.q("b.jpg") + " && exiftool -q -o " +
                      f.q("et2.jpg") + " -XMP-GDepth:Format=RangeInverse -XMP-GDepth:Near=1.5 -XMP-GDepth:Far=9 "
                      "-XMP-GDepth:Mime=image/png '-XMP-GDepth:DepthImage<=" + f.p("depth.png") + "' " + f.q("plain_copy.jpg"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = run_cli("depth-info --json " + f.q("et2.jpg"));
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  CHECK(j["depth"]["near"] == 1.5);
  CHECK(j["depth"]["far"] == 9);
  CHECK_FALSE(j["depth"].contains("disparity_scale"));
  r = run_cli("bokeh --image " + f.q("et2.jpg") + " --focus 100,200 --max-blur 10 -o " + f.q("et_bokeh.png"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_image(f.p("et_bokeh.png")).size() == cv::Size(480, 360));
  expect_refused("bokeh --image " + f.q("et2.jpg") + " --rig " + f.q("rig.yaml") + " --focus 100,200 --f-number 2 -o " +
                     f.q("et_f.png"),
                 "relative", f.p("et_f.png"));
}

TEST_CASE("bokeh refocuses a Dynamic Depth photo with its smaller depth map", "[cli][depth_photo]") {
  // fuzz/corpus/depth_photo/dynamic_depth.jpg: a 32x24 JPEG, a Container directory, an 8x4 16-bit
  // PNG depth appended (RangeInverse, near 0.5, far 4)
  const std::string photo = std::string(DUALCAM_SOURCE_DIR) + "/fuzz/corpus/depth_photo/dynamic_depth.jpg";
  test::TempDir dir;
  auto r = run_cli("depth-info --json \"" + photo + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  CHECK(j["container"] == "DynamicDepth");
  CHECK(j["depth"]["width"] == 8);
  CHECK(j["depth"]["far"] == 4);
  r = run_cli("bokeh --image \"" + photo + "\" --focus 2,2 --max-blur 3 -o \"" + (dir / "out.png") + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("DynamicDepth") != std::string::npos);
  CHECK(read_image(dir / "out.png").size() == cv::Size(32, 24));
}

TEST_CASE("Bad depth-photo requests get one clear line and no output", "[cli][depth_photo][bad]") {
  Fixture f;
  SECTION("--embed-depth to a PNG") {
    expect_refused("fuse" + f.pair() + " -o " + f.q("out.png") + " --embed-depth", "--embed-depth", f.p("out.png"));
    expect_refused("bokeh --image " + f.q("truth_color.png") + " --disparity " + f.q("disparity_color.pfm") +
                       " --focus 10,10 --max-blur 8 -o " + f.q("out.png") + " --embed-depth",
                   ".jpg", f.p("out.png"));
  }
  SECTION("a photo without depth") {
    REQUIRE(run_cli("fuse" + f.pair() + " -o " + f.q("plain.jpg")).exit_code == 0);
    expect_refused("bokeh --image " + f.q("plain.jpg") + " --focus 10,10 --max-blur 8 -o " + f.q("out.png"),
                   "carries no depth map", f.p("out.png"));
    const auto r = run_cli("depth-info " + f.q("plain.jpg"));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("depth: none") != std::string::npos);
  }
  SECTION("a PNG without --disparity") {
    expect_refused("bokeh --image " + f.q("truth_color.png") + " --focus 10,10 --max-blur 8 -o " + f.q("out.png"),
                   "--disparity", f.p("out.png"));
  }
  SECTION("not a JPEG") {
    write_file_atomic(f.p("fake.jpg"), std::string("not a jpeg"));
    expect_refused("bokeh --image " + f.q("fake.jpg") + " --focus 10,10 --max-blur 8 -o " + f.q("out.png"), "fake.jpg",
                   f.p("out.png"));
    const auto r = run_cli("depth-info " + f.q("fake.jpg"));
    CHECK(r.exit_code != 0);
    CHECK(test::line_count(r.err) == 1);
  }
  SECTION("a missing file") {
    const auto r = run_cli("depth-info " + f.q("nope.jpg"));
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("nope.jpg") != std::string::npos);
  }
}
