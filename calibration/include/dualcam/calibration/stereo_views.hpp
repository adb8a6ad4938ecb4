#pragma once
// The board views of a stereo calibration: what one view is (StereoView), the contract the
// calibration reads it by (check_stereo_views), and the one way to build views from image pairs
// (detect_stereo_view / detect_stereo_views / load_stereo_views): the board detected in both
// images, the colour corners numbered like the mono's (match_corner_order), the views whose board
// is missing in an image reported with the reason, and the checks every caller needs (every mono
// image has the first one's size, likewise the colour images; the board is found somewhere).
// `dualcam calibrate`, `dualcam regress` and the calibration evaluation all build their views
// here, so they calibrate from the same corners.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/raw.hpp"

namespace dualcam::calibration {

// The detections of one board view seen by both cameras. A detection that is `found` has one id
// per corner, each id a corner of the board (0 .. BoardSpec::corner_count() - 1) at most once,
// and finite corners (check_stereo_views); one that is not found carries its `reason`.
struct StereoView {
  std::string name;   // e.g. the two file names, for reports
  Detection mono;
  Detection color;
};

// Why `view` cannot be calibrated from as a stereo view: "mono: REASON" or "colour: REASON" when
// the board was not found in that image (the mono's first), "" when it was found in both.
// calibrate_stereo reports exactly this for such a view (and then also refuses views with too
// few corners, StereoCalibrationOptions::min_corners).
std::string unusable_reason(const StereoView& view);

// Throws Error(InvalidInput) naming `function`, the view and the camera when a detection that is
// found breaks StereoView's contract: ids and corners of different counts, an id twice, a corner
// that is not finite, or (with a board) an id that is not one of its corners. calibrate_stereo and
// rectified_row_error check their views with it.
void check_stereo_views(const std::vector<StereoView>& views, const std::string& function,
                        const BoardSpec* board = nullptr);

// How the board is found in one image (8- or 16-bit, 1 or 3 channels).
using BoardDetector = std::function<Detection(const cv::Mat& image, const BoardSpec& board)>;

struct StereoViewOptions {
  BoardDetector detector;         // empty: detect_board
  // Put the colour image's corners in the mono image's order (match_corner_order). Off for a
  // detector whose corner order is part of what is measured (OpenCV's, as a user runs it: the
  // evaluation's peer).
  bool match_corner_order = true;
  // Files only (load_stereo_views):
  std::int64_t max_pixels = ImageReadOptions{}.max_pixels;  // refuse larger images, pixels (0 = no limit)
  // Raw frames are read by engine/inputs.hpp's rule (DNG, camera raw, headerless with these
  // layouts), developed into 16-bit sRGB; the board is found on the developed images.
  RawLayouts raw;
  bool keep_images = false;       // keep the decoded images (e.g. to draw the detections)
  void validate() const;
};

// One pair in memory.
struct ImagePair {
  std::string name;   // for reports and errors
  cv::Mat mono, color;
};

// A view whose board was not found in both images.
struct UnusableView {
  std::size_t index = 0;   // into StereoViewSet::views
  std::string name;
  std::string reason;      // unusable_reason()
};

struct StereoViewSet {
  std::vector<StereoView> views;                   // one per pair, in order
  std::vector<UnusableView> unusable;              // in order
  cv::Size mono_size, color_size;                  // every pair's
  std::vector<cv::Mat> mono_images, color_images;  // load_stereo_views with keep_images: the decoded images
};

// The board in both images of one pair, the colour corners in the mono's order (unless turned
// off). Error(InvalidInput) naming the pair and the camera for an empty image or one that is not
// 8- or 16-bit with 1 or 3 channels; a board that is not found is a Detection with its reason.
StereoView detect_stereo_view(const cv::Mat& mono, const cv::Mat& color, const BoardSpec& board,
                              const std::string& name, const StereoViewOptions& options = {});

// Every pair, detected in parallel (the result does not depend on the thread count; of several
// bad pairs, the first one's error is thrown). Error(InvalidInput) for no pairs, a bad image, or
// a mono (colour) image whose size differs from the first pair's; Error(Calibration) when the
// board is found in no image at all.
StereoViewSet detect_stereo_views(const std::vector<ImagePair>& pairs, const BoardSpec& board,
                                  const StereoViewOptions& options = {});

// The same from files paired by order (each pair named "MONO+COLOUR" after the two file names),
// read with engine's read_image (refusing more than max_pixels) inside the parallel loop, so only
// the pairs in flight are in memory unless keep_images. Errors name the file; Error(IO) for one
// that cannot be read, Error(InvalidInput) when the two lists' lengths differ.
StereoViewSet load_stereo_views(const std::vector<std::string>& mono_files, const std::vector<std::string>& color_files,
                                const BoardSpec& board, const StereoViewOptions& options = {});

}  // namespace dualcam::calibration
