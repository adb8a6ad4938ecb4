// Shards: one of N workers takes the items at positions I-1, I-1+N, ... of a list (regress cases,
// fuse --batch pairs). The CLI's `--shard I/N` and `--shard auto` both resolve here, so the two
// commands read a scheduler's environment the same way (docs/regress.md#shards).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dualcam::regress {

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
  std::string source;  // where it came from, for messages and the results' JSON: "2/4", "SLURM_ARRAY_TASK_ID=5 ..."
  bool takes(std::size_t position) const { return int(position % std::size_t(count)) == index - 1; }
  std::string label() const { return std::to_string(index) + "/" + std::to_string(count); }  // "I/N"
};

// Reads an environment variable; nullptr when it is not set. The CLI passes std::getenv.
using EnvLookup = std::function<const char*(const char*)>;

// `text` is "I/N" or "auto". "auto" reads, in this order, the first scheduler whose variables are set:
//   Slurm array:  SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, and for sparse arrays
//                 SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP (shard = (ID - MIN) / STEP + 1);
//   Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based), with the count from `count_option`;
//   GitLab CI parallel:     CI_NODE_INDEX, CI_NODE_TOTAL (1-based).
// `count_option` (--shard-count; 0 = not given) is needed for Kubernetes and must agree with the
// count the other schedulers give. A missing or inconsistent environment throws InvalidInput.
Shard resolve_shard(const std::string& text, int count_option, const EnvLookup& env);

// The "shard" a results file (the --json of regress or fuse --batch) records as Shard::label(),
// "I/N"; nullopt when it records none. Throws InvalidInput naming `file` for anything else.
std::optional<Shard> recorded_shard(const nlohmann::json& results, const std::string& file);

// What a merge finds about the shards of its files (file name, recorded shard): the split N they
// share (0 when none records one) and, as lines for the user, a shard in two files and each of the
// N with no file. Files of different splits throw InvalidInput.
struct ShardCoverage {
  int count = 0;
  std::vector<std::string> problems;
};
ShardCoverage check_shard_coverage(const std::vector<std::pair<std::string, std::optional<Shard>>>& files);

}  // namespace dualcam::regress
