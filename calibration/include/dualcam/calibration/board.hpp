#pragma once
// Calibration boards: their specification (as given on the command line), their 3-D model and
// their detection in an image.
//
// Spec strings:  chessboard:COLSxROWS:SQUARE              e.g. chessboard:9x6:24.23mm
//                charuco:DICT:COLSxROWS:SQUARE:MARKER     e.g. charuco:DICT_5X5_100:11x8:15mm:11mm
// For a chessboard COLSxROWS counts INNER corners (OpenCV's patternSize); for ChArUco it counts
// squares. Lengths take a unit: mm, cm or m; the model is in millimetres.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace dualcam::calibration {

enum class BoardKind { Chessboard, Charuco };

struct BoardSpec {
  BoardKind kind = BoardKind::Chessboard;
  int cols = 0, rows = 0;     // inner corners (chessboard) or squares (ChArUco)
  double square_mm = 0;
  double marker_mm = 0;       // ChArUco only
  std::string dictionary;     // ChArUco only, e.g. DICT_5X5_100
  void validate() const;
  std::string to_string() const;
  // Corner positions on the board plane (z = 0), mm, in detection order (ids 0..N-1).
  std::vector<cv::Point3f> object_points() const;
  int corner_count() const;
};

// Parses a spec string; throws Error(InvalidInput) naming what is wrong.
BoardSpec parse_board_spec(const std::string& text);

// Parses "24.23mm", "2.5cm", "0.03m" into millimetres.
double parse_length_mm(const std::string& text);

struct Detection {
  bool found = false;
  std::string reason;                 // why not found
  std::vector<cv::Point2f> corners;   // pixel positions (sub-pixel refined)
  std::vector<int> ids;               // corner ids into BoardSpec::object_points()
};

// Finds the board in an 8-bit grey or colour image. Chessboard: findChessboardCornersSB
// (sub-pixel by construction), else findChessboardCorners refined by cornerSubPix. ChArUco:
// markers, then interpolated corners (a partly visible board is fine).
Detection detect_board(const cv::Mat& image, const BoardSpec& spec);

// A chessboard's corners can be listed from either end (its 180-degree symmetry). Reverses
// `other` when its first-to-last corner direction opposes `reference`'s, so the two cameras of a
// stereo view number the corners alike. ChArUco ids are unique and left alone.
void match_corner_order(const Detection& reference, Detection& other);

// OpenCV's id of an ArUco dictionary name (e.g. DICT_5X5_100), -1 when unknown.
int aruco_dictionary_id(const std::string& name);

}  // namespace dualcam::calibration
