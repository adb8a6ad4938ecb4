#include "dualcam/regress/manifest.hpp"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>

#include "dualcam/datasets/recipe.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/strict_json.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dualcam::regress {

const char* to_string(Command command) {
  switch (command) {
    case Command::Fuse: return "fuse";
    case Command::Depth: return "depth";
    case Command::Bokeh: return "bokeh";
    case Command::Calibrate: return "calibrate";
  }
  return "?";
}

const char* to_string(OutputKind kind) {
  switch (kind) {
    case OutputKind::Image: return "image";
    case OutputKind::Disparity: return "disparity";
    case OutputKind::Rig: return "rig";
  }
  return "?";
}

namespace {

using strict_json::check_keys;
using strict_json::find;
using strict_json::get_bool;
using strict_json::get_choice;
using strict_json::get_int;
using strict_json::get_number;
using strict_json::get_numbers;
using strict_json::get_size;
using strict_json::get_string;
using strict_json::type_name;
using strict_json::Where;

// Where a value sits, for the one-line error: "manifest.json: case 'x': outputs.image.golden".
Where where_in(const std::string& manifest, const std::string& case_name = "") {
  return {case_name.empty() ? manifest : manifest + ": case '" + case_name + "'", ""};
}

// A path relative to the manifest's folder; checked to exist as a regular file when asked.
std::string get_path(const json& v, const Where& w, const std::string& dir, bool must_exist, std::string* text = nullptr) {
  const std::string s = get_string(v, w);
  if (s.find('\0') != std::string::npos) w.fail("contains a NUL character");
  const fs::path p = fs::path(s).is_absolute() ? fs::path(s) : fs::path(dir) / s;
  if (text) *text = s;
  if (must_exist) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      throw Error(ErrorCategory::IO, w.text() + ": file '" + p.lexically_normal().string() + "' does not exist");
  }
  return p.lexically_normal().string();
}

void check_name(const std::string& name, const Where& w) {
  if (name.size() > 100) w.fail("a case name has at most 100 characters");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      w.fail("'" + name + "' may hold only letters, digits, '-', '_' and '.' (it names files in reports)");
}

// The simulator's own recipe parser checks it (datasets/recipe.hpp): the manifest takes what
// `dualcam simulate` takes.
SimulateRecipe parse_simulate(const json& v, const Where& w) {
  datasets::simulate_options_from_recipe(v, w);
  return {v};
}

BoardSimRecipe parse_board_sim(const json& v, const Where& w) {
  check_keys(v, w, {"seed", "views", "mono_size", "color_size", "noise"});
  BoardSimRecipe r;
  if (auto* x = find(v, "seed")) r.seed = std::uint32_t(get_int(*x, w.at("seed"), 0, 4294967295LL));
  if (auto* x = find(v, "views")) r.views = int(get_int(*x, w.at("views"), 2, 200));
  if (auto* x = find(v, "mono_size")) std::tie(r.mono_width, r.mono_height) = get_size(*x, w.at("mono_size"), 64, 8192);
  if (auto* x = find(v, "color_size")) std::tie(r.color_width, r.color_height) = get_size(*x, w.at("color_size"), 64, 8192);
  if (auto* x = find(v, "noise")) r.noise = get_bool(*x, w.at("noise"));
  return r;
}

void parse_inputs(const json& v, const Where& w, Case& c, const std::string& dir, bool check) {
  CaseInputs& in = c.inputs;
  if (c.command == Command::Calibrate) {
    check_keys(v, w, {"mono", "color", "board_sim", "raw_layout"});
    const bool files = find(v, "mono") || find(v, "color");
    if (files == bool(find(v, "board_sim"))) w.fail("give either mono and color (lists of files) or board_sim");
    if (files) {
      for (const char* key : {"mono", "color"}) {
        const json* list = find(v, key);
        if (!list) w.at(key).fail("missing (a list of image files)");
        if (!list->is_array() || list->empty()) w.at(key).fail("expected a non-empty array of file names");
        auto& out = std::string(key) == "mono" ? in.mono_files : in.color_files;
        for (std::size_t i = 0; i < list->size(); ++i) out.push_back(get_path((*list)[i], w.at(key).at(i), dir, check));
      }
      if (in.mono_files.size() != in.color_files.size())
        w.fail("mono lists " + std::to_string(in.mono_files.size()) + " files but color " +
               std::to_string(in.color_files.size()) + "; they are paired by order");
      if (auto* r = find(v, "raw_layout")) in.raw_layout = get_path(*r, w.at("raw_layout"), dir, check);
    } else {
      if (find(v, "raw_layout")) w.at("raw_layout").fail("is for files (mono and color lists), not board_sim");
      in.board_sim = parse_board_sim(v["board_sim"], w.at("board_sim"));
    }
    return;
  }
  check_keys(v, w, {"mono", "color", "rig", "rectified", "simulate", "image", "disparity", "raw_layout"});
  const bool sim = find(v, "simulate") != nullptr;
  const bool pair = find(v, "mono") || find(v, "color") || find(v, "rig") || find(v, "rectified");
  const bool image = find(v, "image") || find(v, "disparity");
  if (image && c.command != Command::Bokeh) w.fail("image and disparity inputs are for bokeh only");
  if (find(v, "raw_layout") && !pair) w.at("raw_layout").fail("is for mono and color files (headerless .raw frames)");
  if (int(sim) + int(pair) + int(image) != 1)
    w.fail(c.command == Command::Bokeh ? "give one of: simulate; mono, color and rig; image and disparity"
                                       : "give one of: simulate; mono, color and rig (or rectified)");
  if (sim) {
    in.simulate = parse_simulate(v["simulate"], w.at("simulate"));
  } else if (pair) {
    if (!find(v, "mono")) w.at("mono").fail("missing");
    if (!find(v, "color")) w.at("color").fail("missing");
    in.mono = get_path(v["mono"], w.at("mono"), dir, check);
    in.color = get_path(v["color"], w.at("color"), dir, check);
    if (auto* r = find(v, "rectified")) in.rectified = get_bool(*r, w.at("rectified"));
    if (auto* r = find(v, "raw_layout")) in.raw_layout = get_path(*r, w.at("raw_layout"), dir, check);
    if (auto* r = find(v, "rig")) {
      if (in.rectified) w.at("rig").fail("a rectified pair takes no rig");
      in.rig = get_path(*r, w.at("rig"), dir, check);
    } else if (!in.rectified) {
      w.at("rig").fail("missing (or set rectified: true for a rectified pair)");
    }
  } else {
    if (!find(v, "image")) w.at("image").fail("missing");
    if (!find(v, "disparity")) w.at("disparity").fail("missing");
    in.image = get_path(v["image"], w.at("image"), dir, check);
    in.disparity = get_path(v["disparity"], w.at("disparity"), dir, check);
  }
}

void parse_options(const json& v, const Where& w, Case& c) {
  CaseOptions& o = c.options;
  switch (c.command) {
    case Command::Fuse:
    case Command::Depth: check_keys(v, w, {"reference", "matcher", "max_disparity"}); break;
    case Command::Bokeh:
      check_keys(v, w, {"reference", "focus", "focus_disparity", "focus_window", "max_blur", "f_number",
                        "pixel_pitch_um", "aperture", "highlights", "refine_disparity"});
      break;
    case Command::Calibrate: check_keys(v, w, {"board", "fix", "min_views", "halves", "keep_all_views"}); break;
  }
  for (const auto& item : v.items()) {
    const std::string& k = item.key();
    const json& x = item.value();
    const Where wk = w.at(k);
    if (k == "reference") o.reference = get_choice(x, wk, {"color", "colour", "mono"});
    else if (k == "matcher") o.matcher = get_choice(x, wk, {"census", "sgbm"});
    else if (k == "max_disparity") o.max_disparity = int(get_int(x, wk, 0, 4096));
    else if (k == "focus") {
      if (!x.is_array() || x.size() != 2) wk.fail("expected [X, Y] in pixels");
      o.focus = std::make_pair(int(get_int(x[0], wk.at(0), 0, 100000)), int(get_int(x[1], wk.at(1), 0, 100000)));
    } else if (k == "focus_disparity") o.focus_disparity = get_number(x, wk, -1e5, 1e5);
    else if (k == "focus_window") o.focus_window = int(get_int(x, wk, 0, 100));
    else if (k == "max_blur") o.max_blur = get_number(x, wk, 0, 512);
    else if (k == "f_number") o.f_number = get_number(x, wk, 0.5, 64);
    else if (k == "pixel_pitch_um") o.pixel_pitch_um = get_number(x, wk, 0.1, 100);
    else if (k == "aperture") o.aperture = get_string(x, wk);
    else if (k == "highlights") o.highlights = get_number(x, wk, 1, 1000);
    else if (k == "refine_disparity") o.refine_disparity = int(get_int(x, wk, 0, 100));
    else if (k == "board") o.board = get_string(x, wk);
    else if (k == "fix") {
      if (!x.is_array()) wk.fail("expected an array of parameter names (e.g. [\"k3\"])");
      for (std::size_t i = 0; i < x.size(); ++i) o.fix.push_back(get_string(x[i], wk.at(i)));
    } else if (k == "min_views") o.min_views = int(get_int(x, wk, 2, 100000));
    else if (k == "halves") o.halves = get_bool(x, wk);
    else if (k == "keep_all_views") o.keep_all_views = get_bool(x, wk);
  }
  if (c.command == Command::Bokeh) {
    if (o.focus && o.focus_disparity) w.fail("give focus or focus_disparity, not both");
    if (!o.focus && !o.focus_disparity) w.at("focus").fail("missing: give focus [X, Y] or focus_disparity");
    if (o.max_blur && o.f_number) w.fail("give max_blur or f_number, not both");
    if (!o.max_blur && !o.f_number) w.at("max_blur").fail("missing: give max_blur or f_number");
    if (o.f_number && !c.inputs.simulate && c.inputs.rig.empty()) w.at("f_number").fail("needs a rig (or simulated inputs)");
  }
  if (c.command == Command::Calibrate && o.board.empty()) w.at("board").fail("missing (e.g. \"chessboard:9x6:25mm\")");
}

void parse_tolerance(const json& v, const Where& w, OutputSpec& out) {
  auto num = [&](const char* key, double lo, double hi) -> std::optional<double> {
    if (auto* x = find(v, key)) return get_number(*x, w.at(key), lo, hi);
    return std::nullopt;
  };
  switch (out.kind) {
    case OutputKind::Image: {
      check_keys(v, w, {"min_psnr_db", "min_ssim", "max_abs_diff", "max_differing_share"});
      out.image.min_psnr_db = num("min_psnr_db", 0, 200);
      out.image.min_ssim = num("min_ssim", -1, 1);
      if (auto* x = find(v, "max_abs_diff")) out.image.max_abs_diff = int(get_int(*x, w.at("max_abs_diff"), 0, 255));
      out.image.max_differing_share = num("max_differing_share", 0, 1);
      break;
    }
    case OutputKind::Disparity:
      check_keys(v, w, {"max_bad1", "max_bad2", "max_mae_px"});
      out.disparity.max_bad1 = num("max_bad1", 0, 1);
      out.disparity.max_bad2 = num("max_bad2", 0, 1);
      out.disparity.max_mae_px = num("max_mae_px", 0, 1e4);
      break;
    case OutputKind::Rig:
      check_keys(v, w, {"focal_pct", "principal_px", "distortion_abs", "rotation_deg", "baseline_pct"});
      out.rig.focal_pct = num("focal_pct", 0, 100);
      out.rig.principal_px = num("principal_px", 0, 1e4);
      out.rig.distortion_abs = num("distortion_abs", 0, 100);
      out.rig.rotation_deg = num("rotation_deg", 0, 180);
      out.rig.baseline_pct = num("baseline_pct", 0, 100);
      break;
  }
  if (v.empty()) w.fail("give at least one bound");
}

void parse_outputs(const json& v, const Where& w, Case& c, const std::string& dir, bool check) {
  std::vector<std::string> allowed;
  switch (c.command) {
    case Command::Fuse: allowed = {"image", "disparity"}; break;
    case Command::Depth: allowed = {"disparity"}; break;
    case Command::Bokeh: allowed = {"image"}; break;
    case Command::Calibrate: allowed = {"rig"}; break;
  }
  check_keys(v, w, allowed);
  if (v.empty()) w.fail("give at least one of the outputs");
  for (const auto& name : allowed) {  // a fixed order, whatever the file's
    const json* o = find(v, name);
    if (!o) continue;
    const Where wo = w.at(name);
    check_keys(*o, wo, {"golden", "tolerance"});
    OutputSpec out;
    out.name = name;
    out.kind = name == "image" ? OutputKind::Image : name == "disparity" ? OutputKind::Disparity : OutputKind::Rig;
    if (!find(*o, "golden")) wo.at("golden").fail("missing");
    if (!find(*o, "tolerance")) wo.at("tolerance").fail("missing");
    out.golden = get_path((*o)["golden"], wo.at("golden"), dir, check, &out.golden_text);
    const std::string ext = lower_extension(out.golden);
    const bool ok = out.kind == OutputKind::Image ? (ext == "png" || ext == "tif" || ext == "tiff")
                    : out.kind == OutputKind::Disparity ? ext == "pfm"
                                                         : (ext == "yaml" || ext == "yml");
    if (!ok)
      wo.at("golden").fail(out.kind == OutputKind::Image       ? "an image golden must be .png or .tif (lossless)"
                           : out.kind == OutputKind::Disparity ? "a disparity golden must be .pfm"
                                                               : "a rig golden must be .yaml or .yml");
    parse_tolerance((*o)["tolerance"], wo.at("tolerance"), out);
    c.outputs.push_back(out);
  }
}

}  // namespace

Manifest parse_manifest(const std::string& text, const std::string& path, const ManifestReadOptions& options) {
  Manifest m;
  m.path = path;
  m.dir = fs::path(path).parent_path().string();
  if (m.dir.empty()) m.dir = ".";
  const Where top = where_in(m.path);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    top.fail(std::string("not valid JSON: ") + e.what());
  }
  check_keys(root, top, {"dualcam_regress", "description", "cases"});
  const json* version = find(root, "dualcam_regress");
  if (!version) top.at("dualcam_regress").fail("missing (the format version, 1)");
  if (get_int(*version, top.at("dualcam_regress"), 1, 1) != 1) top.at("dualcam_regress").fail("unsupported version");
  if (auto* d = find(root, "description"); d && !d->is_string()) top.at("description").fail("expected a string");
  const json* cases = find(root, "cases");
  if (!cases) top.at("cases").fail("missing");
  if (!cases->is_array() || cases->empty()) top.at("cases").fail("expected a non-empty array of cases");
  std::set<std::string> names;
  for (std::size_t i = 0; i < cases->size(); ++i) {
    const json& cj = (*cases)[i];
    Where w = top.at("cases").at(i);
    if (!cj.is_object()) w.fail(std::string("expected an object, got ") + type_name(cj));
    const json* name = find(cj, "name");
    if (!name) w.at("name").fail("missing");
    Case c;
    c.name = get_string(*name, w.at("name"));
    check_name(c.name, w.at("name"));
    if (!names.insert(c.name).second) w.at("name").fail("'" + c.name + "' names two cases");
    w = where_in(m.path, c.name);
    check_keys(cj, w, {"name", "description", "command", "inputs", "options", "outputs"});
    if (auto* d = find(cj, "description")) c.description = get_string(*d, w.at("description"));
    const json* cmd = find(cj, "command");
    if (!cmd) w.at("command").fail("missing (fuse, depth, bokeh or calibrate)");
    const std::string command = get_choice(*cmd, w.at("command"), {"fuse", "depth", "bokeh", "calibrate"});
    c.command = command == "fuse" ? Command::Fuse : command == "depth" ? Command::Depth
                : command == "bokeh" ? Command::Bokeh : Command::Calibrate;
    const json* inputs = find(cj, "inputs");
    if (!inputs) w.at("inputs").fail("missing");
    parse_inputs(*inputs, w.at("inputs"), c, m.dir, options.check_inputs);
    parse_options(cj.contains("options") ? cj["options"] : json::object(), w.at("options"), c);
    const json* outputs = find(cj, "outputs");
    if (!outputs) w.at("outputs").fail("missing");
    parse_outputs(*outputs, w.at("outputs"), c, m.dir, options.check_goldens);
    c.source = cj;
    m.cases.push_back(std::move(c));
  }
  return m;
}

Manifest read_manifest(const std::string& path, const ManifestReadOptions& options) {
  const auto bytes = read_file_bytes(path);
  return parse_manifest(std::string(bytes.begin(), bytes.end()), path, options);
}

}  // namespace dualcam::regress
