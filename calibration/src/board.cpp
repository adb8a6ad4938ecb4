#include "dualcam/calibration/board.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <opencv2/aruco/charuco.hpp>
#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam::calibration {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

void parse_grid(const std::string& text, int& cols, int& rows, const std::string& spec) {
  auto parts = split(text, 'x');
  try {
    if (parts.size() != 2) throw std::invalid_argument("x");
    std::size_t u1 = 0, u2 = 0;
    cols = std::stoi(parts[0], &u1);
    rows = std::stoi(parts[1], &u2);
    if (u1 != parts[0].size() || u2 != parts[1].size()) throw std::invalid_argument("x");
  } catch (const std::exception&) {
    throw_invalid("board '" + spec + "': grid '" + text + "' must be COLSxROWS, e.g. 9x6");
  }
}

}  // namespace

int aruco_dictionary_id(const std::string& name) {
  static const std::pair<const char*, int> table[] = {
      {"DICT_4X4_50", cv::aruco::DICT_4X4_50},   {"DICT_4X4_100", cv::aruco::DICT_4X4_100},
      {"DICT_4X4_250", cv::aruco::DICT_4X4_250}, {"DICT_4X4_1000", cv::aruco::DICT_4X4_1000},
      {"DICT_5X5_50", cv::aruco::DICT_5X5_50},   {"DICT_5X5_100", cv::aruco::DICT_5X5_100},
      {"DICT_5X5_250", cv::aruco::DICT_5X5_250}, {"DICT_5X5_1000", cv::aruco::DICT_5X5_1000},
      {"DICT_6X6_50", cv::aruco::DICT_6X6_50},   {"DICT_6X6_100", cv::aruco::DICT_6X6_100},
      {"DICT_6X6_250", cv::aruco::DICT_6X6_250}, {"DICT_6X6_1000", cv::aruco::DICT_6X6_1000},
      {"DICT_7X7_50", cv::aruco::DICT_7X7_50},   {"DICT_7X7_100", cv::aruco::DICT_7X7_100},
      {"DICT_7X7_250", cv::aruco::DICT_7X7_250}, {"DICT_7X7_1000", cv::aruco::DICT_7X7_1000},
      {"DICT_ARUCO_ORIGINAL", cv::aruco::DICT_ARUCO_ORIGINAL}};
  for (const auto& [n, id] : table)
    if (name == n) return id;
  return -1;
}

namespace {
int dictionary_id(const std::string& name) { return aruco_dictionary_id(name); }
}  // namespace

double parse_length_mm(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw_invalid("length '" + text + "' must be a number with a unit (mm, cm or m), e.g. 24.23mm");
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit == "mm") scale = 1;
  else if (unit == "cm") scale = 10;
  else if (unit == "m") scale = 1000;
  else throw_invalid("length '" + text + "' needs a unit: mm, cm or m");
  if (!(v > 0) || !std::isfinite(v)) throw_invalid("length '" + text + "' must be positive");
  return v * scale;
}

BoardSpec parse_board_spec(const std::string& text) {
  auto f = split(text, ':');
  BoardSpec b;
  if (f.size() == 3 && f[0] == "chessboard") {
    b.kind = BoardKind::Chessboard;
    parse_grid(f[1], b.cols, b.rows, text);
    b.square_mm = parse_length_mm(f[2]);
  } else if (f.size() == 5 && f[0] == "charuco") {
    b.kind = BoardKind::Charuco;
    b.dictionary = f[1];
    parse_grid(f[2], b.cols, b.rows, text);
    b.square_mm = parse_length_mm(f[3]);
    b.marker_mm = parse_length_mm(f[4]);
  } else {
    throw_invalid("board '" + text +
                  "' must be chessboard:COLSxROWS:SQUARE or charuco:DICT:COLSxROWS:SQUARE:MARKER "
                  "(e.g. chessboard:9x6:24.23mm)");
  }
  b.validate();
  return b;
}

void BoardSpec::validate() const {
  if (cols < 2 || rows < 2 || cols > 200 || rows > 200)
    throw_invalid("board grid must be between 2x2 and 200x200, got " + std::to_string(cols) + "x" + std::to_string(rows));
  if (kind == BoardKind::Charuco) {
    if (dictionary_id(dictionary) < 0) throw_invalid("unknown ArUco dictionary '" + dictionary + "' (e.g. DICT_5X5_100)");
    if (!(marker_mm > 0 && marker_mm < square_mm))
      throw_invalid("ChArUco marker size must be positive and smaller than the square");
  }
  if (!(square_mm > 0)) throw_invalid("board square size must be positive");
}

std::string BoardSpec::to_string() const {
  std::ostringstream os;
  if (kind == BoardKind::Chessboard) os << "chessboard:" << cols << "x" << rows << ":" << square_mm << "mm";
  else os << "charuco:" << dictionary << ":" << cols << "x" << rows << ":" << square_mm << "mm:" << marker_mm << "mm";
  return os.str();
}

int BoardSpec::corner_count() const { return kind == BoardKind::Chessboard ? cols * rows : (cols - 1) * (rows - 1); }

std::vector<cv::Point3f> BoardSpec::object_points() const {
  // Chessboard: OpenCV's corner order (row-major over inner corners). ChArUco: chessboard
  // corner ids, also row-major over the (cols-1)x(rows-1) inner corners.
  const int nc = kind == BoardKind::Chessboard ? cols : cols - 1;
  const int nr = kind == BoardKind::Chessboard ? rows : rows - 1;
  std::vector<cv::Point3f> pts;
  pts.reserve(std::size_t(nc) * nr);
  for (int r = 0; r < nr; ++r)
    for (int c = 0; c < nc; ++c) pts.emplace_back(float((c + (kind == BoardKind::Charuco)) * square_mm),
                                                  float((r + (kind == BoardKind::Charuco)) * square_mm), 0.f);
  return pts;
}

void refine_chessboard_corners(const cv::Mat& gray, cv::Size pattern, std::vector<cv::Point2f>& corners,
                               const CornerRefineOptions& options) {
  options.validate();
  if (int(corners.size()) != pattern.width * pattern.height) throw_invalid("refine_chessboard_corners: corner count does not match the pattern");
  if (gray.type() != CV_8UC1 && gray.type() != CV_32FC1)
    throw_invalid("refine_chessboard_corners: expects an 8-bit or float single-channel image");
  if (gray.empty()) throw_invalid("refine_chessboard_corners: the image is empty");
  // Every corner must lie on the image (pixel centres are integers, so its area reaches -0.5).
  for (std::size_t i = 0; i < corners.size(); ++i) {
    const cv::Point2f& p = corners[i];
    if (!(p.x >= -0.5f && p.y >= -0.5f && p.x <= gray.cols - 0.5f && p.y <= gray.rows - 0.5f))
      throw_invalid("refine_chessboard_corners: corner " + std::to_string(i) + " at (" + std::to_string(p.x) + ", " +
                    std::to_string(p.y) + ") is outside the " + std::to_string(gray.cols) + "x" +
                    std::to_string(gray.rows) + " image");
  }
  // cv::cornerSubPix needs the image to hold 2 half + 5 pixels in each direction.
  const int fit_half = (std::min(gray.cols, gray.rows) - 5) / 2;
  // Spacing first, from the unrefined positions (a refined neighbour must not change a corner's window).
  std::vector<double> spacing(corners.size(), 1e9);
  for (int r = 0; r < pattern.height; ++r)
    for (int c = 0; c < pattern.width; ++c) {
      const std::size_t i = std::size_t(r * pattern.width + c);
      auto near = [&](int rr, int cc) {
        if (rr < 0 || rr >= pattern.height || cc < 0 || cc >= pattern.width) return;
        spacing[i] = std::min(spacing[i], double(cv::norm(corners[std::size_t(rr * pattern.width + cc)] - corners[i])));
      };
      near(r - 1, c), near(r + 1, c), near(r, c - 1), near(r, c + 1);
    }
  const cv::TermCriteria stop(cv::TermCriteria::EPS + cv::TermCriteria::COUNT, 50, 0.001);
  for (std::size_t i = 0; i < corners.size(); ++i) {
    if (!(spacing[i] < 1e9)) continue;
    const int half = std::min(fit_half, std::clamp(int(std::lround(options.window_share * spacing[i])),
                                                   options.min_half_window_px, options.max_half_window_px));
    if (half < 1) continue;  // an image too small for any window: the detector's position
    std::vector<cv::Point2f> q{corners[i]};
    cv::cornerSubPix(gray, q, cv::Size(half, half), cv::Size(-1, -1), stop);
    // A corner that runs off towards a neighbour's edges keeps the detector's position.
    if (std::isfinite(q[0].x) && std::isfinite(q[0].y) && cv::norm(q[0] - corners[i]) <= options.max_shift_share * spacing[i])
      corners[i] = q[0];
  }
}

void CornerRefineOptions::validate() const {
  check_range("CornerRefineOptions::window_share", window_share, 0.05, 1.0);
  check_range("CornerRefineOptions::min_half_window_px", min_half_window_px, 1, 100);
  check_range("CornerRefineOptions::max_half_window_px", max_half_window_px, min_half_window_px, 100);
  check_range("CornerRefineOptions::max_shift_share", max_shift_share, 0.0, 1.0);
}

Detection detect_board(const cv::Mat& image, const BoardSpec& spec) {
  spec.validate();
  if (image.empty()) throw_invalid("detect_board: the image is empty");
  if (image.depth() != CV_8U && image.depth() != CV_16U)
    throw_invalid("detect_board: the image must be 8- or 16-bit, got " + cv::typeToString(image.type()));
  if (image.channels() != 1 && image.channels() != 3)
    throw_invalid("detect_board: the image must have 1 or 3 channels, got " + std::to_string(image.channels()));
  Detection d;
  cv::Mat gray = image;
  if (gray.channels() == 3) cv::cvtColor(gray, gray, cv::COLOR_BGR2GRAY);
  if (gray.depth() == CV_16U) gray.convertTo(gray, CV_8U, 1.0 / 257.0);
  if (spec.kind == BoardKind::Chessboard) {
    const cv::Size pattern(spec.cols, spec.rows);
    std::vector<cv::Point2f> corners;
    // The sector-based detector first (robust to blur and low resolution), exhaustive search
    // only when the quick one fails, then the classic detector as the last resort. Every
    // detector's corners are then refined by refine_chessboard_corners (see there: SB's own
    // sub-pixel positions are biased on small, blurred squares).
    bool ok = cv::findChessboardCornersSB(gray, pattern, corners, cv::CALIB_CB_ACCURACY);
    if (!ok) ok = cv::findChessboardCornersSB(gray, pattern, corners, cv::CALIB_CB_EXHAUSTIVE | cv::CALIB_CB_ACCURACY);
    // The classic detector's first adaptive-threshold window is round(0.1 x the short side) | 1
    // pixels, which OpenCV asserts is above 1: it cannot run on a short side under 15 px (checked
    // on 1..300 px images; no board fits there anyway).
    if (!ok && std::min(gray.cols, gray.rows) >= 15)
      ok = cv::findChessboardCorners(gray, pattern, corners, cv::CALIB_CB_ADAPTIVE_THRESH | cv::CALIB_CB_NORMALIZE_IMAGE);
    if (!ok) {
      d.reason = "chessboard " + std::to_string(spec.cols) + "x" + std::to_string(spec.rows) + " not found";
      return d;
    }
    refine_chessboard_corners(gray, pattern, corners);
    d.found = true;
    d.corners = corners;
    d.ids.resize(corners.size());
    for (std::size_t i = 0; i < corners.size(); ++i) d.ids[i] = int(i);
    return d;
  }
  auto dict = cv::aruco::getPredefinedDictionary(dictionary_id(spec.dictionary));
  auto board = cv::aruco::CharucoBoard::create(spec.cols, spec.rows, float(spec.square_mm), float(spec.marker_mm), dict);
  std::vector<int> marker_ids;
  std::vector<std::vector<cv::Point2f>> marker_corners;
  cv::aruco::detectMarkers(gray, dict, marker_corners, marker_ids);
  if (marker_ids.empty()) {
    d.reason = "no ArUco markers of " + spec.dictionary + " found";
    return d;
  }
  std::vector<cv::Point2f> corners;
  std::vector<int> ids;
  cv::aruco::interpolateCornersCharuco(marker_corners, marker_ids, gray, board, corners, ids);
  if (ids.size() < 6) {
    d.reason = "only " + std::to_string(ids.size()) + " ChArUco corners found (need 6)";
    return d;
  }
  // OpenCV 4.6 returns ChArUco corners shifted by +0.5 px (it shifts the points around its
  // cornerSubPix call; opencv#25539, fixed upstream in 2026): undo the shift and refine again,
  // with a window that stays clear of the markers (the square's margin around the marker).
  double spacing = 1e9;
  const int per_row = spec.cols - 1;
  for (std::size_t i = 0; i + 1 < ids.size(); ++i)
    if (ids[i + 1] == ids[i] + 1 && ids[i] / per_row == ids[i + 1] / per_row)
      spacing = std::min(spacing, double(cv::norm(corners[i + 1] - corners[i])));
  for (auto& p : corners) p -= cv::Point2f(0.5f, 0.5f);
  if (spacing < 1e9) {
    const double margin_px = spacing * (1.0 - spec.marker_mm / spec.square_mm) / 2;
    const int half = std::clamp(int(margin_px) - 1, 2, 6);
    cv::cornerSubPix(gray, corners, cv::Size(half, half), cv::Size(-1, -1),
                     cv::TermCriteria(cv::TermCriteria::EPS + cv::TermCriteria::COUNT, 50, 0.001));
  }
  d.found = true;
  d.corners = corners;
  d.ids = ids;
  return d;
}

void match_corner_order(const Detection& reference, Detection& other) {
  if (!reference.found || !other.found || reference.corners.size() < 2 || other.corners.size() != reference.corners.size())
    return;
  if (reference.ids != other.ids) return;  // ChArUco subsets: ids are absolute
  const cv::Point2f a = reference.corners.back() - reference.corners.front();
  const cv::Point2f b = other.corners.back() - other.corners.front();
  if (a.dot(b) < 0) std::reverse(other.corners.begin(), other.corners.end());
}

}  // namespace dualcam::calibration
