// dualcam develop and dualcam simulate --raw: raw frames through the CLI.
#include <catch2/catch.hpp>

#include <filesystem>

#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/metrics.hpp"
#include "support.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;

namespace {
struct RawFixture {
  test::TempDir dir;
  RawFixture() {
    const auto r = run_cli("simulate -o \"" + dir.path().string() +
                           "\" --size 320x240 --sensor realistic --adc-bits 10 --light 0.5 --raw --supersample 1");
    REQUIRE(r.exit_code == 0);
  }
  std::string p(const std::string& name) const { return dir / name; }
};
}  // namespace

TEST_CASE("simulate --raw writes both sensors' frames, and develop finishes them", "[cli][raw]") {
  RawFixture f;
  for (const char* n : {"mono.raw", "color.raw", "mono.dng", "color.dng", "raw.json"})
    CHECK(std::filesystem::exists(f.p(n)));
  CHECK(std::filesystem::file_size(f.p("color.raw")) == 320u * 240u * 2u);
  const std::string json = test::read_text(f.p("raw.json"));
  CHECK_THAT(json, Catch::Contains("\"bayer\": \"rggb\"") && Catch::Contains("\"black_level\": 64.0"));

  // The DNG, developed at its baseline exposure, is as close to the truth as the camera's picture.
  auto r = run_cli("develop \"" + f.p("color.dng") + "\" -o \"" + f.p("dev.png") + "\" --json \"" + f.p("dev.json") + "\"");
  REQUIRE(r.exit_code == 0);
  const cv::Mat truth = read_image(f.p("truth_color.png"));
  const double developed = psnr8(read_image(f.p("dev.png")), truth);
  const double camera = psnr8(read_image(f.p("color.png")), truth);
  INFO("developed " << developed << " dB, camera picture " << camera << " dB");
  CHECK(developed > 20.0);
  CHECK(developed > camera - 3.0);
  CHECK_THAT(test::read_text(f.p("dev.json")), Catch::Contains("\"demosaic\": \"ri\""));

  // The headerless frame with its layout gives the same picture as the DNG (same samples, levels).
  const std::string common = " --no-white-balance --no-color-matrix --exposure 2 --bits 16";
  REQUIRE(run_cli("develop \"" + f.p("color.dng") + "\" -o \"" + f.p("a.png") + "\"" + common).exit_code == 0);
  REQUIRE(run_cli("develop \"" + f.p("color.raw") + "\" -o \"" + f.p("b.png") + "\" --raw-size 320x240 --raw-bits 10 "
                  "--bayer rggb --black-level 64" + common).exit_code == 0);
  CHECK(compare_images(read_image(f.p("a.png")), read_image(f.p("b.png"))).max_abs_diff == 0);
  // A mono frame develops into a grey image.
  REQUIRE(run_cli("develop \"" + f.p("mono.dng") + "\" -o \"" + f.p("m.png") + "\"").exit_code == 0);
  CHECK(read_image(f.p("m.png")).channels() == 1);
}

TEST_CASE("Bad raw input to dualcam develop gets one clear line and no output", "[cli][bad][raw]") {
  RawFixture f;
  const std::string out = f.p("out.png");
  const std::string o = " -o \"" + out + "\"";
  const std::string raw = " \"" + f.p("color.raw") + "\"";
  SECTION("missing file") { expect_refused("develop nope.dng" + o, "nope.dng", out); }
  SECTION("headerless without its size") { expect_refused("develop" + raw + o, "--raw-size", out); }
  SECTION("a size that does not divide the file") {
    expect_refused("develop" + raw + o + " --raw-size 300x240 --raw-bits 10 --bayer rggb", "bytes", out);
  }
  SECTION("bits out of range") { expect_refused("develop" + raw + o + " --raw-size 320x240 --raw-bits 20", "--raw-bits", out); }
  SECTION("the wrong byte order") {
    expect_refused("develop" + raw + o + " --raw-size 320x240 --raw-bits 10 --raw-endian big", "above the 10-bit range", out);
  }
  SECTION("an unknown pattern") { expect_refused("develop" + raw + o + " --raw-size 320x240 --raw-bits 10 --bayer rgbw", "rggb", out); }
  SECTION("a DNG LibRaw cannot open") {
    std::string bytes = test::read_text(f.p("color.dng"));
    write_file_atomic(f.p("cut.dng"), bytes.substr(0, 100));
    expect_refused("develop \"" + f.p("cut.dng") + "\"" + o, "cut.dng", out);
  }
  SECTION("nonsense options") {
    expect_refused("develop \"" + f.p("color.dng") + "\"" + o + " --demosaic ahd", "demosaic", out);
    expect_refused("develop \"" + f.p("color.dng") + "\"" + o + " --bits 12", "8 or 16", out);
    expect_refused("develop \"" + f.p("color.dng") + "\"" + o + " --exposure bright", "--exposure", out);
  }
  SECTION("raw frames of the simple sensor") {
    expect_refused("simulate -o \"" + f.p("s") + "\" --size 64x48 --raw", "--sensor realistic", f.p("s/mono.png"));
  }
}

TEST_CASE("fuse takes raw frames: DNG, or headerless with --raw-layout, the same picture", "[cli][raw]") {
  RawFixture f;
  const std::string rig = " --rig \"" + f.p("rig.yaml") + "\"";
  auto r = run_cli("fuse --mono \"" + f.p("mono.dng") + "\" --color \"" + f.p("color.dng") + "\"" + rig + " -o \"" +
                   f.p("a.png") + "\" --json \"" + f.p("a.json") + "\"");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(test::read_text(f.p("a.json")), Catch::Contains("\"raw_frames\""));
  r = run_cli("fuse --mono \"" + f.p("mono.raw") + "\" --color \"" + f.p("color.raw") + "\" --raw-layout \"" +
              f.p("raw.json") + "\"" + rig + " -o \"" + f.p("b.png") + "\"");
  REQUIRE(r.exit_code == 0);
  const cv::Mat a = read_image(f.p("a.png")), b = read_image(f.p("b.png"));
  CHECK(a.depth() == CV_16U);  // raw inputs give 16-bit outputs
  // The DNG's colour matrix comes back from LibRaw within 1e-6 of the identity the layout implies.
  CHECK(compare_images(a, b).max_abs_diff <= 257);
  CHECK(compare_images(a, b).differing_share < 0.01);

  const std::string out = f.p("c.png");
  expect_refused("fuse --mono \"" + f.p("mono.raw") + "\" --color \"" + f.p("color.raw") + "\"" + rig + " -o \"" + out + "\"",
                 "--raw-layout", out);
  expect_refused("fuse --mono \"" + f.p("color.dng") + "\" --color \"" + f.p("color.dng") + "\"" + rig + " -o \"" + out + "\"",
                 "Bayer pattern", out);
  test::TempDir bad;
  write_file_atomic(bad / "l.json", std::string("{\"mono\": {\"width\": 320, \"colour_depth\": 3}}"));
  expect_refused("fuse --mono \"" + f.p("mono.raw") + "\" --color \"" + f.p("color.raw") + "\" --raw-layout \"" +
                 (bad / "l.json") + "\"" + rig + " -o \"" + out + "\"", "unknown key 'colour_depth'", out);
}
