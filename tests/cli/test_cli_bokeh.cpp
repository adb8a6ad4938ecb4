// dualcam bokeh end to end: both input forms, and bad input with one stderr line and no output.
#include <catch2/catch.hpp>

#include <filesystem>

#include "dualcam/engine/image_io.hpp"
#include "support.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;

namespace {
using Fixture = test::SampleDir;

}  // namespace

TEST_CASE("dualcam bokeh refocuses a pair and an image with its disparity", "[cli][bokeh]") {
  Fixture f;
  auto r = run_cli("bokeh --mono " + f.q("mono.png") + " --color " + f.q("color.png") + " --rig " + f.q("rig.yaml") +
                   " --focus 240,180 --f-number 2 --pixel-pitch 4 --aperture hexagon --threads 2 -o " + f.q("b1.png") +
                   " --blur-map " + f.q("blur.png") + " --json " + f.q("b1.json"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const cv::Mat color = read_image(f.p("color.png"));
  const cv::Mat b1 = read_image(f.p("b1.png"));
  CHECK(b1.size() == color.size());
  CHECK(b1.channels() == 3);
  CHECK(read_image(f.p("blur.png")).size() == color.size());
  CHECK(test::read_text(f.p("b1.json")).find("\"aperture\": \"hexagon\"") != std::string::npos);

  r = run_cli("bokeh --image " + f.q("truth_color.png") + " --disparity " + f.q("disparity_color.pfm") +
              " --focus-disparity 20 --max-blur 10 --highlights 3 -o " + f.q("b2.png"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const cv::Mat b2 = read_image(f.p("b2.png"));
  CHECK(b2.size() == color.size());
  CHECK(cv::norm(b2, read_image(f.p("truth_color.png")), cv::NORM_L1) > 0);  // something was blurred
}

TEST_CASE("Bad input to dualcam bokeh gets one clear line and no output", "[cli][bokeh][bad]") {
  Fixture f;
  const std::string out = f.p("out.png");
  const std::string o = " -o \"" + out + "\"";
  const std::string img = " --image " + f.q("truth_color.png");
  const std::string disp = " --disparity " + f.q("disparity_color.pfm");

  SECTION("disparity of the wrong size") {
    write_pfm(f.p("small.pfm"), cv::Mat(10, 20, CV_32F, cv::Scalar(5.0f)));
    expect_refused("bokeh" + img + " --disparity " + f.q("small.pfm") + " --focus 10,10 --max-blur 8" + o, "20x10", out);
  }
  SECTION("focus point outside the image") {
    expect_refused("bokeh" + img + disp + " --focus 5000,10 --max-blur 8" + o, "outside", out);
  }
  SECTION("focus not a point") { expect_refused("bokeh" + img + disp + " --focus middle --max-blur 8" + o, "--focus", out); }
  SECTION("nonsense aperture") {
    expect_refused("bokeh" + img + disp + " --focus 10,10 --max-blur 8 --aperture square" + o, "--aperture", out);
    expect_refused("bokeh" + img + disp + " --focus 10,10 --max-blur 8 --aperture blades:2" + o, "--aperture", out);
  }
  SECTION("no focus, no blur") {
    expect_refused("bokeh" + img + disp + " --max-blur 8" + o, "--focus", out);
    expect_refused("bokeh" + img + disp + " --focus 10,10" + o, "--max-blur", out);
  }
  SECTION("f-number without a rig") {
    expect_refused("bokeh" + img + disp + " --focus 10,10 --f-number 2" + o, "--rig", out);
  }
  SECTION("both blur options") {
    expect_refused("bokeh" + img + disp + " --focus 10,10 --f-number 2 --max-blur 3" + o, "max-blur", out);
  }
  SECTION("missing disparity file") {
    expect_refused("bokeh" + img + " --disparity " + f.q("nope.pfm") + " --focus 10,10 --max-blur 8" + o, "nope.pfm", out);
  }
}
