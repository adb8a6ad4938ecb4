#pragma once
// How dualcam takes the images of a camera pair: one rule for `fuse`, `depth`, `bokeh`,
// `regress`, `eval` and the library's users alike, so each tests what the others run.
//
//  - Files: PNG, JPEG or TIFF, 8 or 16 bit, sRGB-encoded (image_io.hpp; JPEG EXIF orientation
//    applied), refused above `max_pixels` before decoding.
//  - The colour camera's image has 3 channels.
//  - The mono camera's image is grey. Cameras and tools often store a grey image as RGB, and a
//    JPEG round trip leaves its three channels slightly apart (about 1 level on average, 20-30 at
//    a few pixels: the chroma planes quantised around zero). Such an image is accepted and
//    converted with the luma weights a JPEG's own Y uses (cv::COLOR_BGR2GRAY), which recovers the
//    stored grey; an image with real colour in it is refused, with the figure. The rule: the mean
//    over pixels of the largest difference between two channels is at most
//    `mono_max_mean_difference` levels and at most `mono_max_outlier_share` of the pixels differ
//    by more than `mono_outlier_difference` levels (8-bit levels; 16-bit images are scaled by
//    1/257 to measure).
//  - Bit depths: either camera may be 8 or 16 bit; outputs take the colour camera's depth
//    (to_srgb in color.hpp).
//  - Raw frames (raw.hpp): a DNG or camera raw file, a headerless ".raw" (its layout in
//    InputOptions, from `--raw-layout FILE`), or for the colour camera a 1-channel PNG/TIFF mosaic
//    when its layout names a Bayer pattern. The mono camera's frame must have no pattern, the
//    colour camera's one. Each is developed by the finishing stage (finish.hpp: demosaic, its
//    white balance, colour matrix, its baseline exposure times `raw_finish.exposure`) into a
//    16-bit sRGB image, to which the rules above apply; outputs are then 16 bit.
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "dualcam/engine/finish.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/raw.hpp"
#include "dualcam/engine/report.hpp"

namespace dualcam {

struct InputOptions {
  std::int64_t max_pixels = ImageReadOptions{}.max_pixels;  // refuse larger images (0 = no limit)
  double mono_max_mean_difference = 4.0;   // 8-bit levels
  double mono_outlier_difference = 48.0;   // 8-bit levels
  double mono_max_outlier_share = 0.002;   // of the pixels
  RawLayouts raw;                          // how each camera's raw frame is stored (raw.hpp)
  // How raw frames are developed (bits: always 16). With rcd, not finish's default ri: the merge's
  // noise model of a raw frame (fusion/raw_noise.hpp) is measured through the demosaic on a flat
  // frame, which predicts rcd's developed noise within 25 % but ri's red and blue 25-45 % high on
  // the test's ramp (ri's fit depends on the content); the colour view from raw is the same with
  // either (docs/fusion.md#finishing).
  FinishOptions raw_finish{Demosaic::Rcd};
  void validate() const;
};

// What the mono rule found in a mono image stored as RGB (all zero for a grey file).
struct MonoConversion {
  bool from_rgb = false;              // the file had 3 channels and was converted
  double mean_difference = 0;         // mean over pixels of the largest channel difference, 8-bit levels
  double max_difference = 0;          // largest channel difference at any pixel, 8-bit levels
  double outlier_share = 0;           // share of pixels differing by more than the outlier level
  Json to_json() const;
};

// The mono rule on a decoded image (CV_8U/CV_16U, 1 or 3 channels): the grey image, or
// Error(InvalidInput) naming `what` (e.g. the file) and the figures when it has colour in it.
cv::Mat mono_from_image(const cv::Mat& decoded, const std::string& what, const InputOptions& options,
                        MonoConversion* conversion = nullptr);
// The colour rule: the image itself, or Error(InvalidInput) naming `what` when it is not 3-channel.
cv::Mat color_from_image(const cv::Mat& decoded, const std::string& what);

// One camera's file as decoded, before the mono and colour rules: an image (read_image, refused
// above max_pixels), or a raw frame developed into 16-bit sRGB (the raw rule above; `mono` says
// which camera's layout applies and which pattern the frame must have). `raw_info`, when given,
// receives RawFrame::to_json() for a raw frame and stays null for an image. What read_camera_pair
// and calibration's load_stereo_views read files with.
// `linear` and `frame`, when given, receive a raw frame's linear signal (see develop_camera_frame)
// and the frame itself, and are emptied for an image.
cv::Mat read_camera_file(const std::string& path, bool mono, const InputOptions& options, Json* raw_info = nullptr,
                         cv::Mat* linear = nullptr, RawFrame* frame = nullptr);

// A raw frame already in memory developed by the raw rule above into 16-bit sRGB: what
// read_camera_file does after reading one. Error(InvalidInput) naming `what` when the frame has
// no samples or the wrong pattern for the camera (`mono`). `linear`, when given, receives the same
// pixels before the encoding: CV_32FC1 (mono) or CV_32FC3 linear sRGB at the exposure the encoding
// has, not clipped at 1 nor at 0 (the noise about black kept): what the merge works on.
cv::Mat develop_camera_frame(const RawFrame& frame, bool mono, const std::string& what, const InputOptions& options,
                             cv::Mat* linear = nullptr);

// A camera pair as the rules above prepare it: mono CV_8UC1/CV_16UC1, colour CV_8UC3/CV_16UC3.
struct CameraPair {
  cv::Mat mono, color;
  MonoConversion mono_conversion;
  Json raw_frames;  // {"mono": RawFrame::to_json(), "color": ...} for the cameras given as raw frames; null otherwise
  // A camera given as a raw frame: its linear signal (develop_camera_frame), which the merge takes
  // instead of decoding the encoded image (fusion's FuseInput); empty for a camera given as an image.
  cv::Mat mono_linear, color_linear;
  RawFrame mono_frame, color_frame;  // the frames themselves (empty samples for an image)
};

// Reads both files and applies the rules. Errors name the file.
CameraPair read_camera_pair(const std::string& mono_path, const std::string& color_path,
                            const InputOptions& options = {});
// The same for images already in memory (simulated pairs, the Python module).
CameraPair camera_pair(const cv::Mat& mono, const cv::Mat& color, const InputOptions& options = {});
// The same for raw frames in memory (the simulator's, `dualcam eval --protocol raw`).
CameraPair camera_pair(const RawFrame& mono, const RawFrame& color, const InputOptions& options = {});

}  // namespace dualcam
