#pragma once
// Raw sensor frames: the samples a sensor delivered, before demosaic, white balance, tone curve
// and 8-bit quantisation. One reader for every command, in three forms:
//
//  - Headerless dumps (".raw"): rows of samples as a sensor's driver writes them, described by a
//    RawLayout (size, significant bits, bytes per row, byte order, Bayer pattern, black and white
//    levels). Samples of 8 bits take one byte each; 9 to 16 bits take two bytes (the value in the
//    low bits, as V4L2's unpacked formats store them). The file must hold exactly `height` rows
//    of `stride` bytes (the last row may end after its samples); anything else is refused, as is
//    a sample above 2^bits - 1 (a wrong --raw-bits or byte order).
//  - DNG and camera raw files, through LibRaw: the CFA samples of the visible area, the black
//    and white levels, the as-shot white balance and the camera's colour matrix.
//  - A 1-channel 8/16-bit PNG or TIFF holding a mosaic (with a Bayer pattern, or a mono frame).
//
// Inside dualcam a frame's samples stay as stored (CV_16UC1); raw_linear() makes the linear
// signal the merge and the finishing stage work on.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/report.hpp"

namespace dualcam {

// The colour-filter pattern of the 2x2 tile at the frame's top-left corner, named row by row
// (Rggb: R at (0,0), G at (0,1) and (1,0), B at (1,1)). None = a mono sensor (no filter).
enum class CfaPattern { None, Rggb, Bggr, Grbg, Gbrg };
const char* to_string(CfaPattern pattern);  // "none", "rggb", ...
// "rggb" | "bggr" | "grbg" | "gbrg" | "none" (any case); else Error(InvalidInput).
CfaPattern parse_cfa_pattern(const std::string& text);
// The channel a pattern's site (row, col) sees, in BGR order (0 = B, 1 = G, 2 = R); -1 for None.
int cfa_channel(CfaPattern pattern, int row, int col);

enum class ByteOrder { Little, Big };
ByteOrder parse_byte_order(const std::string& text);  // "little" | "big"; else Error(InvalidInput)

// How a headerless frame is stored, and the levels a frame's file does not say.
struct RawLayout {
  int width = 0, height = 0;   // px; both required for a headerless file
  int bits = 0;                // significant bits per sample, 8..16; 0 = not given
  std::int64_t stride = 0;     // bytes per row; 0 = width * (1 byte for 8 bits, else 2)
  ByteOrder byte_order = ByteOrder::Little;
  CfaPattern cfa = CfaPattern::None;  // the sensor's pattern; None = mono
  // Levels in sample units; < 0 = the file's own (DNG) or 0 and 2^bits - 1 (headerless, mosaics).
  double black_level = -1, white_level = -1;
  // What a headerless file cannot say (a DNG's own values win only when these are not given):
  // the as-shot white balance (B, G, R gains; all 0 = not given) and the baseline exposure in EV
  // (NaN = not given).
  cv::Vec3d white_balance{0, 0, 0};
  double baseline_exposure_ev = std::numeric_limits<double>::quiet_NaN();
  void validate() const;
  int container_bytes() const { return bits <= 8 ? 1 : 2; }
  std::int64_t row_bytes() const { return stride > 0 ? stride : std::int64_t(width) * container_bytes(); }
};

struct RawFrame {
  cv::Mat samples;                  // CV_16UC1, as stored (the visible area)
  int bits = 16;                    // significant bits of a sample
  CfaPattern cfa = CfaPattern::None;
  double black_level = 0;           // sample value of no light
  double white_level = 65535;       // sample value at which the sensor clips
  // Gains (B, G, R; green = 1) that make a grey object grey, as the camera measured at capture
  // (DNG AsShotNeutral, a camera raw's as-shot multipliers); all 1 when the file does not say.
  cv::Vec3d white_balance{1, 1, 1};
  // Linear camera RGB (white-balanced) -> linear sRGB, both in B, G, R order; identity when the
  // file has no colour matrix.
  cv::Matx33d camera_to_srgb = cv::Matx33d::eye();
  bool has_color_matrix = false;
  // The brightness the camera meant, in EV over the linear frame (DNG BaselineExposure): a
  // finished picture multiplies raw_linear() by 2^baseline_exposure_ev. 0 when the file does not say.
  double baseline_exposure_ev = 0;
  std::string format;               // "headerless", "dng", "libraw (MAKE MODEL)", "png", "tiff"
  bool mono() const { return cfa == CfaPattern::None; }
  Json to_json() const;             // what the frame is (no samples)
};

// Both cameras' layouts in one JSON file (`--raw-layout`): {"mono": {...}, "color": {...}}, each
// with the keys width, height, bits, bayer, stride, byte_order, black_level, white_level,
// white_balance_bgr, baseline_exposure_ev (all optional); the raw.json `dualcam simulate --raw`
// writes is one (its keys file, format and has_color_matrix are descriptions and are skipped).
// Unknown keys and wrong types are refused, naming the file and the key.
struct RawLayouts {
  RawLayout mono, color;
};
RawLayouts read_raw_layouts(const std::string& path);

// ".raw", ".dng" or a camera raw extension LibRaw reads (nef, cr2, cr3, arw, orf, rw2, raf, pef,
// srw, raw): the file is a raw frame whatever the options.
bool is_raw_file(const std::string& path);

// Reads a frame: ".raw" by `layout` (width, height and bits required), DNG / camera raw through
// LibRaw (layout's levels, when given, override the file's), ".png"/".tif"/".tiff" as a 1-channel
// mosaic with layout.cfa (bits default to the file's depth). Errors name the file and what was
// wrong: Error(IO) when it cannot be read, Error(InvalidInput) when it is not what it claims.
RawFrame read_raw(const std::string& path, const RawLayout& layout);
// A headerless frame from bytes in memory; `name` is used in error messages.
RawFrame decode_headerless(const std::uint8_t* data, std::size_t size, const RawLayout& layout,
                           const std::string& name);
// The samples as a headerless file stores them (packed rows, layout's byte order and bits).
std::vector<std::uint8_t> encode_headerless(const RawFrame& frame, ByteOrder order = ByteOrder::Little);

// Writes a DNG 1.4 (uncompressed, one IFD): CFA tags for a Bayer frame, LinearRaw for a mono one,
// the black and white levels, AsShotNeutral from the white balance, and a colour matrix that
// LibRaw and other readers turn back into `camera_to_srgb`. Atomic (write_file_atomic).
void write_dng(const std::string& path, const RawFrame& frame, const std::string& camera_model = "dualcam simulator");

// The linear signal: (sample - black) / (white - black), CV_32FC1; values below black are kept
// (the noise is symmetric about it), values at white are 1.
cv::Mat raw_linear(const RawFrame& frame);

}  // namespace dualcam
