#include "dualcam/datasets/middlebury.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"

namespace fs = std::filesystem;

namespace dualcam::datasets {

const char* to_string(MiddleburyLayout l) {
  switch (l) {
    case MiddleburyLayout::Y2005_2006: return "2005/2006";
    case MiddleburyLayout::Y2014: return "2014";
    case MiddleburyLayout::Index: return "index";
  }
  return "?";
}

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool parse_double(const std::string& text, double& out) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && std::isfinite(out);
}

std::string text_of(const std::string& path) {
  auto bytes = read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// "[f 0 cx; 0 f cy; 0 0 1]" (spaces anywhere around ';' and the brackets).
bool parse_matrix(const std::string& value, cv::Matx33d& m) {
  std::string v = trim(value);
  if (v.size() < 2 || v.front() != '[' || v.back() != ']') return false;
  v = v.substr(1, v.size() - 2);
  std::vector<std::string> rows;
  std::stringstream ss(v);
  std::string row;
  while (std::getline(ss, row, ';')) rows.push_back(row);
  if (rows.size() != 3) return false;
  for (int r = 0; r < 3; ++r) {
    std::stringstream rs(rows[r]);
    std::string tok;
    int c = 0;
    while (rs >> tok) {
      double x;
      if (c >= 3 || !parse_double(tok, x)) return false;
      m(r, c++) = x;
    }
    if (c != 3) return false;
  }
  return true;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

const std::vector<std::string> kFiles2005{"view1.png", "view5.png", "disp1.png"};
const std::vector<std::string> kFiles2014{"im0.png", "im1.png", "disp0GT.pfm", "calib.txt"};

// Whether `dir` holds any of a layout's files (then it is meant to be a scene of that layout).
bool looks_like(const fs::path& dir, const std::vector<std::string>& files) {
  for (const auto& f : files)
    if (is_file(dir / f)) return true;
  return false;
}

bool looks_like_scene(const fs::path& dir) {
  return looks_like(dir, kFiles2005) || looks_like(dir, kFiles2014) || is_file(dir / "disp0.pfm");
}

SceneSource scene_from_folder(const fs::path& dir, const FindScenesOptions& o) {
  SceneSource s;
  s.name = dir.filename().string();
  if (s.name.empty()) s.name = dir.parent_path().filename().string();
  auto require = [&](const std::string& file) {
    if (!is_file(dir / file))
      throw_invalid("scene '" + s.name + "' (" + dir.string() + ") is missing " + file);
    return (dir / file).string();
  };
  const bool is2014 = looks_like(dir, kFiles2014) || is_file(dir / "disp0.pfm");
  const bool is2005 = looks_like(dir, kFiles2005);
  if (is2014 && is2005)
    throw_invalid("scene '" + s.name + "' (" + dir.string() + ") mixes 2005/2006 files (view1.png ...) and 2014 files (im0.png ...)");
  if (is2005) {
    s.layout = MiddleburyLayout::Y2005_2006;
    s.left = require("view1.png");
    s.right = require("view5.png");
    s.disparity = require("disp1.png");
    s.disparity_divisor = o.divisor_2005_2006;
    return s;
  }
  s.layout = MiddleburyLayout::Y2014;
  s.left = require("im0.png");
  s.right = require("im1.png");
  s.disparity = is_file(dir / "disp0.pfm") && !is_file(dir / "disp0GT.pfm") ? (dir / "disp0.pfm").string()
                                                                             : require("disp0GT.pfm");
  s.calib = require("calib.txt");
  if (is_file(dir / "mask0nocc.png")) s.mask = (dir / "mask0nocc.png").string();
  return s;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (ch == '"') quoted = false;
      else cur += ch;
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else if (ch != '\r') {
      cur += ch;
    }
  }
  out.push_back(trim(cur));
  return out;
}

void sort_by_name(std::vector<SceneSource>& v) {
  std::sort(v.begin(), v.end(), [](const SceneSource& a, const SceneSource& b) { return a.name < b.name; });
}

}  // namespace

MiddleburyCalib parse_middlebury_calib(const std::string& text, const std::string& name) {
  MiddleburyCalib c;
  bool have_cam0 = false, have_cam1 = false;
  std::stringstream ss(text);
  std::string line;
  int lineno = 0;
  while (std::getline(ss, line)) {
    ++lineno;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto eq = t.find('=');
    const std::string where = name + " line " + std::to_string(lineno);
    if (eq == std::string::npos) throw_invalid(where + ": expected 'key=value', got '" + t + "'");
    const std::string key = trim(t.substr(0, eq)), value = trim(t.substr(eq + 1));
    if (key.empty()) throw_invalid(where + ": missing key before '='");
    if (key == "cam0" || key == "cam1") {
      cv::Matx33d m;
      if (!parse_matrix(value, m))
        throw_invalid(where + ": " + key + " must be a 3x3 matrix like [f 0 cx; 0 f cy; 0 0 1], got '" + value + "'");
      (key == "cam0" ? c.cam0 : c.cam1) = m;
      (key == "cam0" ? have_cam0 : have_cam1) = true;
      continue;
    }
    static const char* numeric[] = {"doffs", "baseline", "width", "height", "ndisp", "isint", "vmin", "vmax", "dyavg", "dymax"};
    if (std::find_if(std::begin(numeric), std::end(numeric), [&](const char* k) { return key == k; }) == std::end(numeric))
      continue;  // unknown keys are tolerated
    double x;
    if (!parse_double(value, x)) throw_invalid(where + ": " + key + " must be a number, got '" + value + "'");
    auto as_int = [&](int lo) {
      if (x != std::floor(x) || x < lo || x > 1e6)
        throw_invalid(where + ": " + key + " must be an integer >= " + std::to_string(lo) + ", got '" + value + "'");
      return int(x);
    };
    if (key == "doffs") c.doffs = x;
    else if (key == "baseline") c.baseline = x;
    else if (key == "width") c.width = as_int(1);
    else if (key == "height") c.height = as_int(1);
    else if (key == "ndisp") c.ndisp = as_int(1);
  }
  if (!have_cam0) throw_invalid(name + ": missing cam0");
  if (!have_cam1) throw_invalid(name + ": missing cam1");
  return c;
}

std::vector<SceneSource> read_scene_index(const std::string& csv_path) {
  const std::string text = text_of(csv_path);
  const fs::path base = fs::path(csv_path).parent_path();
  std::stringstream ss(text);
  std::string line;
  if (!std::getline(ss, line) || trim(line).empty()) throw_invalid("index '" + csv_path + "' is empty");
  const std::vector<std::string> header = split_csv_line(line);
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* req : {"scene", "left", "right", "disp_left"})
    if (!col.count(req)) throw_invalid("index '" + csv_path + "' has no column '" + req + "' in its first line");
  std::vector<SceneSource> out;
  int lineno = 1;
  while (std::getline(ss, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    const auto f = split_csv_line(line);
    const std::string where = "index '" + csv_path + "' line " + std::to_string(lineno);
    auto get = [&](const std::string& name) -> std::string {
      auto it = col.find(name);
      if (it == col.end() || it->second >= f.size()) return "";
      return f[it->second];
    };
    auto path_of = [&](const std::string& rel) { return rel.empty() ? rel : (base / rel).lexically_normal().string(); };
    SceneSource s;
    s.layout = MiddleburyLayout::Index;
    s.name = get("scene");
    if (s.name.empty()) throw_invalid(where + ": empty scene name");
    s.left = path_of(get("left"));
    s.right = path_of(get("right"));
    s.disparity = path_of(get("disp_left"));
    if (s.left.empty() || s.right.empty() || s.disparity.empty())
      throw_invalid(where + ": scene '" + s.name + "' needs left, right and disp_left paths");
    const std::string enc = get("disp_encoding");
    const bool pfm = enc == "pfm" || (enc.empty() && lower_extension(s.disparity) == "pfm");
    if (!pfm) {
      if (!enc.empty() && enc != "png8" && enc != "png16")
        throw_invalid(where + ": unknown disp_encoding '" + enc + "' (expected png8, png16 or pfm)");
      double v;
      const std::string div = get("disp_divisor");
      if (!div.empty()) {
        if (!parse_double(div, v) || !(v > 0)) throw_invalid(where + ": disp_divisor must be > 0, got '" + div + "'");
        s.disparity_divisor = v;
      } else {
        s.disparity_divisor = 1;
      }
      const std::string inv = get("invalid");
      if (!inv.empty()) {
        if (!parse_double(inv, v) || v != std::floor(v)) throw_invalid(where + ": invalid must be an integer, got '" + inv + "'");
        s.invalid_value = int(v);
      }
    }
    s.mask = path_of(get("masks"));
    s.calib = path_of(get("calib"));
    out.push_back(s);
  }
  if (out.empty()) throw_invalid("index '" + csv_path + "' lists no scenes");
  sort_by_name(out);
  return out;
}

std::vector<SceneSource> find_scenes(const std::string& path, const FindScenesOptions& o) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_io("the data path '" + path + "' does not exist");
  if (fs::is_regular_file(path, ec)) {
    if (lower_extension(path) != "csv")
      throw_invalid("--data '" + path + "' is a file but not an index CSV (.csv); give a folder of scenes, a scene folder or an index CSV");
    return read_scene_index(path);
  }
  const fs::path dir(path);
  if (looks_like_scene(dir)) return {scene_from_folder(dir, o)};
  std::vector<SceneSource> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec) || !looks_like_scene(entry.path())) continue;
    out.push_back(scene_from_folder(entry.path(), o));
  }
  if (ec) throw_io("cannot list '" + path + "': " + ec.message());
  if (out.empty())
    throw_invalid("no Middlebury scenes in '" + path +
                  "': expected scene folders with view1.png, view5.png, disp1.png (2005/2006) or im0.png, "
                  "im1.png, disp0GT.pfm, calib.txt (2014), or an index CSV");
  sort_by_name(out);
  return out;
}

MiddleburyScene load_scene(const SceneSource& s) {
  MiddleburyScene sc;
  sc.name = s.name;
  auto read_color = [&](const std::string& p) {
    cv::Mat m = read_image(p);
    if (m.channels() == 1) throw_invalid("scene '" + s.name + "': '" + p + "' is grey; expected a colour image");
    if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
    return m;
  };
  sc.left = read_color(s.left);
  sc.right = read_color(s.right);
  if (sc.left.size() != sc.right.size())
    throw_invalid("scene '" + s.name + "': left and right images differ in size");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  if (lower_extension(s.disparity) == "pfm") {
    cv::Mat d = read_pfm(s.disparity);
    if (d.channels() != 1) throw_invalid("scene '" + s.name + "': '" + s.disparity + "' must be a 1-channel PFM");
    d = d.clone();
    for (int r = 0; r < d.rows; ++r) {
      float* p = d.ptr<float>(r);
      for (int c = 0; c < d.cols; ++c)
        if (!std::isfinite(p[c]) || p[c] <= 0) p[c] = nan;  // inf = unknown in Middlebury 2014
    }
    sc.disparity_left = d;
  } else {
    cv::Mat raw = read_image(s.disparity);
    if (raw.channels() == 3) {
      std::vector<cv::Mat> ch;
      cv::split(raw, ch);
      raw = ch[0];
    }
    cv::Mat d(raw.size(), CV_32F);
    for (int r = 0; r < raw.rows; ++r) {
      float* p = d.ptr<float>(r);
      for (int c = 0; c < raw.cols; ++c) {
        const int v = raw.depth() == CV_16U ? raw.at<std::uint16_t>(r, c) : raw.at<std::uint8_t>(r, c);
        p[c] = (v == s.invalid_value || v <= 0) ? nan : float(v / s.disparity_divisor);
      }
    }
    sc.disparity_left = d;
  }
  if (sc.disparity_left.size() != sc.left.size())
    throw_invalid("scene '" + s.name + "': the ground truth '" + s.disparity + "' differs in size from the left image");
  if (!s.mask.empty()) {
    cv::Mat m = read_image(s.mask);
    if (m.channels() == 3) cv::extractChannel(m, m, 0);
    if (m.depth() != CV_8U || m.size() != sc.left.size())
      throw_invalid("scene '" + s.name + "': the mask '" + s.mask + "' must be 8-bit and the size of the left image");
    sc.nonocc_mask = m == 255;
  }
  if (!s.calib.empty()) {
    const MiddleburyCalib c = parse_middlebury_calib(text_of(s.calib), s.calib);
    sc.ndisp = c.ndisp;
  }
  return sc;
}

}  // namespace dualcam::datasets
