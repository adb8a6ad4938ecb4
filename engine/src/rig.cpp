#include "dualcam/engine/rig.hpp"

#include <cctype>
#include <cmath>
#include <sstream>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"

namespace dualcam {
namespace {

bool all_finite(const cv::Mat& m) { return cv::checkRange(m, true, nullptr, -1e300, 1e300); }

void validate_camera(const CameraModel& cam, const char* name) {
  const std::string n(name);
  cv::Mat K(cam.K);
  if (!all_finite(K)) throw_invalid("rig: " + n + " camera matrix has non-finite values");
  if (!(cam.K(0, 0) > 0 && cam.K(1, 1) > 0))
    throw_invalid("rig: " + n + " focal length must be positive, got fx=" + std::to_string(cam.K(0, 0)) +
                  " fy=" + std::to_string(cam.K(1, 1)));
  if (cam.K(2, 0) != 0 || cam.K(2, 1) != 0 || cam.K(2, 2) != 1)
    throw_invalid("rig: " + n + " camera matrix must have last row [0 0 1]");
  if (cam.dist.empty() || !all_finite(cam.dist)) throw_invalid("rig: " + n + " distortion has non-finite values");
  const int nd = int(cam.dist.total());
  if (nd != 4 && nd != 5 && nd != 8 && nd != 12 && nd != 14)
    throw_invalid("rig: " + n + " distortion must have 4, 5, 8, 12 or 14 coefficients, got " + std::to_string(nd));
  if (cam.size.width <= 0 || cam.size.height <= 0)
    throw_invalid("rig: " + n + " image size must be positive");
}

cv::Mat read_matrix(const cv::FileStorage& fs, const std::string& key, const std::string& name, int rows, int cols) {
  cv::FileNode node = fs[key];
  if (node.empty()) throw_invalid("rig '" + name + "': missing key '" + key + "'");
  if (!node.isMap()) throw_invalid("rig '" + name + "': key '" + key + "' is not a matrix");
  // Check the declared shape against the data before OpenCV allocates it: a header claiming a
  // billion columns would otherwise allocate gigabytes (found by fuzzing).
  const cv::FileNode nr = node["rows"], nc = node["cols"], data = node["data"];
  if (!nr.isInt() || !nc.isInt() || !data.isSeq() || int(nr) < 1 || int(nc) < 1 || int(nr) > 16 || int(nc) > 16 ||
      data.size() != std::size_t(int(nr)) * std::size_t(int(nc)))
    throw_invalid("rig '" + name + "': key '" + key + "' is not a matrix of at most 16x16 numbers");
  cv::Mat m;
  try {
    node >> m;
  } catch (const cv::Exception&) {
    throw_invalid("rig '" + name + "': key '" + key + "' is not a matrix");
  }
  if (m.empty()) throw_invalid("rig '" + name + "': key '" + key + "' is not a matrix");
  m.convertTo(m, CV_64F);
  if (rows > 0 && int(m.total()) != rows * cols)
    throw_invalid("rig '" + name + "': key '" + key + "' must have " + std::to_string(rows * cols) + " elements");
  if (rows > 0) m = m.reshape(1, rows);
  if (!all_finite(m)) throw_invalid("rig '" + name + "': key '" + key + "' has NaN or infinite values");
  return m;
}

cv::Size read_size(const cv::FileStorage& fs, const std::string& key, const std::string& name) {
  cv::FileNode node = fs[key];
  if (node.empty()) throw_invalid("rig '" + name + "': missing key '" + key + "'");
  if (!node.isSeq() || node.size() != 2 || !(node[0].isInt() || node[0].isReal()) ||
      !(node[1].isInt() || node[1].isReal()))
    throw_invalid("rig '" + name + "': key '" + key + "' must be [width, height]");
  double w = double(node[0]), h = double(node[1]);
  if (!(w >= 1 && h >= 1 && w < 1e6 && h < 1e6 && w == std::floor(w) && h == std::floor(h)))
    throw_invalid("rig '" + name + "': key '" + key + "' must be two positive integers");
  return {int(w), int(h)};
}

cv::Matx33d skew(const cv::Vec3d& t) { return {0, -t[2], t[1], t[2], 0, -t[0], -t[1], t[0], 0}; }

}  // namespace

void StereoRig::validate() const {
  validate_camera(mono, "mono (M1/D1)");
  validate_camera(color, "colour (M2/D2)");
  cv::Mat Rm(R);
  if (!all_finite(Rm) || !all_finite(cv::Mat(T))) throw_invalid("rig: R or T has non-finite values");
  double orth = cv::norm(cv::Mat(R.t() * R - cv::Matx33d::eye()), cv::NORM_INF);
  if (orth > 1e-4 || std::abs(cv::determinant(R) - 1.0) > 1e-4)
    throw_invalid("rig: R is not a rotation matrix (R^T R != I or det(R) != 1)");
  if (!(cv::norm(T) > 0)) throw_invalid("rig: the baseline T is zero");
}

cv::Matx33d StereoRig::essential() const { return skew(T) * R; }

cv::Matx33d StereoRig::fundamental() const {
  return color.K.inv().t() * essential() * mono.K.inv();
}

namespace {
// OpenCV 4.6's YAML parser loops forever on some malformed text (found by fuzzing): a line that
// starts with ':' (an empty key), a line outside any [ ] list that is not 'key: value' after an
// indented mapping, several '---' documents. A rig file is simple: directives ('%') before one
// '---' line, then outside [ ] lists every line is a comment or 'key: value', and brackets
// balance. Anything else is refused before the parser sees it.
void check_rig_layout(const std::string& text, const std::string& name) {
  int depth = 0;  // [ ] nesting at the start of the current line
  bool document_started = false;
  std::size_t start = 0;
  for (int line_no = 1; start < text.size(); ++line_no) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::string where = "rig '" + name + "' line " + std::to_string(line_no);
    const std::size_t last = line.find_last_not_of(" \t\r");
    if (depth == 0 && line.compare(first, 3, "---") == 0) {
      if (first != 0 || last != 2) throw_invalid(where + ": a '---' line holds nothing else");
      if (document_started) throw_invalid(where + ": a rig file holds one YAML document (one '---')");
      document_started = true;
      continue;
    }
    if (depth == 0 && line[first] == '%') {
      if (document_started || first != 0) throw_invalid(where + ": a '%' directive comes first, before '---'");
      continue;
    }
    if (depth == 0 && line.compare(first, 3, "...") == 0) throw_invalid(where + ": '...' (end of document) is not expected");
    if (line[first] == ':') throw_invalid(where + ": the line starts with ':' (an empty key)");
    // Brackets, and a ':' outside lists, quotes and comments.
    const int depth_at_start = depth;
    std::size_t colon = std::string::npos;
    char quote = 0;
    for (std::size_t i = first; i < line.size(); ++i) {
      const char c = line[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#' && (i == first || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        break;
      } else if (c == ':' && depth == 0 && colon == std::string::npos) {
        colon = i;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (--depth < 0) throw_invalid(where + ": a '" + std::string(1, c) + "' closes nothing");
      }
    }
    if (depth_at_start > 0) continue;  // the continuation of a [ ] list
    if (colon == std::string::npos) throw_invalid(where + ": expected 'key: value' (or a value inside [ ])");
    // Keys are names, as OpenCV writes them (and can write them back).
    std::string key = line.substr(first, colon - first);
    key.erase(key.find_last_not_of(" \t") + 1);
    bool name_ok = !key.empty() && (std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_');
    for (char c : key) name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    if (!name_ok) throw_invalid(where + ": the key '" + key + "' is not a name (a letter or '_', then letters, digits, '_', '-')");
  }
  if (depth != 0) throw_invalid("rig '" + name + "': a '[' or '{' is not closed");
}

StereoRig parse_rig_unguarded(const std::string& yaml_text, const std::string& name) {
  check_rig_layout(yaml_text, name);
  cv::FileStorage fs;
  try {
    fs.open(yaml_text, cv::FileStorage::READ | cv::FileStorage::MEMORY | cv::FileStorage::FORMAT_YAML);
  } catch (const cv::Exception& e) {
    throw_invalid("rig '" + name + "': not a readable OpenCV YAML file");
  }
  if (!fs.isOpened()) throw_invalid("rig '" + name + "': not a readable OpenCV YAML file");
  // Keys are looked up in the root mapping; OpenCV throws on a lookup in a scalar or a sequence.
  if (!fs.root().isMap()) throw_invalid("rig '" + name + "': not a rig file (its top level is not a mapping of keys)");
  StereoRig rig;
  rig.mono.K = cv::Matx33d(read_matrix(fs, "M1", name, 3, 3));
  rig.mono.dist = read_matrix(fs, "D1", name, 0, 0).reshape(1, 1);
  rig.color.K = cv::Matx33d(read_matrix(fs, "M2", name, 3, 3));
  rig.color.dist = read_matrix(fs, "D2", name, 0, 0).reshape(1, 1);
  rig.R = cv::Matx33d(read_matrix(fs, "R", name, 3, 3));
  cv::Mat T = read_matrix(fs, "T", name, 3, 1);
  rig.T = cv::Vec3d(T.at<double>(0), T.at<double>(1), T.at<double>(2));
  rig.mono.size = read_size(fs, "size1", name);
  rig.color.size = read_size(fs, "size2", name);
  static const char* known[] = {"M1", "D1", "M2", "D2", "R", "T", "E", "F", "R1", "R2", "P1", "P2", "Q", "size1", "size2"};
  for (const cv::FileNode& node : fs.root()) {
    std::string key = node.name();
    bool is_known = false;
    for (const char* k : known) is_known = is_known || key == k;
    if (!is_known && node.isReal()) rig.extras[key] = double(node);
    if (!is_known && node.isInt()) rig.extras[key] = double(int(node));
  }
  try {
    rig.validate();
  } catch (const Error& e) {
    throw_invalid(std::string(e.what()).replace(0, 3, "rig '" + name + "'"));
  }
  return rig;
}

}  // namespace

StereoRig parse_rig(const std::string& yaml_text, const std::string& name) {
  // OpenCV's YAML parser throws cv::Exception, and on some malformed text std::length_error,
  // from many places (found by fuzzing); every one of them is a bad rig file, not an internal
  // error.
  try {
    return parse_rig_unguarded(yaml_text, name);
  } catch (const Error&) {
    throw;
  } catch (const cv::Exception& e) {
    throw_invalid("rig '" + name + "': not a readable OpenCV YAML rig file (" + e.err + ")");
  } catch (const std::exception& e) {
    throw_invalid("rig '" + name + "': not a readable OpenCV YAML rig file (" + e.what() + ")");
  }
}

StereoRig read_rig(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_file_bytes(path);
  if (bytes.empty()) throw_invalid("rig '" + path + "': the file is empty");
  std::string text(bytes.begin(), bytes.end());
  return parse_rig(text, path);
}

std::string format_rig(const StereoRig& rig, const RigMatrices& extra) {
  cv::FileStorage fs(".yml", cv::FileStorage::WRITE | cv::FileStorage::MEMORY | cv::FileStorage::FORMAT_YAML);
  fs.writeComment("dualcam stereo rig: camera 1 = mono, camera 2 = colour; X_color = R * X_mono + T");
  fs << "M1" << cv::Mat(rig.mono.K) << "D1" << rig.mono.dist;
  fs << "M2" << cv::Mat(rig.color.K) << "D2" << rig.color.dist;
  fs << "R" << cv::Mat(rig.R) << "T" << cv::Mat(rig.T);
  fs << "E" << cv::Mat(rig.essential()) << "F" << cv::Mat(rig.fundamental());
  fs << "size1" << rig.mono.size << "size2" << rig.color.size;
  for (const auto& [key, m] : extra) fs << key << m;
  for (const auto& [key, v] : rig.extras) fs << key << v;
  return fs.releaseAndGetString();
}

void write_rig(const std::string& path, const StereoRig& rig, const RigMatrices& extra) {
  rig.validate();
  write_file_atomic(path, format_rig(rig, extra));
}

}  // namespace dualcam
