// dualcam fuse --batch: many pairs in one run, past bad ones, with flat memory.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "batch_fixture.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;
using test::BatchFixture;
using test::rss_mib;
using test::run_long_batch;
namespace fs = std::filesystem;


TEST_CASE("fuse --batch fuses every good pair, reports the bad ones and fails at the end", "[cli][batch]") {
  BatchFixture f;
  f.list("# a comment, then a blank line\n\n"
         "mono.png color.png\n"
         "missing.png color.png m.png\n"
         "mono.png corrupt.png\n"
         "mono.png \"color.png\" second.png   # output named here\n");
  auto r = run_cli(f.batch(" --json \"" + f.p("batch.json") + "\""));
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code < 128);
  // Both good pairs are written, and each is what a single fuse writes.
  REQUIRE(fs::exists(f.p("out/color_fused.png")));
  REQUIRE(fs::exists(f.p("out/second.png")));
  auto single = run_cli("fuse --mono \"" + f.p("mono.png") + "\" --color \"" + f.p("color.png") + "\" --rig \"" +
                        f.p("rig.yaml") + "\" -o \"" + f.p("single.png") + "\"");
  REQUIRE(single.exit_code == 0);
  CHECK(test::read_text(f.p("out/color_fused.png")) == test::read_text(f.p("single.png")));
  CHECK(test::read_text(f.p("out/second.png")) == test::read_text(f.p("single.png")));
  CHECK_FALSE(fs::exists(f.p("out/corrupt_fused.png")));
  // Each failure is one line naming the list line and the problem; the summary counts them.
  CHECK(r.err.find("line 4 FAILED") != std::string::npos);
  CHECK(r.err.find("missing.png") != std::string::npos);
  CHECK(r.err.find("line 5 FAILED") != std::string::npos);
  CHECK(r.err.find("corrupt.png") != std::string::npos);
  CHECK(r.err.find("2 of 4 pairs fused, 2 failed (lines 4, 5)") != std::string::npos);
  auto report = nlohmann::json::parse(test::read_text(f.p("batch.json")));
  REQUIRE(report["pairs"].size() == 4);
  CHECK(report["pairs"][0]["ok"] == true);
  CHECK(report["pairs"][1]["ok"] == false);
  CHECK(report["pairs"][1]["error"].get<std::string>().find("missing.png") != std::string::npos);
  CHECK(report["failed"] == 2);
  CHECK(report["rss_end_bytes"].get<long long>() > 0);
}

TEST_CASE("fuse --batch exits 0 when every pair is fused", "[cli][batch]") {
  BatchFixture f;
  f.list("mono.png color.png a.png\nmono.png color.png b.png\n");
  auto r = run_cli(f.batch());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(f.p("out/a.png")));
  CHECK(fs::exists(f.p("out/b.png")));
  CHECK(r.err.find("2 of 2 pairs fused, 0 failed") != std::string::npos);
}

TEST_CASE("fuse --batch --shard fuses only its shard's pairs", "[cli][batch]") {
  BatchFixture f;
  f.list("mono.png color.png a.png\n\nmono.png color.png b.png\nmono.png color.png c.png\n");
  const std::string clean = "env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX -u CI_NODE_INDEX ";
  // GitLab's second of two parallel jobs: the pair at position 1 (b; the blank line is not a pair).
  auto r = run_cli(f.batch(" --shard auto --json \"" + f.p("batch.json") + "\""), clean + "CI_NODE_INDEX=2 CI_NODE_TOTAL=2 ");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(f.p("out/b.png")));
  CHECK_FALSE(fs::exists(f.p("out/a.png")));
  CHECK_FALSE(fs::exists(f.p("out/c.png")));
  auto report = nlohmann::json::parse(test::read_text(f.p("batch.json")));
  CHECK(report["shard"] == "2/2");
  REQUIRE(report["pairs"].size() == 1);
  CHECK(report["pairs"][0]["line"] == 3);
  // An explicit shard wins over the environment; Kubernetes needs the count.
  auto k = run_cli(f.batch(" --shard 1/2 --json \"" + f.p("s1.json") + "\""), clean + "CI_NODE_INDEX=2 CI_NODE_TOTAL=2 ");
  CHECK(k.exit_code == 0);
  CHECK(fs::exists(f.p("out/a.png")));
  CHECK(fs::exists(f.p("out/c.png")));
  // The merge of both shards holds every pair once; with one shard lost, its pairs are named.
  const std::string list = " --batch \"" + f.p("pairs.txt") + "\"";
  auto m = run_cli("fuse" + list + " --merge \"" + f.p("s1.json") + "\" \"" + f.p("batch.json") + "\" --json \"" +
                   f.p("m.json") + "\"");
  INFO(m.out << m.err);
  CHECK(m.exit_code == 0);
  CHECK(m.out.find("3 pairs in") != std::string::npos);
  CHECK(nlohmann::json::parse(test::read_text(f.p("m.json")))["pairs"].size() == 3);
  auto lost = run_cli("fuse" + list + " --merge \"" + f.p("batch.json") + "\"");
  INFO(lost.out);
  CHECK(lost.exit_code == 3);
  CHECK(lost.out.find("MISSING shard 1/2") != std::string::npos);
  CHECK(lost.out.find("MISSING pair at line 1") != std::string::npos);
  CHECK(lost.out.find("MISSING pair at line 4") != std::string::npos);
  CHECK(lost.out.find("line 3") == std::string::npos);
  auto twice = run_cli("fuse" + list + " --merge \"" + f.p("s1.json") + "\" \"" + f.p("s1.json") + "\"");
  CHECK(twice.exit_code == 3);
  CHECK(twice.out.find("DUPLICATE pair at line 1") != std::string::npos);
  expect_refused(f.batch(" --shard auto"), "--shard-count", f.p("out/x.png"), clean + "JOB_COMPLETION_INDEX=0 ");
  expect_refused(f.batch(" --shard 5/4"), "out of range", f.p("out/x.png"));
}

TEST_CASE("fuse --batch refuses a list that makes no sense before doing any work", "[cli][batch][bad]") {
  BatchFixture f;
  const std::string first = f.p("out/color_fused.png");
  SECTION("two lines writing the same output") {
    f.list("mono.png color.png\nmono.png color.png\n");
    expect_refused(f.batch(), "line 2", first);
  }
  SECTION("a line with one field") {
    f.list("mono.png color.png\nmono.png\n");
    expect_refused(f.batch(), "expected 'MONO COLOR [OUTPUT]'", first);
  }
  SECTION("an unclosed quote") {
    f.list("mono.png \"color.png\n");
    expect_refused(f.batch(), "quote", first);
  }
  SECTION("an empty list") {
    f.list("# nothing\n");
    expect_refused(f.batch(), "no pairs", first);
  }
  SECTION("a missing list") {
    expect_refused(f.batch("", "nope.txt"), "nope.txt", first);
  }
  SECTION("a missing output folder") {
    f.list("mono.png color.png\n");
    expect_refused(f.batch("", "pairs.txt", "nowhere"), "does not exist", f.p("nowhere/color_fused.png"));
  }
  SECTION("no output folder") {
    f.list("mono.png color.png\n");
    expect_refused("fuse --batch \"" + f.p("pairs.txt") + "\" --rig \"" + f.p("rig.yaml") + "\"", "--out-dir", first);
  }
  SECTION("--batch with --mono") {
    f.list("mono.png color.png\n");
    expect_refused(f.batch(" --mono \"" + f.p("mono.png") + "\""), "--mono", first);
  }
  SECTION("an unreadable rig stops the batch") {
    f.list("mono.png color.png\n");
    std::ofstream(f.dir.path() / "bad.yaml") << "%YAML:1.0\nM1: 3\n";
    expect_refused(f.batch("", "pairs.txt", "out", "bad.yaml"), "bad.yaml", first);
  }
}


TEST_CASE("fuse --batch keeps its memory flat over 12 pairs", "[cli][batch]") {
  BatchFixture f;
  const auto report = run_long_batch(f, 12);
  INFO("RSS after pair 3: " << rss_mib(report, 2) << " MiB, after pair 12: " << rss_mib(report, 11) << " MiB");
  CHECK(rss_mib(report, 11) < rss_mib(report, 2) + 8.0);
}
