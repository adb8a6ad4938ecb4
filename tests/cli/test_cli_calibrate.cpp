// dualcam calibrate through the CLI: outputs and verdict exit codes, and each kind of bad input
// (one clear line, a non-zero exit, no output left behind).
#include <catch2/catch.hpp>

#include <filesystem>

#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "support.hpp"

using namespace dualcam;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

// One synthetic board set on disk per test process (left1..left10 tests the natural order).
const test::TempDir& board_set_dir() {
  static test::TempDir dir;
  static bool done = false;
  if (!done) {
    datasets::BoardSetOptions o;
    o.views = 10;
    o.mono_size = {480, 360};
    o.color_size = {400, 300};
    o.outside_share = 0;
    const StereoRig rig = datasets::random_rig(3, o);
    const auto set = datasets::render_board_set(rig, calibration::parse_board_spec("chessboard:9x6:25mm"), 3, o);
    for (std::size_t i = 0; i < set.size(); ++i) {
      write_image(dir / ("left" + std::to_string(i + 1) + ".png"), set[i].mono);
      write_image(dir / ("right" + std::to_string(i + 1) + ".png"), set[i].color);
    }
    done = true;
  }
  return dir;
}

std::string q(const std::string& s) { return "\"" + s + "\""; }

std::string pairs_args() {
  const auto& d = board_set_dir();
  return " --mono " + q(d / "left*.png") + " --color " + q(d / "right*.png");
}

void expect_failure(const std::string& args, const std::string& fragment, const std::string& output) {
  // Bad input is an error, never the failed-verdict code.
  CHECK(test::expect_refused(args, fragment, output).exit_code != 3);
}

}  // namespace

TEST_CASE("dualcam calibrate writes the rig, the report and the pictures, and gives a verdict", "[cli][calibrate]") {
  test::TempDir out;
  const std::string rig = out / "rig.yaml", json = out / "report.json", rep = out / "report";
  auto r = run_cli("calibrate" + pairs_args() + " --board chessboard:9x6:25mm -o " + q(rig) + " --json " + q(json) +
                   " --report-dir " + q(rep) + " --max-rms 2 --max-row-error 2");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("PASS") != std::string::npos);
  StereoRig loaded = read_rig(rig);
  CHECK(loaded.extras.count("rms_px") == 1);
  CHECK(loaded.extras.count("sigma_baseline_mm") == 1);
  const std::string text = test::read_text(rig);
  for (const char* key : {"R1:", "R2:", "P1:", "P2:", "Q:", "E:", "F:"}) CHECK(text.find(key) != std::string::npos);
  CHECK(test::read_text(json).find("\"views_used\"") != std::string::npos);
  for (const char* pic : {"corners_01.jpg", "corners_10.jpg", "residual_bars.png", "residuals_mono.png",
                          "residuals_color.png", "rectified.jpg"})
    CHECK(fs::exists(fs::path(rep) / pic));

  // A threshold that cannot be met: exit 3, naming the threshold; the rig is still written.
  const std::string rig2 = out / "rig2.yaml";
  auto f = run_cli("calibrate" + pairs_args() + " --board chessboard:9x6:25mm -o " + q(rig2) +
                   " --max-rms 0.0001 --no-halves");
  CHECK(f.exit_code == 3);
  CHECK(f.err.find("--max-rms") != std::string::npos);
  CHECK(f.out.find("FAIL") != std::string::npos);
  CHECK(fs::exists(rig2));
  auto g = run_cli("calibrate" + pairs_args() + " --board chessboard:9x6:25mm -o " + q(rig2) +
                   " --max-row-error 0.00001 --no-halves");
  CHECK(g.exit_code == 3);
  CHECK(g.err.find("--max-row-error") != std::string::npos);
}

TEST_CASE("Bad input to dualcam calibrate gets one clear line and no output", "[cli][calibrate][bad]") {
  test::TempDir out;
  const std::string rig = out / "rig.yaml";
  const std::string o = " -o " + q(rig);
  const std::string board = " --board chessboard:9x6:25mm";
  const auto& d = board_set_dir();
  SECTION("no images matched") {
    expect_failure("calibrate --mono " + q(d / "nope*.png") + " --color " + q(d / "right*.png") + board + o,
                   "no images match --mono", rig);
  }
  SECTION("different numbers of mono and colour images") {
    expect_failure("calibrate --mono " + q(d / "left1*.png") + " --color " + q(d / "right*.png") + board + o,
                   "counts must agree", rig);
  }
  SECTION("board never found (wrong board size)") {
    // A smaller grid can be found inside the real board now and then, so the message is either
    // "not found in any" or "only N of 11 views are usable ... not found"; both name the board.
    expect_failure("calibrate" + pairs_args() + " --board chessboard:7x4:25mm" + o, "chessboard 7x4 not found", rig);
  }
  SECTION("bad board spec") { expect_failure("calibrate" + pairs_args() + " --board chessboard:9x6:25" + o, "unit", rig); }
  SECTION("unwritable output") {
    const std::string bad = out / "no/such/dir/rig.yaml";
    expect_failure("calibrate" + pairs_args() + board + " -o " + q(bad), "does not exist", bad);
  }
  SECTION("unwritable report directory") {
    expect_failure("calibrate" + pairs_args() + board + o + " --report-dir " + q(out / "no/such/rep"), "does not exist", rig);
  }
  SECTION("too few usable views") {
    expect_failure("calibrate" + pairs_args() + board + o + " --min-views 50 --no-halves", "usable", rig);
  }
}
