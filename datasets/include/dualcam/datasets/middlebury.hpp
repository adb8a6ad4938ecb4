#pragma once
// Loaders for Middlebury-format stereo scenes with ground-truth disparity (see
// docs/evaluation.md#data-middlebury: what the data is, where it comes from, how to lay it out).
// Three ways to name the data:
//   - a folder of scene folders (each detected as 2005/2006 or 2014 layout),
//   - a single scene folder,
//   - an index CSV (columns named in its first line, paths relative to the CSV's folder).
// Layouts:
//   2005/2006: view1.png (left), view5.png (right), disp1.png (left truth, 8-bit, disparity =
//              value / divisor, value 0 = unknown; divisor 3 for the third-size release).
//              disp5.png (right truth) is not needed.
//   2014:      im0.png, im1.png, disp0GT.pfm (or disp0.pfm; inf = unknown), calib.txt
//              (`key=value` lines, matrices `[f 0 cx; 0 f cy; 0 0 1]`), optional mask0nocc.png
//              (255 = visible in both views).
// Conventions: left x matches right x - d, d > 0; disparity CV_32F, NaN = unknown.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace dualcam::datasets {

enum class MiddleburyLayout { Y2005_2006, Y2014, Index };
const char* to_string(MiddleburyLayout layout);

// Where a scene's files are; nothing is read until load_scene().
struct SceneSource {
  std::string name;                  // scene name (folder name or the index's `scene` column)
  MiddleburyLayout layout = MiddleburyLayout::Y2005_2006;
  std::string left, right;           // colour images (8-bit sRGB)
  std::string disparity;             // left ground truth (PNG with a divisor, or PFM)
  double disparity_divisor = 3;      // PNG truth: disparity px = value / divisor
  int invalid_value = 0;             // PNG truth: this stored value means unknown
  std::string mask;                  // optional non-occlusion mask (255 = evaluate), "" = none
  std::string calib;                 // optional calib.txt, "" = none
};

struct MiddleburyCalib {
  cv::Matx33d cam0 = cv::Matx33d::eye(), cam1 = cv::Matx33d::eye();
  double doffs = 0;     // px, x-difference of the principal points
  double baseline = 0;  // mm
  int width = 0, height = 0;
  int ndisp = 0;        // the disparity range the dataset declares (0 = not given)
};

// Parses calib.txt text. Tolerates spaces around '=' and ';', blank lines and unknown keys;
// throws Error(InvalidInput) naming `name` and the line for anything malformed. cam0 and cam1 are
// required.
MiddleburyCalib parse_middlebury_calib(const std::string& text, const std::string& name);

struct MiddleburyScene {
  std::string name;
  cv::Mat left, right;       // CV_8UC3 sRGB BGR, same size
  cv::Mat disparity_left;    // CV_32F px, NaN = unknown
  cv::Mat nonocc_mask;       // CV_8U 255 = evaluate; empty when the scene has no mask
  int ndisp = 0;             // declared disparity range (0 = not given)
};

struct FindScenesOptions {
  double divisor_2005_2006 = 3;  // disp1.png divisor for 2005/2006 folders (3 = third size)
};

// `path` is a folder of scene folders, one scene folder, or an index CSV. Returns the scenes
// sorted by name. Throws Error(IO) when `path` does not exist, Error(InvalidInput) for a folder
// with no scenes or a scene folder with a missing file (naming the scene and the file).
std::vector<SceneSource> find_scenes(const std::string& path, const FindScenesOptions& options = {});

// Reads an index CSV (see the header). Required columns: scene, left, right, disp_left; optional:
// disp_divisor, invalid, disp_encoding (png8 | pfm), masks, calib.
std::vector<SceneSource> read_scene_index(const std::string& csv_path);

// Loads and checks a scene (sizes agree, 3-channel images, truth in range). Throws Error naming
// the scene and the file on any problem.
MiddleburyScene load_scene(const SceneSource& source);

}  // namespace dualcam::datasets
