// The regression harness as a library: strict manifest parsing, and a deliberate perturbation of
// an algorithm's output that the golden suite must catch.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <memory>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/regress/manifest.hpp"
#include "dualcam/regress/runner.hpp"
#include "dualcam/regress/shard.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::regress;

namespace {

const std::string kGolden = std::string(DUALCAM_SOURCE_DIR) + "/datasets/golden/manifest.json";

// A manifest with one fuse case whose golden exists (an empty file is enough for parsing).
std::string one_case(const std::string& extra_case_keys, const std::string& tolerance = R"({"min_psnr_db": 40})") {
  return R"({"dualcam_regress": 1, "cases": [{"name": "c1", "command": "fuse", )" + extra_case_keys +
         R"("inputs": {"simulate": {"seed": 1, "size": [64, 48]}}, "outputs": {"image": {"golden": "g.png", "tolerance": )" +
         tolerance + "}}}]}";
}

std::string refusal(const std::string& text, const ManifestReadOptions& mo = {false, false}) {
  try {
    parse_manifest(text, "dir/m.json", mo);
  } catch (const Error& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("a manifest is parsed with paths relative to its folder", "[regress][manifest]") {
  const Manifest m = parse_manifest(one_case(R"("options": {"reference": "mono"}, )"), "dir/m.json", {false, false});
  REQUIRE(m.cases.size() == 1);
  const Case& c = m.cases[0];
  CHECK(c.name == "c1");
  CHECK(c.command == Command::Fuse);
  CHECK(c.options.reference == "mono");
  REQUIRE(c.outputs.size() == 1);
  CHECK(c.outputs[0].golden == "dir/g.png");
  CHECK(c.outputs[0].image.min_psnr_db == Approx(40));
  CHECK_FALSE(c.outputs[0].image.min_ssim);
}

TEST_CASE("manifest errors name the case and the key", "[regress][manifest]") {
  CHECK_THAT(refusal(one_case(R"("options": {"refrence": "mono"}, )")),
             Catch::Contains("case 'c1': options.refrence: unknown key"));
  CHECK_THAT(refusal(one_case(R"("options": {"max_disparity": "64"}, )")),
             Catch::Contains("case 'c1': options.max_disparity: expected an integer, got a string"));
  CHECK_THAT(refusal(one_case("", R"({"min_psnr": 40})")),
             Catch::Contains("case 'c1': outputs.image.tolerance.min_psnr: unknown key"));
  CHECK_THAT(refusal(one_case("", R"({})")), Catch::Contains("outputs.image.tolerance: give at least one bound"));
  CHECK_THAT(refusal(one_case("", R"({"max_differing_share": 5})")), Catch::Contains("max_differing_share: must be in [0"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": []})"), Catch::Contains("cases: expected a non-empty array"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 2, "cases": [{}]})"), Catch::Contains("dualcam_regress: must be in [1, 1]"));
  CHECK_THAT(refusal(R"({"cases": [1]})"), Catch::Contains("dualcam_regress: missing"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "a b"}]})"), Catch::Contains("may hold only letters"));
  CHECK_THAT(refusal("{\"dualcam_regress\": 1,"), Catch::Contains("dir/m.json: not valid JSON"));
  // The same case twice.
  const std::string c1 = one_case("").substr(one_case("").find("{\"name\""));
  const std::string case_obj = c1.substr(0, c1.size() - 2);
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [)" + case_obj + "," + case_obj + "]}"),
             Catch::Contains("'c1' names two cases"));
  // An output the command does not have, and inputs of the wrong kind.
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "d", "command": "depth", "inputs": {"simulate": {}},
                       "outputs": {"image": {"golden": "g.png", "tolerance": {"min_ssim": 0.9}}}}]})"),
             Catch::Contains("case 'd': outputs.image: unknown key (allowed here: disparity)"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "d", "command": "depth", "inputs": {"simulate": {"seed": -1}},
                       "outputs": {"disparity": {"golden": "g.pfm", "tolerance": {"max_bad1": 0.1}}}}]})"),
             Catch::Contains("case 'd': inputs.simulate.seed: must be in [0"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "d", "command": "depth", "inputs": {"simulate": {}},
                       "outputs": {"disparity": {"golden": "g.png", "tolerance": {"max_bad1": 0.1}}}}]})"),
             Catch::Contains("a disparity golden must be .pfm"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "b", "command": "bokeh", "inputs": {"simulate": {}},
                       "outputs": {"image": {"golden": "g.png", "tolerance": {"min_ssim": 0.9}}}}]})"),
             Catch::Contains("case 'b': options.focus: missing"));
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "k", "command": "calibrate",
                       "inputs": {"board_sim": {}}, "outputs": {"rig": {"golden": "g.yaml", "tolerance": {"focal_pct": 1}}}}]})"),
             Catch::Contains("case 'k': options.board: missing"));
}

TEST_CASE("a missing input or golden file is an I/O error naming the file", "[regress][manifest]") {
  test::TempDir dir;
  const std::string path = dir / "m.json";
  try {
    parse_manifest(one_case(""), path);
    FAIL("accepted a manifest whose golden is missing");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::IO);
    CHECK_THAT(e.what(), Catch::Contains("case 'c1': outputs.image.golden: file '") && Catch::Contains("g.png' does not exist"));
  }
  // --update may create goldens, but inputs must exist.
  CHECK_NOTHROW(parse_manifest(one_case(""), path, {true, false}));
  const std::string files = R"({"dualcam_regress": 1, "cases": [{"name": "f", "command": "fuse",
      "inputs": {"mono": "m.png", "color": "c.png", "rig": "r.yaml"},
      "outputs": {"image": {"golden": "g.png", "tolerance": {"min_ssim": 0.9}}}}]})";
  CHECK_THROWS_WITH(parse_manifest(files, path, {true, false}), Catch::Contains("case 'f': inputs.mono: file '"));
}

TEST_CASE("shards partition the cases by position, before the filter", "[regress][manifest]") {
  Manifest m;
  for (int i = 0; i < 7; ++i) {
    Case c;
    c.name = "case" + std::to_string(i);
    m.cases.push_back(c);
  }
  std::vector<int> seen(7, 0);
  for (int s = 1; s <= 3; ++s) {
    RunOptions o;
    o.shard_index = s;
    o.shard_count = 3;
    for (std::size_t i : select_cases(m, o)) {
      ++seen[i];
      CHECK(int(i % 3) == s - 1);
    }
  }
  for (int n : seen) CHECK(n == 1);
  RunOptions f;
  f.filter = "case[15]";
  CHECK(select_cases(m, f) == std::vector<std::size_t>{1, 5});
  RunOptions bad;
  bad.shard_index = 4;
  bad.shard_count = 3;
  CHECK_THROWS_AS(bad.validate(), Error);
}

// Issue 8: "a deliberate perturbation of an algorithm (e.g. a one-pixel shift of the warp) must
// fail the suite". The hook post-processes what the library produced, before comparison: the
// fused image moved by one pixel (what a warp off by one pixel does to the mono detail it carries,
// here to the whole image), and the disparity off by one pixel.
TEST_CASE("the golden suite catches a one-pixel shift of the output", "[regress][golden]") {
  const Manifest m = read_manifest(kGolden);
  RunOptions o;
  o.filter = "fuse-color";
  o.threads = 2;
  const auto clean = run_manifest(m, o);
  REQUIRE(clean.size() == 1);
  INFO(case_line(clean[0]));
  CHECK(clean[0].status == Status::Pass);

  o.post_process = [](const std::string&, const std::string& output, Produced& p) {
    if (output == "image") {
      const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, 1, 0, 1, 0);
      cv::warpAffine(p.image, p.image, shift, p.image.size(), cv::INTER_NEAREST, cv::BORDER_REPLICATE);
    } else if (output == "disparity") {
      p.disparity += 1.0;
    }
  };
  const auto shifted = run_manifest(m, o);
  REQUIRE(shifted.size() == 1);
  INFO(case_line(shifted[0]));
  CHECK(shifted[0].status == Status::Fail);
  REQUIRE(shifted[0].outputs.size() == 2);
  CHECK_FALSE(shifted[0].outputs[0].passed);
  CHECK_THAT(shifted[0].outputs[0].failures.front(), Catch::StartsWith("PSNR"));
  // bad-1.0 counts errors above 1 px, so a shift of exactly 1 px passes it; the MAE bound catches it.
  CHECK_FALSE(shifted[0].outputs[1].passed);
  CHECK_FALSE(summarize(shifted).ok());
}

TEST_CASE("the manifest fuzz corpus and hostile JSON give a manifest or a dualcam::Error", "[regress][manifest]") {
  const std::string dir = std::string(DUALCAM_SOURCE_DIR) + "/fuzz/corpus/manifest/";
  int parsed = 0, refused = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto bytes = read_file_bytes(e.path().string());
    try {
      parse_manifest(std::string(bytes.begin(), bytes.end()), e.path().string(), {false, false});
      ++parsed;
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(parsed >= 3);   // golden.json, files.json, simulate.json
  CHECK(refused >= 1);  // bad-seed.json
  // Deep nesting, a NUL byte, invalid UTF-8 and an empty input: refused, never a crash.
  for (const std::string& text : {std::string(60000, '[') + std::string(60000, ']'), std::string("{\"a\0\": 1}", 10),
                                  std::string("{\"dualcam_regress\": 1, \"cases\": [{\"name\": \"\xff\"}]}"), std::string()})
    CHECK_THROWS_AS(parse_manifest(text, "m.json", {false, false}), Error);
}

TEST_CASE("a case reads headerless raw frames through its raw_layout, as fuse --raw-layout does", "[regress][raw]") {
  // The simulator's sensor frames as a sensor dump writes them: mono.raw, color.raw and their
  // layout raw.json, next to the rig.
  test::TempDir dir;
  datasets::SimulateOptions so;
  so.mono.size = so.color.size = cv::Size(160, 120);
  so.sensor = datasets::SensorModel::Realistic;
  so.adc_bits = 10;
  so.raw = true;
  so.supersample = 1;
  datasets::write_simulation(datasets::simulate(so), dir.path().string());
  const auto manifest = [&](const std::string& layout) {
    const std::string text = R"({"dualcam_regress": 1, "cases": [{"name": "raw", "command": "fuse", "inputs": )"
                             R"({"mono": "mono.raw", "color": "color.raw", "rig": "rig.yaml")" +
                             layout + R"(}, "outputs": {"image": {"golden": "g.png", "tolerance": {"min_psnr_db": 60}}}}]})";
    write_file_atomic(dir / "m.json", text);
    return read_manifest(dir / "m.json", {false, false});
  };
  RunOptions o;
  o.threads = 2;
  o.update = true;
  const Manifest with = manifest(R"(, "raw_layout": "raw.json")");
  REQUIRE(with.cases[0].inputs.raw_layout == dir / "raw.json");
  auto made = run_manifest(with, o);
  REQUIRE(made.size() == 1);
  INFO(case_line(made[0]));
  REQUIRE(made[0].status == Status::Pass);
  o.update = false;
  auto again = run_manifest(with, o);
  INFO(case_line(again[0]));
  CHECK(again[0].status == Status::Pass);
  // The fused picture is a colour image of the scene, not the raw samples read as an image.
  const cv::Mat g = read_image(dir / "g.png");
  CHECK(g.channels() == 3);
  CHECK(g.size() == cv::Size(160, 120));
  // Without the layout the frames cannot be read: the case is an error that says so.
  auto without = run_manifest(manifest(""), o);
  REQUIRE(without.size() == 1);
  CHECK(without[0].status == Status::Error);
  CHECK_THAT(case_line(without[0]), Catch::Contains("raw-layout"));
  // The key is for files only.
  CHECK_THAT(refusal(R"({"dualcam_regress": 1, "cases": [{"name": "c", "command": "fuse", "inputs": )"
                     R"({"simulate": {"seed": 1}, "raw_layout": "raw.json"}, "outputs": {"image": {"golden": "g.png"}}}]})"),
             Catch::Contains("raw_layout"));
}

// ---- shards from a scheduler's environment (dualcam/regress/shard.hpp) ----

namespace {
dualcam::regress::EnvLookup env_of(std::map<std::string, std::string> vars) {
  auto held = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [held](const char* name) -> const char* {
    const auto it = held->find(name);
    return it == held->end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST_CASE("resolve_shard reads I/N and the schedulers' variables", "[shard]") {
  using dualcam::regress::resolve_shard;
  const auto none = env_of({});
  const auto s = resolve_shard("2/4", 0, none);
  CHECK(s.index == 2);
  CHECK(s.count == 4);
  CHECK(resolve_shard("3/3", 3, none).index == 3);
  // Slurm, dense array (--array=0-3): task 2 is the third shard.
  const auto dense = resolve_shard("auto", 0, env_of({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"},
                                                      {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_STEP", "1"}}));
  CHECK(dense.index == 3);
  CHECK(dense.count == 4);
  // Sparse (--array=1-7:2 = 1,3,5,7): task 5 is the third of four.
  const auto sparse = resolve_shard("auto", 4, env_of({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "4"},
                                                        {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_STEP", "2"}}));
  CHECK(sparse.index == 3);
  CHECK(sparse.count == 4);
  // Kubernetes: 0-based index, count from the option.
  const auto k8s = resolve_shard("auto", 5, env_of({{"JOB_COMPLETION_INDEX", "0"}}));
  CHECK(k8s.index == 1);
  CHECK(k8s.count == 5);
  // GitLab: 1-based.
  const auto gl = resolve_shard("auto", 0, env_of({{"CI_NODE_INDEX", "4"}, {"CI_NODE_TOTAL", "4"}}));
  CHECK(gl.index == 4);
  CHECK(gl.count == 4);
  // Every position lands in exactly one shard.
  for (std::size_t pos = 0; pos < 11; ++pos) {
    int owners = 0;
    for (int i = 1; i <= 4; ++i) owners += dualcam::regress::Shard{i, 4, ""}.takes(pos);
    CHECK(owners == 1);
  }
}

TEST_CASE("resolve_shard refuses a missing or inconsistent environment", "[shard]") {
  using dualcam::regress::resolve_shard;
  auto refuses = [](const std::string& text, int count, std::map<std::string, std::string> vars, const std::string& part) {
    try {
      resolve_shard(text, count, env_of(std::move(vars)));
      FAIL("accepted " << text);
    } catch (const dualcam::Error& e) {
      INFO(e.what());
      CHECK(e.category() == dualcam::ErrorCategory::InvalidInput);
      CHECK(std::string(e.what()).find(part) != std::string::npos);
    }
  };
  refuses("auto", 0, {}, "no scheduler");
  refuses("2-4", 0, {}, "must be I/N");
  refuses("5/4", 0, {}, "out of range");
  refuses("0/4", 0, {}, "out of range");
  refuses("2/4", 3, {}, "disagrees");
  refuses("auto", 0, {{"SLURM_ARRAY_TASK_ID", "1"}}, "SLURM_ARRAY_TASK_COUNT");
  refuses("auto", 0, {{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, "not a whole number");
  refuses("auto", 0, {{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                      {"SLURM_ARRAY_TASK_STEP", "2"}}, "grid");
  refuses("auto", 0, {{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, "out of range");
  refuses("auto", 3, {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}, "disagrees");
  refuses("auto", 0, {{"JOB_COMPLETION_INDEX", "1"}}, "--shard-count");
  refuses("auto", 2, {{"JOB_COMPLETION_INDEX", "2"}}, "out of range");
  refuses("auto", 0, {{"CI_NODE_INDEX", "1"}}, "CI_NODE_TOTAL");
}
