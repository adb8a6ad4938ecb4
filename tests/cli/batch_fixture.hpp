#pragma once
// A folder holding the embedded sample, a corrupt PNG and an output folder, for fuse --batch tests.
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.hpp"

namespace dualcam::test {

struct BatchFixture {
  test::TempDir dir;
  BatchFixture() {
    REQUIRE(run_cli("sample -o \"" + dir.path().string() + "\"").exit_code == 0);
    std::filesystem::create_directory(dir.path() / "out");
    std::ofstream(dir.path() / "corrupt.png") << "\x89PNG\r\n\x1a\n this is not a picture";
  }
  std::string p(const std::string& name) const { return dir / name; }
  std::string list(const std::string& text) const {
    std::ofstream(dir.path() / "pairs.txt") << text;
    return p("pairs.txt");
  }
  // fuse --batch LIST --out-dir OUT --rig RIG, files of this folder (defaults: pairs.txt, out, rig.yaml).
  std::string batch(const std::string& extra = "", const std::string& list_name = "pairs.txt",
                    const std::string& out_dir = "out", const std::string& rig = "rig.yaml") const {
    return "fuse --batch \"" + p(list_name) + "\" --out-dir \"" + p(out_dir) + "\" --rig \"" + p(rig) + "\"" + extra;
  }
};

// Runs a list of `pairs` copies of the sample pair and returns the report.
inline nlohmann::json run_long_batch(const BatchFixture& f, int pairs) {
  std::string text;
  for (int i = 0; i < pairs; ++i) text += "mono.png color.png f" + std::to_string(i) + ".png\n";
  f.list(text);
  auto r = run_cli(f.batch(" --json \"" + f.p("batch.json") + "\""));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(test::read_text(f.p("batch.json")));
}

// Resident size after pair `i`, MiB.
inline double rss_mib(const nlohmann::json& report, int i) {
  return report["pairs"][i]["rss_bytes"].get<double>() / (1024.0 * 1024.0);
}

}  // namespace dualcam::test
