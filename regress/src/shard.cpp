#include "dualcam/regress/shard.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "dualcam/engine/error.hpp"

namespace dualcam::regress {
namespace {

constexpr long kMaxShards = 100000;

// A whole decimal number, or throws naming the variable.
long parse_whole(const std::string& name, const char* value) {
  const std::string v = value;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE || n < 0 || n > 100000000)
    throw_invalid("--shard auto: " + name + "='" + v + "' is not a whole number");
  return n;
}

Shard checked(long index, long count, std::string source) {
  if (count < 1 || count > kMaxShards)
    throw_invalid("--shard: the shard count must be in [1, " + std::to_string(kMaxShards) + "], got " +
                  std::to_string(count) + " (" + source + ")");
  if (index < 1 || index > count)
    throw_invalid("--shard: shard " + std::to_string(index) + " of " + std::to_string(count) +
                  " is out of range (" + source + ")");
  return {int(index), int(count), std::move(source)};
}

Shard from_slurm(const EnvLookup& env) {
  const char* id = env("SLURM_ARRAY_TASK_ID");
  const char* count = env("SLURM_ARRAY_TASK_COUNT");
  if (!count)
    throw_invalid("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm sets both for array jobs)");
  const char* min = env("SLURM_ARRAY_TASK_MIN");
  const char* step = env("SLURM_ARRAY_TASK_STEP");
  const long i = parse_whole("SLURM_ARRAY_TASK_ID", id);
  const long n = parse_whole("SLURM_ARRAY_TASK_COUNT", count);
  const long lo = min ? parse_whole("SLURM_ARRAY_TASK_MIN", min) : 0;
  const long s = step ? parse_whole("SLURM_ARRAY_TASK_STEP", step) : 1;
  std::string source = "SLURM_ARRAY_TASK_ID=" + std::to_string(i) + " of SLURM_ARRAY_TASK_COUNT=" + std::to_string(n);
  if (min) source += ", MIN=" + std::to_string(lo);
  if (step) source += ", STEP=" + std::to_string(s);
  if (s < 1) throw_invalid("--shard auto: SLURM_ARRAY_TASK_STEP must be at least 1 (" + source + ")");
  if (i < lo || (i - lo) % s != 0)
    throw_invalid("--shard auto: the task ID is not on the array's grid MIN + k*STEP (" + source +
                  "); arrays with irregular IDs (e.g. --array=1,4,9) need --shard I/N");
  return checked((i - lo) / s + 1, n, source);
}

}  // namespace

Shard resolve_shard(const std::string& text, int count_option, const EnvLookup& env) {
  if (count_option < 0 || count_option > kMaxShards)
    throw_invalid("--shard-count must be in [1, " + std::to_string(kMaxShards) + "], got " + std::to_string(count_option));
  if (text != "auto") {
    long i = 0, n = 0;
    char slash = 0, tail = 0;
    if (std::sscanf(text.c_str(), "%ld%c%ld%c", &i, &slash, &n, &tail) != 3 || slash != '/')
      throw_invalid("--shard must be I/N (e.g. 2/4: the second of four shards) or auto, got '" + text + "'");
    if (count_option != 0 && count_option != n)
      throw_invalid("--shard " + text + " disagrees with --shard-count " + std::to_string(count_option));
    return checked(i, n, text);
  }
  Shard s;
  if (env("SLURM_ARRAY_TASK_ID")) {
    s = from_slurm(env);
  } else if (const char* k = env("JOB_COMPLETION_INDEX")) {
    if (count_option == 0)
      throw_invalid("--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the job's completions "
                    "are not; give them with --shard-count N");
    const long i = parse_whole("JOB_COMPLETION_INDEX", k);
    return checked(i + 1, count_option, "JOB_COMPLETION_INDEX=" + std::to_string(i) + " of --shard-count " +
                                            std::to_string(count_option));
  } else if (const char* g = env("CI_NODE_INDEX")) {
    const char* total = env("CI_NODE_TOTAL");
    if (!total) throw_invalid("--shard auto: CI_NODE_INDEX is set but CI_NODE_TOTAL is not");
    const long i = parse_whole("CI_NODE_INDEX", g), n = parse_whole("CI_NODE_TOTAL", total);
    s = checked(i, n, "CI_NODE_INDEX=" + std::to_string(i) + " of CI_NODE_TOTAL=" + std::to_string(n));
  } else {
    throw_invalid("--shard auto: no scheduler's shard variables are set (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX "
                  "or CI_NODE_INDEX); run it inside an array job or give --shard I/N");
  }
  if (count_option != 0 && count_option != s.count)
    throw_invalid("--shard auto: " + s.source + " disagrees with --shard-count " + std::to_string(count_option));
  return s;
}

std::optional<Shard> recorded_shard(const nlohmann::json& results, const std::string& file) {
  if (!results.is_object() || !results.contains("shard")) return std::nullopt;
  const nlohmann::json& label = results["shard"];
  int i = 0, n = 0;
  char slash = 0, tail = 0;
  if (!label.is_string() || std::sscanf(label.get<std::string>().c_str(), "%d%c%d%c", &i, &slash, &n, &tail) != 3 ||
      slash != '/' || n < 1 || n > kMaxShards || i < 1 || i > n)
    throw_invalid(file + ": 'shard' must be \"I/N\" with 1 <= I <= N, got " + label.dump());
  return Shard{i, n, label.get<std::string>()};
}

ShardCoverage check_shard_coverage(const std::vector<std::pair<std::string, std::optional<Shard>>>& files) {
  ShardCoverage out;
  std::map<int, std::string> file_of;
  for (const auto& [file, shard] : files) {
    if (!shard) continue;
    if (out.count != 0 && shard->count != out.count)
      throw_invalid(file + ": shard " + shard->label() + " is of another split than the other files' " +
                    std::to_string(out.count));
    out.count = shard->count;
    if (const auto [it, fresh] = file_of.emplace(shard->index, file); !fresh)
      out.problems.push_back("shard " + shard->label() + " is in both " + it->second + " and " + file);
  }
  for (int i = 1; i <= out.count; ++i)
    if (!file_of.count(i))
      out.problems.push_back("MISSING shard " + Shard{i, out.count, ""}.label() +
                             ": no results file (the task failed or was killed before writing --json)");
  return out;
}

}  // namespace dualcam::regress
