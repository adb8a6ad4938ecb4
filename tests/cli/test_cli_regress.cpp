// dualcam regress through the CLI on a tiny suite written into a temporary folder: --update
// creates the goldens, a run passes, a changed golden fails, a bad manifest is refused, shards
// partition the cases, --merge joins shard results, --report writes a self-contained page.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/engine/image_io.hpp"
#include "support.hpp"

using namespace dualcam;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

// Three cheap cases (96x72 simulated pairs).
const char* kSuite = R"({
  "dualcam_regress": 1,
  "cases": [
    {"name": "fuse-a", "command": "fuse", "inputs": {"simulate": {"seed": 1, "size": [96, 72], "supersample": 1}},
     "outputs": {"image": {"golden": "g/fuse-a.png", "tolerance": {"min_psnr_db": 45, "max_abs_diff": 16}},
                 "disparity": {"golden": "g/fuse-a.pfm", "tolerance": {"max_bad1": 0.01, "max_mae_px": 0.05}}}},
    {"name": "depth-b", "command": "depth", "inputs": {"simulate": {"seed": 2, "size": [96, 72], "supersample": 1}},
     "outputs": {"disparity": {"golden": "g/depth-b.pfm", "tolerance": {"max_bad1": 0.01}}}},
    {"name": "fuse-c", "command": "fuse", "options": {"reference": "mono"},
     "inputs": {"simulate": {"seed": 1, "size": [96, 72], "supersample": 1}},
     "outputs": {"image": {"golden": "g/fuse-c.png", "tolerance": {"min_psnr_db": 45}}}}
  ]
})";

std::string write_suite(const test::TempDir& dir) {
  const std::string path = dir / "suite.json";
  std::ofstream(path) << kSuite;
  return path;
}

std::string q(const std::string& s) { return "\"" + s + "\""; }

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(test::read_text(path)); }

std::set<std::string> names(const nlohmann::json& j) {
  std::set<std::string> s;
  for (const auto& c : j["cases"]) s.insert(c["name"].get<std::string>());
  return s;
}

}  // namespace

TEST_CASE("regress --update writes the goldens, then the suite passes", "[cli][regress]") {
  test::TempDir dir;
  const std::string suite = write_suite(dir);
  auto u = run_cli("regress " + q(suite) + " --update");
  INFO(u.out << u.err);
  REQUIRE(u.exit_code == 0);
  CHECK(u.out.find("image: new") != std::string::npos);
  CHECK(u.out.find("3 cases run, 4 goldens written") != std::string::npos);
  for (const char* f : {"g/fuse-a.png", "g/fuse-a.pfm", "g/depth-b.pfm", "g/fuse-c.png"}) CHECK(fs::exists(dir / f));

  auto r = run_cli("regress " + q(suite) + " --threads 1 --json " + q(dir / "r.json"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(test::line_count(r.out) == 4);  // one line per case and the summary
  CHECK(r.out.find("PASS   fuse-a") != std::string::npos);
  CHECK(r.out.find("PSNR inf dB") != std::string::npos);
  CHECK(r.out.find("3 cases, 3 passed, 0 failed, 0 errors") != std::string::npos);
  const auto j = read_json(dir / "r.json");
  CHECK(j["summary"]["ok"] == true);
  CHECK(j["cases"].size() == 3);

  // Nothing changed: a second update rewrites nothing.
  auto u2 = run_cli("regress " + q(suite) + " --update --filter 'depth-*'");
  INFO(u2.out);
  CHECK(u2.exit_code == 0);
  CHECK(u2.out.find("disparity: unchanged") != std::string::npos);
  CHECK(u2.out.find("1 cases run, 0 goldens written") != std::string::npos);
}

TEST_CASE("regress fails with exit code 3 on a changed golden, and --update says by how much", "[cli][regress]") {
  test::TempDir dir;
  const std::string suite = write_suite(dir);
  REQUIRE(run_cli("regress " + q(suite) + " --update").exit_code == 0);
  // The golden moved by one pixel: the new output no longer matches it.
  cv::Mat g = read_image(dir / "g/fuse-a.png");
  const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, 1, 0, 1, 0);
  cv::warpAffine(g, g, shift, g.size(), cv::INTER_NEAREST, cv::BORDER_REPLICATE);
  write_image(dir / "g/fuse-a.png", g);

  auto r = run_cli("regress " + q(suite) + " --json " + q(dir / "r.json") + " --report " + q(dir / "report"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.out.find("FAIL   fuse-a") != std::string::npos);
  CHECK(r.out.find("[PSNR") != std::string::npos);
  CHECK(r.out.find("3 cases, 2 passed, 1 failed, 0 errors") != std::string::npos);
  const auto j = read_json(dir / "r.json");
  CHECK(j["summary"]["ok"] == false);
  CHECK(j["cases"][0]["status"] == "fail");
  // The report: the failure first, its pictures beside the page.
  const std::string html = test::read_text(dir / "report/index.html");
  REQUIRE_FALSE(html.empty());
  CHECK(html.find("fuse-a") < html.find("depth-b"));
  CHECK(html.find("class=\"case fail\"") < html.find("class=\"case pass\""));
  CHECK(fs::exists(dir / "report/fuse-a__image__0.png"));
  CHECK(fs::exists(dir / "report/fuse-a__image__2.png"));
  CHECK(fs::exists(dir / "report/depth-b__disparity__1.png"));
  // No temporary folder left beside it.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.path().filename().string().rfind("report", 0) == 0;
  CHECK(entries == 1);

  auto u = run_cli("regress " + q(suite) + " --update --filter fuse-a");
  INFO(u.out);
  CHECK(u.exit_code == 0);
  CHECK(u.out.find("image: changed (against the old golden: PSNR") != std::string::npos);
  CHECK(run_cli("regress " + q(suite)).exit_code == 0);
}

TEST_CASE("regress refuses a bad manifest with one line and exit code 2", "[cli][regress]") {
  test::TempDir dir;
  std::string text = kSuite;
  const std::string key = "\"supersample\"";
  text.replace(text.find(key + ": 1}},\n     \"outputs\": {\"disparity\""), key.size(), "\"supersampel\"");
  std::ofstream(dir / "bad.json") << text;
  // (--update: the goldens need not exist yet, so the key is what is refused.)
  auto r = test::expect_refused("regress " + q(dir / "bad.json") + " --update --json " + q(dir / "r.json"),
                                "case 'depth-b': inputs.simulate.supersampel: unknown key", dir / "r.json");
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());  // nothing ran
  CHECK_FALSE(fs::exists(dir / "g"));
  // A missing golden (no --update) is an I/O error naming the file.
  const std::string suite = write_suite(dir);
  auto m = test::expect_refused("regress " + q(suite), "outputs.image.golden: file '", dir / "r.json");
  CHECK(m.exit_code == 4);
  test::expect_refused("regress " + q(suite) + " --shard 3/2", "shard 3 of 2 is out of range", dir / "r.json");
  test::expect_refused("regress " + q(dir / "nothing.json"), "nothing.json", dir / "r.json");
  // A report folder that holds something else is never replaced.
  fs::create_directory(dir / "mine");
  std::ofstream(dir / "mine/keep.txt") << "keep";
  test::expect_refused("regress " + q(suite) + " --update --report " + q(dir / "mine"), "refusing to replace it",
                       dir / "mine/index.html");
  CHECK(fs::exists(dir / "mine/keep.txt"));
}

TEST_CASE("regress shards cover every case exactly once and --merge joins them", "[cli][regress]") {
  test::TempDir dir;
  const std::string suite = write_suite(dir);
  REQUIRE(run_cli("regress " + q(suite) + " --update").exit_code == 0);
  std::set<std::string> all;
  std::size_t total = 0;
  std::string merge_args;
  for (int i = 1; i <= 2; ++i) {
    const std::string json = dir / ("s" + std::to_string(i) + ".json");
    auto r = run_cli("regress " + q(suite) + " --shard " + std::to_string(i) + "/2 --json " + q(json) + " --report " +
                     q(dir / ("rep" + std::to_string(i))));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto n = names(read_json(json));
    total += n.size();
    all.insert(n.begin(), n.end());
    merge_args += " " + q(json);
  }
  CHECK(total == 3);
  CHECK(all == std::set<std::string>{"fuse-a", "depth-b", "fuse-c"});
  CHECK(names(read_json(dir / "s1.json")) == std::set<std::string>{"fuse-a", "fuse-c"});  // positions 0 and 2

  auto m = run_cli("regress --merge" + merge_args + " --report " + q(dir / "merged") + " --json " + q(dir / "m.json"));
  INFO(m.out << m.err);
  CHECK(m.exit_code == 0);
  CHECK(m.out.find("3 cases, 3 passed") != std::string::npos);
  CHECK(names(read_json(dir / "m.json")) == all);
  const std::string html = test::read_text(dir / "merged/index.html");
  for (const auto& n : all) CHECK(html.find(n) != std::string::npos);
  CHECK(fs::exists(dir / "merged/depth-b__disparity__0.png"));  // pictures copied from the shard reports
  // The same shard twice: the duplicates and the shard that has no file are named, exit 3.
  auto twice = run_cli("regress --merge " + q(dir / "s1.json") + " " + q(dir / "s1.json") + " --json " + q(dir / "x.json"));
  INFO(twice.out << twice.err);
  CHECK(twice.exit_code == 3);
  CHECK(twice.out.find("DUPLICATE case 'fuse-a'") != std::string::npos);
  CHECK(twice.out.find("shard 1/2 is in both") != std::string::npos);
  CHECK(twice.out.find("MISSING shard 2/2") != std::string::npos);
  // A killed task (its JSON never written): the merge names its shard and, given the manifest,
  // each case nobody reported; they are in the report and the JSON as errors.
  auto lost = run_cli("regress " + q(suite) + " --merge " + q(dir / "s1.json") + " --json " + q(dir / "l.json") +
                      " --report " + q(dir / "lost"));
  INFO(lost.out << lost.err);
  CHECK(lost.exit_code == 3);
  CHECK(lost.out.find("MISSING shard 2/2") != std::string::npos);
  CHECK(lost.out.find("depth-b") != std::string::npos);
  CHECK(lost.out.find("no shard reported this case (manifest position 1, shard 2/2)") != std::string::npos);
  const auto l = read_json(dir / "l.json");
  CHECK(names(l) == all);
  REQUIRE(l["merge_problems"].size() == 1);
  CHECK(test::read_text(dir / "lost/index.html").find("no shard reported this case") != std::string::npos);
  // Files of different splits are refused.
  auto other = run_cli("regress " + q(suite) + " --shard 1/3 --json " + q(dir / "t1.json"));
  REQUIRE(other.exit_code == 0);
  test::expect_refused("regress --merge " + q(dir / "s1.json") + " " + q(dir / "t1.json") + " --json " + q(dir / "y.json"),
                       "of another split", dir / "y.json");
}

TEST_CASE("regress --shard auto takes the shard from a Slurm array task", "[cli][regress]") {
  test::TempDir dir;
  const std::string suite = write_suite(dir);
  REQUIRE(run_cli("regress " + q(suite) + " --update").exit_code == 0);
  const std::string clean = "env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX -u CI_NODE_INDEX ";
  // Task 3 of --array=1-3:2 (IDs 1, 3) is the second of two shards: position 1, depth-b.
  auto r = run_cli("regress " + q(suite) + " --shard auto --json " + q(dir / "a.json"),
                   clean + "SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_STEP=2 ");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto a = read_json(dir / "a.json");
  CHECK(names(a) == std::set<std::string>{"depth-b"});
  CHECK(a["shard"] == "2/2");
  CHECK(a["shard_source"].get<std::string>().find("SLURM_ARRAY_TASK_ID=3") != std::string::npos);
  // Outside an array job, or with a count that disagrees, it is refused before any case runs.
  auto none = test::expect_refused("regress " + q(suite) + " --shard auto --json " + q(dir / "b.json"),
                                   "no scheduler's shard variables are set", dir / "b.json", clean);
  CHECK(none.out.empty());
  test::expect_refused("regress " + q(suite) + " --shard auto --shard-count 3 --json " + q(dir / "b.json"), "disagrees",
                       dir / "b.json", clean + "CI_NODE_INDEX=1 CI_NODE_TOTAL=2 ");
}

TEST_CASE("regress computes exactly what the subcommands write, from files", "[cli][regress]") {
  test::TempDir dir;
  const std::string sim = dir / "sim";
  REQUIRE(run_cli("simulate -o " + q(sim) + " --size 96x72 --supersample 1").exit_code == 0);
  const std::string pair = "--mono " + q(sim + "/mono.png") + " --color " + q(sim + "/color.png") + " --rig " + q(sim + "/rig.yaml");
  REQUIRE(run_cli("fuse " + pair + " --reference mono -o " + q(dir / "fused.png") + " --disparity-out " + q(dir / "fused.pfm"))
              .exit_code == 0);
  REQUIRE(run_cli("depth " + pair + " -o " + q(dir / "depth.pfm")).exit_code == 0);
  REQUIRE(run_cli("bokeh --image " + q(sim + "/truth_color.png") + " --disparity " + q(sim + "/disparity_color.pfm") +
                  " --focus-disparity 3 --max-blur 4 --aperture blades:5 -o " + q(dir / "bokeh.png"))
              .exit_code == 0);
  // The CLI's outputs are the goldens; zero tolerance: the runner must give the same bytes.
  std::ofstream(dir / "files.json") << R"({"dualcam_regress": 1, "cases": [
    {"name": "fuse", "command": "fuse", "options": {"reference": "mono"},
     "inputs": {"mono": "sim/mono.png", "color": "sim/color.png", "rig": "sim/rig.yaml"},
     "outputs": {"image": {"golden": "fused.png", "tolerance": {"max_abs_diff": 0}},
                 "disparity": {"golden": "fused.pfm", "tolerance": {"max_bad1": 0, "max_mae_px": 0}}}},
    {"name": "depth", "command": "depth", "inputs": {"mono": "sim/mono.png", "color": "sim/color.png", "rig": "sim/rig.yaml"},
     "outputs": {"disparity": {"golden": "depth.pfm", "tolerance": {"max_bad1": 0, "max_mae_px": 0}}}},
    {"name": "bokeh", "command": "bokeh", "inputs": {"image": "sim/truth_color.png", "disparity": "sim/disparity_color.pfm"},
     "options": {"focus_disparity": 3, "max_blur": 4, "aperture": "blades:5"},
     "outputs": {"image": {"golden": "bokeh.png", "tolerance": {"max_abs_diff": 0}}}},
    {"name": "fuse-recipe", "command": "fuse", "options": {"reference": "mono"},
     "inputs": {"simulate": {"seed": 1, "size": [96, 72], "supersample": 1}},
     "outputs": {"image": {"golden": "fused.png", "tolerance": {"max_abs_diff": 0}}}}
  ]})";
  auto r = run_cli("regress " + q(dir / "files.json"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("4 cases, 4 passed") != std::string::npos);
}

TEST_CASE("regress calibrates from listed files as dualcam calibrate does", "[cli][regress]") {
  test::TempDir dir;
  datasets::BoardSetOptions o;
  o.views = 8;
  o.mono_size = {480, 360};
  o.color_size = {400, 300};
  // The golden suite's calibrate-chessboard set.
  const auto set = datasets::render_board_set(datasets::random_rig(3, o), calibration::parse_board_spec("chessboard:9x6:25mm"), 3, o);
  std::string mono, color;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const std::string l = "l" + std::to_string(i + 1) + ".png", r = "r" + std::to_string(i + 1) + ".png";
    write_image(dir / l, set[i].mono);
    write_image(dir / r, set[i].color);
    mono += std::string(i ? ", " : "") + "\"" + l + "\"";
    color += std::string(i ? ", " : "") + "\"" + r + "\"";
  }
  auto c = run_cli("calibrate --mono " + q(dir / "l*.png") + " --color " + q(dir / "r*.png") +
                   " --board chessboard:9x6:25mm --no-halves -o " + q(dir / "cli.yaml"));
  INFO(c.out << c.err);
  REQUIRE(c.exit_code == 0);
  // The CLI's rig is the golden; bounds far below any real change (the file holds the numbers in text).
  std::ofstream(dir / "calib.json") << R"({"dualcam_regress": 1, "cases": [
    {"name": "calib", "command": "calibrate", "inputs": {"mono": [)" + mono + R"(], "color": [)" + color + R"(]},
     "options": {"board": "chessboard:9x6:25mm", "halves": false},
     "outputs": {"rig": {"golden": "cli.yaml", "tolerance": {"focal_pct": 1e-6, "principal_px": 1e-6,
                 "distortion_abs": 1e-6, "rotation_deg": 1e-6, "baseline_pct": 1e-6}}}}]})";
  auto r = run_cli("regress " + q(dir / "calib.json") + " --json " + q(dir / "r.json"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("PASS   calib") != std::string::npos);
  const auto j = read_json(dir / "r.json");
  CHECK(j["cases"][0]["outputs"][0]["figures"]["parameters"].size() >= 19);  // fx fy cx cy + 5 distortion, x2, baseline
}
