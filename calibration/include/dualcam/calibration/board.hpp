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

// Finds the board in an 8- or 16-bit grey or BGR image. Chessboard: findChessboardCornersSB, else
// findChessboardCorners, then refine_chessboard_corners. ChArUco: markers, then interpolated
// corners (a partly visible board is fine). A board that is not found (an image of any size) is a
// Detection with its reason; Error(InvalidInput) for an empty image or another type.
Detection detect_board(const cv::Mat& image, const BoardSpec& spec);

// Sub-pixel refinement of chessboard corners (cv::cornerSubPix) with a window sized per corner
// from its distance to the nearest neighbouring corner of the grid: large enough to average
// many edge pixels, small enough that only the corner's own four edges enter it (the gradients
// of the next corners' edges, blurred, would pull it). findChessboardCornersSB's own sub-pixel
// positions were measured biased on small, blurred squares (the board's scale off by up to
// 0.2 % in a view; docs/calibration.md), which a board pose absorbs silently and passes on to
// the baseline.
struct CornerRefineOptions {
  double window_share = 0.5;    // half window as a share of the spacing to the nearest corner, times
  int min_half_window_px = 2;   // half window bounds, pixels (window = 2 half + 1); the upper bound
  int max_half_window_px = 10;  // keeps the straight-edge model true under lens distortion
  double max_shift_share = 0.25;  // a move beyond this share of the spacing is refused, times
  void validate() const;
};
// `corners` in OpenCV's row-major pattern order (pattern = inner corners per row x rows), each on
// the image. Error(InvalidInput) for an empty image, one that is not 8-bit or float single-channel,
// a corner count that is not the pattern's or a corner off the image.
void refine_chessboard_corners(const cv::Mat& gray, cv::Size pattern, std::vector<cv::Point2f>& corners,
                               const CornerRefineOptions& options = {});

// A chessboard's corners can be listed from either end (its 180-degree symmetry). Reverses
// `other` when its first-to-last corner direction opposes `reference`'s, so the two cameras of a
// stereo view number the corners alike (the direction test assumes the two cameras' roll differs
// by well under 90 degrees, as in a rig). ChArUco ids are unique and left alone.
// detect_stereo_view (stereo_views.hpp) applies it.
void match_corner_order(const Detection& reference, Detection& other);

// OpenCV's id of an ArUco dictionary name (e.g. DICT_5X5_100), -1 when unknown.
int aruco_dictionary_id(const std::string& name);

}  // namespace dualcam::calibration
