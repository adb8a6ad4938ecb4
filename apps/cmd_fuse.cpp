// dualcam fuse / dualcam depth: align a colour + mono pair and merge it, or write its disparity.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include <malloc.h>

#include "common.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/progress.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/engine/visualize.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/regress/shard.hpp"

namespace dualcam::app {
namespace {

struct PairOptions {
  std::string mono, color, rig, reference = "color", matcher = "census";
  std::string raw_layout;
  bool rectified = false;
  int max_disparity = 0;
  CommonOptions common;
};

// `pair_required`: false for `fuse`, whose --batch replaces --mono and --color.
void add_pair_options(CLI::App* app, PairOptions& o, bool pair_required = true) {
  app->add_option("--mono", o.mono, "mono camera image (PNG/JPEG/TIFF, 8 or 16 bit) or raw frame (DNG, camera raw, .raw)")->required(pair_required);
  app->add_option("--color,--colour", o.color, "colour camera image (PNG/JPEG/TIFF, 8 or 16 bit) or raw frame (DNG, camera raw, .raw)")
      ->required(pair_required);
  auto* rig = app->add_option("--rig", o.rig,
                              "rig file (OpenCV YAML: M1 D1 M2 D2 R T size1 size2), or 'auto' to estimate the "
                              "alignment from the pair itself");
  auto* rect = app->add_flag("--rectified", o.rectified, "the pair is already rectified, mono on the left");
  rig->excludes(rect);
  app->add_option("--reference", o.reference, "view of the output: color (default) or mono")
      ->check(CLI::IsMember({"color", "colour", "mono"}));
  app->add_option("--matcher", o.matcher, "stereo matcher: census (default, census + SGM) or sgbm (OpenCV's, for comparison)")
      ->check(CLI::IsMember({"census", "sgbm"}));
  app->add_option("--max-disparity", o.max_disparity, "largest disparity searched, px (0 = a quarter of the width)")
      ->check(CLI::Range(0, 4096));
  add_raw_layout_option(app, o.raw_layout);
  add_common_options(app, o.common);
}

struct LoadedPair {
  CameraPair images;
  std::optional<StereoRig> rig;
  fusion::FuseOptions options;
  // fusion::fuse_input(images): a raw frame's linear signal and its noise model, made once.
  fusion::FuseInput prepared;
  fusion::FuseInput input() const {
    fusion::FuseInput in = prepared;
    in.rig = rig ? &*rig : nullptr;
    return in;
  }
};

fusion::FuseOptions fuse_options(const PairOptions& o) {
  if (o.rig.empty() && !o.rectified)
    throw_invalid("give the rig with --rig RIG.yaml (or --rig auto), or --rectified for a rectified pair");
  fusion::FuseOptions options;
  options.reference = fusion::parse_reference(o.reference);
  options.rectified = o.rectified;
  options.match.max_disparity = o.max_disparity;
  options.match.kind = fusion::parse_matcher(o.matcher);
  options.auto_rig = o.rig == "auto";
  return options;
}

// The rig file named by --rig, if any (not for --rig auto or --rectified).
std::optional<StereoRig> rig_file(const PairOptions& o) {
  if (o.rig.empty() || o.rig == "auto") return std::nullopt;
  return read_rig(o.rig);
}

InputOptions input_options(const PairOptions& o) {
  InputOptions io;
  io.max_pixels = o.common.max_pixels;
  io.raw = raw_layouts(o.raw_layout);
  return io;
}

// engine/inputs.hpp's rules, then the sizes against the rig (fusion::validate_input).
LoadedPair load_pair(const InputOptions& inputs, const std::string& mono_path, const std::string& color_path,
                     const fusion::FuseOptions& options, const std::optional<StereoRig>& rig) {
  LoadedPair p;
  p.options = options;
  p.images = read_camera_pair(mono_path, color_path, inputs);
  p.prepared = fusion::fuse_input(p.images, nullptr, inputs);
  p.rig = rig;
  fusion::validate_input(p.input(), p.options);
  return p;
}

LoadedPair load_pair(const PairOptions& o) {
  if (o.mono.empty() || o.color.empty()) throw_invalid("give the pair with --mono and --color (or a list with --batch)");
  const fusion::FuseOptions options = fuse_options(o);
  return load_pair(input_options(o), o.mono, o.color, options, rig_file(o));
}

// The report's description of the inputs.
Json inputs_json(const PairOptions& o, const LoadedPair& p) {
  Json j = {{"mono", o.mono}, {"color", o.color}, {"rig", o.rig}};
  if (p.images.mono_conversion.from_rgb) j["mono_from_rgb"] = p.images.mono_conversion.to_json();
  if (!p.images.raw_frames.is_null()) j["raw_frames"] = p.images.raw_frames;
  return j;
}

// ---- fuse --batch ----

struct BatchJob {
  int line = 0;  // line of the list, from 1
  std::string mono, color, output;
};

// Splits a list line into fields: whitespace separates, "double quotes" keep spaces in a path, and
// a # that starts a field starts a comment.
std::vector<std::string> split_fields(const std::string& line, const std::string& where) {
  std::vector<std::string> fields;
  std::string cur;
  bool in_field = false, quoted = false;
  for (char c : line) {
    if (quoted) {
      if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') {
      quoted = in_field = true;
    } else if (c == '#' && !in_field) {
      break;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_field) fields.push_back(cur);
      cur.clear();
      in_field = false;
    } else {
      cur += c;
      in_field = true;
    }
  }
  if (quoted) throw_invalid(where + ": a quote is not closed");
  if (in_field) fields.push_back(cur);
  return fields;
}

// Reads the whole list before any work: a list that makes no sense is refused at once.
std::vector<BatchJob> read_batch_list(const std::string& list_path, const std::string& out_dir, bool check_outputs = true) {
  namespace fs = std::filesystem;
  std::ifstream in(list_path);
  if (!in) throw_io("cannot read the batch list '" + list_path + "'");
  const fs::path base = fs::path(list_path).parent_path();
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (base / p).string(); };
  std::vector<BatchJob> jobs;
  std::map<std::string, int> output_line;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = list_path + " line " + std::to_string(n);
    const std::vector<std::string> f = split_fields(line, where);
    if (f.empty()) continue;
    if (f.size() < 2 || f.size() > 3)
      throw_invalid(where + ": expected 'MONO COLOR [OUTPUT]', got " + std::to_string(f.size()) + " field(s)");
    BatchJob job{n, resolve(f[0]), resolve(f[1]), ""};
    const std::string name = f.size() == 3 ? f[2] : fs::path(f[1]).stem().string() + "_fused.png";
    job.output = fs::path(name).is_absolute() ? name : (fs::path(out_dir) / name).string();
    if (const auto [it, inserted] = output_line.emplace(fs::weakly_canonical(job.output).string(), n); !inserted)
      throw_invalid(where + ": writes '" + job.output + "' as line " + std::to_string(it->second) +
                    " does; give the output name as a third field");
    if (check_outputs) check_output_path(job.output);
    jobs.push_back(std::move(job));
  }
  if (in.bad()) throw_io("cannot read the batch list '" + list_path + "'");
  if (jobs.empty()) throw_invalid("the batch list '" + list_path + "' names no pairs");
  return jobs;
}

double mib(long long bytes) { return double(bytes) / (1024.0 * 1024.0); }

// Fuses every pair of the list; a pair that fails is reported and skipped. Returns the exit code:
// 0 when every pair was fused, otherwise the first failure's.
int run_fuse_batch(const PairOptions& o, const std::string& list_path, const std::string& out_dir,
                   const std::optional<regress::Shard>& shard) {
  const fusion::FuseOptions options = fuse_options(o);
  const std::optional<StereoRig> rig = rig_file(o);  // one module: an unreadable rig stops the batch here
  const InputOptions inputs = input_options(o);       // likewise an unreadable --raw-layout
  std::vector<BatchJob> jobs = read_batch_list(list_path, out_dir);
  if (shard) {
    std::vector<BatchJob> mine;
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (shard->takes(i)) mine.push_back(std::move(jobs[i]));
    if (mine.empty())
      throw_invalid("shard " + shard->source + " takes no pair of the " + std::to_string(jobs.size()) + " in '" +
                    list_path + "'");
    jobs = std::move(mine);
  }
  check_outputs({o.common.json_path});
  ThreadScope threads(o.common.threads);
  Stopwatch total;
  const long long rss_start = current_rss_bytes();
  std::fprintf(stderr, "dualcam fuse: batch of %zu pairs from %s%s, RSS %.0f MiB at the start\n", jobs.size(),
               list_path.c_str(), shard ? (" (shard " + shard->source + ")").c_str() : "", mib(rss_start));
  nlohmann::json records = nlohmann::json::array();
  int first_failure = 0;
  std::vector<int> failed_lines;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const BatchJob& job = jobs[i];
    Stopwatch clock;
    nlohmann::json rec = {{"line", job.line}, {"mono", job.mono}, {"color", job.color}, {"output", job.output}};
    try {
      LoadedPair pair = load_pair(inputs, job.mono, job.color, options, rig);
      fusion::FuseResult res = threads.run([&] { return fusion::fuse(pair.input(), pair.options, nullptr); });
      write_image(job.output, to_srgb(res.image, pair.images.color.depth()));
      rec["ok"] = true;
    } catch (...) {
      const Failure f = describe_current_exception();
      if (first_failure == 0) first_failure = f.exit_code;
      failed_lines.push_back(job.line);
      rec["ok"] = false;
      rec["error"] = f.message;
      std::fprintf(stderr, "dualcam fuse: [%zu/%zu] line %d FAILED: %s\n", i + 1, jobs.size(), job.line,
                   f.message.c_str());
    }
    malloc_trim(0);  // give freed image buffers back, so the resident size stays flat over long lists
    const long long rss = current_rss_bytes();
    rec["seconds"] = clock.seconds();
    rec["rss_bytes"] = rss;
    if (rec["ok"])
      std::fprintf(stderr, "dualcam fuse: [%zu/%zu] wrote %s in %.2f s, RSS %.0f MiB\n", i + 1, jobs.size(),
                   job.output.c_str(), clock.seconds(), mib(rss));
    records.push_back(std::move(rec));
  }
  const long long rss_end = current_rss_bytes();
  std::string lines;
  for (int l : failed_lines) lines += (lines.empty() ? "" : ", ") + std::to_string(l);
  std::fprintf(stderr,
               "dualcam fuse: batch done in %.1f s: %zu of %zu pairs fused, %zu failed%s; RSS %.0f MiB at the start, "
               "%.0f MiB at the end, peak %.0f MiB\n",
               total.seconds(), jobs.size() - failed_lines.size(), jobs.size(), failed_lines.size(),
               lines.empty() ? "" : (" (lines " + lines + ")").c_str(), mib(rss_start), mib(rss_end),
               mib(peak_rss_bytes()));
  if (!o.common.json_path.empty()) {
    RunReport report("fuse");
    report.json()["batch"] = list_path;
    if (shard) {
      report.json()["shard"] = shard->label();
      report.json()["shard_source"] = shard->source;
    }
    report.json()["pairs"] = records;
    report.json()["failed"] = failed_lines.size();
    report.json()["threads"] = threads.threads();
    report.json()["total_s"] = total.seconds();
    report.json()["rss_start_bytes"] = rss_start;
    report.json()["rss_end_bytes"] = rss_end;
    report.json()["peak_rss_bytes"] = peak_rss_bytes();
    report.write(o.common.json_path);
  }
  return first_failure;
}

// Joins the --json records of a batch's shards (fuse --batch LIST --merge A.json B.json ...): every
// pair of the list once. Names a pair no file reports (with the shard that should have), a pair or
// shard in two files and a shard of the N the files declare with no file; exit 3 when any of these
// or a failed pair is found.
int merge_batch_results(const std::string& list_path, const std::vector<std::string>& files, const std::string& json_path) {
  const std::vector<BatchJob> jobs = read_batch_list(list_path, ".", false);
  check_outputs({json_path});
  std::map<int, std::size_t> position;  // list line -> position among the pairs
  for (std::size_t i = 0; i < jobs.size(); ++i) position[jobs[i].line] = i;
  std::map<int, std::pair<nlohmann::json, std::string>> reported;  // line -> record, file
  std::vector<std::pair<std::string, std::optional<regress::Shard>>> shards;
  std::vector<std::string> problems;
  for (const auto& file : files) {
    const nlohmann::json j = read_json_file(file);
    if (!j.is_object() || !j.contains("pairs") || !j["pairs"].is_array())
      throw_invalid(file + ": not the --json of a fuse --batch run (no 'pairs')");
    shards.emplace_back(file, regress::recorded_shard(j, file));
    for (const auto& rec : j["pairs"]) {
      if (!rec.is_object() || !rec.contains("line") || !rec["line"].is_number_integer() || !rec.contains("ok"))
        throw_invalid(file + ": a pair record without 'line' and 'ok'");
      const int line = rec["line"].get<int>();
      if (!position.count(line)) throw_invalid(file + ": line " + std::to_string(line) + " is not a pair of '" + list_path + "'");
      if (const auto [it, fresh] = reported.emplace(line, std::make_pair(rec, file)); !fresh)
        problems.push_back("DUPLICATE pair at line " + std::to_string(line) + ": reported by " + it->second.second + " and " + file);
    }
  }
  const regress::ShardCoverage coverage = regress::check_shard_coverage(shards);
  const int count = coverage.count;
  problems.insert(problems.begin(), coverage.problems.begin(), coverage.problems.end());
  nlohmann::json pairs = nlohmann::json::array();
  std::vector<int> missing;
  int failed = 0;
  for (const BatchJob& job : jobs) {
    const auto it = reported.find(job.line);
    if (it == reported.end()) {
      missing.push_back(job.line);
      problems.push_back("MISSING pair at line " + std::to_string(job.line) + " (" + job.color + "): no file reports it" +
                         (count ? " (shard " + std::to_string(position[job.line] % std::size_t(count) + 1) + "/" +
                                      std::to_string(count) + ")"
                                : std::string()));
      continue;
    }
    if (it->second.first["ok"] != true) {
      ++failed;
      std::printf("FAILED pair at line %d: %s\n", job.line, it->second.first.value("error", std::string("?")).c_str());
    }
    pairs.push_back(it->second.first);
  }
  for (const auto& p : problems) std::printf("%s\n", p.c_str());
  std::printf("fuse batch merge: %zu pairs in %s: %zu reported, %d failed, %zu missing, %zu problem(s)\n", jobs.size(),
              list_path.c_str(), pairs.size(), failed, missing.size(), problems.size());
  if (!json_path.empty()) {
    RunReport report("fuse");
    report.json()["batch"] = list_path;
    report.json()["merged"] = files;
    report.json()["pairs"] = pairs;
    report.json()["failed"] = failed;
    report.json()["missing_lines"] = missing;
    report.json()["merge_problems"] = problems;
    report.write(json_path);
  }
  return problems.empty() && failed == 0 ? 0 : 3;
}

void write_depth_outputs(const cv::Mat& disparity, const std::string& pfm, const std::string& preview) {
  if (!pfm.empty()) write_pfm(pfm, disparity);
  if (!preview.empty()) write_image(preview, colorize_disparity(disparity));
}

}  // namespace

Command register_fuse(CLI::App& root) {
  auto o = std::make_shared<PairOptions>();
  auto out = std::make_shared<std::string>();
  auto disp_out = std::make_shared<std::string>();
  auto weight_out = std::make_shared<std::string>();
  auto confidence_out = std::make_shared<std::string>();
  auto batch = std::make_shared<std::string>();
  auto out_dir = std::make_shared<std::string>();
  auto shard = std::make_shared<std::string>();
  auto shard_count = std::make_shared<int>(0);
  auto merge = std::make_shared<std::vector<std::string>>();
  auto embed_depth = std::make_shared<bool>(false);
  CLI::App* app = root.add_subcommand("fuse", "merge a colour + mono pair (or a list of pairs) into colour images");
  add_pair_options(app, *o, false);
  auto* output = app->add_option("-o,--output", *out, "fused image (PNG/JPEG/TIFF; same bit depth as the colour input)");
  auto* disp = app->add_option("--disparity-out", *disp_out, "also write the reference view's disparity (PFM)");
  auto* weights = app->add_option("--weights-out", *weight_out,
                                  "also write the blend-weight map (grey PNG: white = the other view's image used, "
                                  "black = not)");
  auto* confidence = app->add_option("--confidence-out", *confidence_out,
                                     "also write the matcher's confidence at the output's view (colour PNG, Viridis on "
                                     "[0,1]: yellow = confident, green = fair, dark blue = doubtful, black = unknown: "
                                     "occluded or rejected)");
  auto* embed = app->add_flag("--embed-depth", *embed_depth,
                              "write -o as a depth photo: a JPEG carrying the disparity as Google's GDepth XMP "
                              "(RangeInverse PNG, near/far in the rig's units, the confidence), docs/bokeh.md");
  auto* list = app->add_option("--batch", *batch,
                               "fuse every pair of a list instead: one pair per line, 'MONO COLOR [OUTPUT]' (paths "
                               "relative to the list's folder, \"quotes\" around paths with spaces, # comments); "
                               "a pair that fails is reported and skipped, and the exit code is non-zero at the end");
  auto* dir = app->add_option("--out-dir", *out_dir,
                              "with --batch: folder of the outputs, named COLOR-STEM_fused.png unless the line names one");
  auto* shard_opt = app->add_option("--shard", *shard,
                                    "with --batch: fuse only shard I of N (the pairs at positions I-1, I-1+N, ... of "
                                    "the list); 'auto' reads it from a Slurm array job, a Kubernetes Indexed Job (with "
                                    "--shard-count) or GitLab's parallel jobs");
  auto* count_opt = app->add_option("--shard-count", *shard_count,
                                    "the number of shards, for --shard auto where the scheduler does not say it")
                        ->check(CLI::Range(1, 100000));
  auto* merge_opt = app->add_option("--merge", *merge,
                                    "with --batch: join these shards' --json records instead of fusing (every pair "
                                    "once; names the pairs and shards no file reports; exit 3 for them or a failed pair)")
                        ->expected(1, -1);
  merge_opt->needs(list)->excludes(dir)->excludes(shard_opt);
  shard_opt->needs(list);
  count_opt->needs(shard_opt);
  list->excludes(output)->excludes(embed)->excludes(disp)->excludes(weights)->excludes(confidence)->excludes("--mono")->excludes("--color");
  dir->needs(list);
  app->footer(example("dualcam fuse --mono mono.png --color color.png --rig rig.yaml -o fused.png --disparity-out d.pfm\n"
                      "  dualcam fuse --mono mono.png --color color.png --rig rig.yaml -o fused.png --weights-out w.png "
                      "--confidence-out c.png\n"
                      "  dualcam fuse --batch pairs.txt --out-dir fused/ --rig rig.yaml --json batch.json"));
  Action action = [o, out, disp_out, weight_out, confidence_out, batch, out_dir, shard, shard_count, merge, embed_depth]() {
    if (!merge->empty()) return merge_batch_results(*batch, *merge, o->common.json_path);
    if (!batch->empty()) {
      if (out_dir->empty()) throw_invalid("with --batch, name the output folder with --out-dir DIR");
      std::optional<regress::Shard> s;
      if (!shard->empty()) s = regress::resolve_shard(*shard, *shard_count, [](const char* n) { return std::getenv(n); });
      return run_fuse_batch(*o, *batch, *out_dir, s);
    }
    if (out->empty()) throw_invalid("name the fused image with -o OUT.png");
    if (*embed_depth) check_embed_depth_output(*out);
    check_outputs({*out, *disp_out, *weight_out, *confidence_out, o->common.json_path});
    ThreadScope threads(o->common.threads);
    Stopwatch total;
    LoadedPair pair = load_pair(*o);
    Progress progress("fuse", 4);
    RunReport report("fuse");
    fusion::FuseResult res = threads.run([&] { return fusion::fuse(pair.input(), pair.options, &progress); });
    progress.finish();
    Stopwatch write_clock;
    if (*embed_depth) {
      DepthJpeg dj;
      dj.primary_linear = res.image;
      dj.disparity = res.disparity;
      dj.confidence = res.confidence;
      dj.disparity_scale = rig_disparity_scale(pair.rig ? &*pair.rig : nullptr,
                                               pair.options.reference == fusion::Reference::Mono);
      write_depth_jpeg(*out, dj);
    } else {
      write_image(*out, to_srgb(res.image, pair.images.color.depth()));
    }
    const double write_s = write_clock.seconds();
    if (!disp_out->empty()) write_pfm(*disp_out, res.disparity);
    if (!weight_out->empty()) write_image(*weight_out, weight_to_u8(res.weight));
    if (!confidence_out->empty()) write_image(*confidence_out, colorize_confidence(res.confidence));
    if (!o->common.json_path.empty()) {
      report.json()["inputs"] = inputs_json(*o, pair);
      report.json()["reference"] = fusion::to_string(pair.options.reference);
      report.json()["matcher"] = fusion::to_string(pair.options.match.kind);
      report.json()["threads"] = threads.threads();
      report.json()["stats"] = res.stats.to_json();
      report.json()["write_s"] = write_s;
      report.json()["embed_depth"] = *embed_depth;
      report.json()["total_s"] = total.seconds();
      report.json()["peak_rss_bytes"] = peak_rss_bytes();
      report.write(o->common.json_path);
    }
    std::fprintf(stderr, "dualcam fuse: wrote %s (%dx%d, reference %s) in %.2f s\n", out->c_str(), res.image.cols,
                 res.image.rows, fusion::to_string(pair.options.reference), total.seconds());
    return 0;
  };
  return {app, action};
}

Command register_depth(CLI::App& root) {
  auto o = std::make_shared<PairOptions>();
  auto out = std::make_shared<std::string>();
  auto preview = std::make_shared<std::string>();
  CLI::App* app = root.add_subcommand("depth", "disparity of the reference view of a colour + mono pair");
  add_pair_options(app, *o);
  app->add_option("-o,--output", *out, "disparity (PFM, pixels, NaN = unknown)")->required();
  app->add_option("--preview", *preview, "colour-mapped preview PNG (default: next to the PFM, .png)");
  app->footer(example("dualcam depth --mono mono.png --color color.png --rig rig.yaml -o disparity.pfm\n"
                      "  dualcam depth --mono mono.png --color color.png --rig auto -o disparity.pfm --json report.json"));
  Action action = [o, out, preview]() {
    if (lower_extension(*out) != "pfm") throw_invalid("dualcam depth writes PFM: the output '" + *out + "' must end in .pfm");
    const std::string preview_path = preview->empty() ? replace_extension(*out, ".png") : *preview;
    check_outputs({*out, preview_path, o->common.json_path});
    ThreadScope threads(o->common.threads);
    Stopwatch total;
    LoadedPair pair = load_pair(*o);
    Progress progress("depth", 2);
    fusion::DepthResult res = threads.run([&] { return fusion::compute_depth(pair.input(), pair.options, &progress); });
    progress.finish();
    write_depth_outputs(res.disparity, *out, preview_path);
    if (!o->common.json_path.empty()) {
      RunReport report("depth");
      report.json()["inputs"] = inputs_json(*o, pair);
      report.json()["matcher"] = fusion::to_string(pair.options.match.kind);
      report.json()["stats"] = res.stats.to_json();
      report.json()["threads"] = threads.threads();
      report.json()["total_s"] = total.seconds();
      report.json()["peak_rss_bytes"] = peak_rss_bytes();
      report.write(o->common.json_path);
    }
    std::fprintf(stderr, "dualcam depth: wrote %s and %s in %.2f s\n", out->c_str(), preview_path.c_str(),
                 total.seconds());
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
