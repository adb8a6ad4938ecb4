#pragma once
// Depth photos: one JPEG that carries its depth map, the format's one place in dualcam.
//
// Written: Google's depth-photo metadata (the GDepth / GImage / GFocus XMP namespaces of Google
// Camera's Lens Blur, https://developers.google.com/depthmap-metadata/format). The small
// properties (formats, near/far, focus, MIME types) sit in the standard XMP packet (APP1
// "http://ns.adobe.com/xap/1.0/"); the images (GDepth:Data, GDepth:Confidence, GImage:Data, base64)
// in extended XMP (APP1 "http://ns.adobe.com/xmp/extension/" segments of at most 65458 bytes each,
// each with the 32-hex-digit MD5 GUID of the extended packet that xmpNote:HasExtendedXMP names,
// the packet's full length and the chunk's offset; Adobe XMP specification part 3, 1.1.3.1).
// The writer is dualcam's own (a few hundred lines: no library needed for a fixed set of
// properties; exiftool and exiv2 read its files back in tests/engine/test_depth_photo.cpp).
//
// Read: the same GDepth photos (written by dualcam or anyone else: properties as attributes or
// as elements), and Dynamic Depth 1.0 photos (Android): the XMP Device:Container directory lists
// the items appended after the primary JPEG in order (Item:Mime, Item:Length, Item:Padding =
// bytes after the item), the depth item being the one with Item:Semantic "Depth" or whose
// Item:DataURI is the DepthMap:DepthURI; its DepthMap:Format / Near / Far say how to read it.
//
// The depth encoding dualcam writes: RangeInverse in a 16-bit grey PNG. RangeInverse is linear
// in 1/Z, so it is linear in the disparity (engine/disparity.hpp, d = f B / Z): with d_min, d_max
// the disparity's finite range, the stored value is v = (d_max - d) / (d_max - d_min) * 65535
// (0 = near, 65535 = far), one quantisation level (d_max - d_min) / 65535 px. Near and far are
// K / (d_max - o) and K / (d_min - o), where K = f_view * B (the rig's focal length in the view's
// pixels times its baseline: near/far in the rig's units), or relative (K = d_max - o, near = 1)
// without a rig; o is 0 unless the disparity reaches 0 or below (no finite depth), when it is
// d_min - (d_max - d_min) and the depth is relative. K and o are also written in dualcam's own
// namespace (DualCam:DisparityScale, DualCam:DisparityOffset), so dualcam reads the disparity
// back in pixels: d = K / Z + o. A photo from elsewhere gives d = 1 / Z (relative).
// With a rig, a few disparities at or below 0 (at most 1 % of the known ones: no finite depth)
// are written as unknown and the depth stays metric. Unknown pixels have confidence 0 in the
// GDepth:Confidence PNG (written whenever there are any, or a confidence map is given).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/image_io.hpp"  // encode_jpeg, which the depth photo's images use
#include "dualcam/engine/report.hpp"

namespace dualcam {

// XMP namespaces.
inline constexpr const char* kNsGDepth = "http://ns.google.com/photos/1.0/depthmap/";
inline constexpr const char* kNsGImage = "http://ns.google.com/photos/1.0/image/";
inline constexpr const char* kNsGFocus = "http://ns.google.com/photos/1.0/focus/";
inline constexpr const char* kNsDualCam = "http://ns.dualcam.org/depthphoto/1.0/";

enum class DepthFormat { RangeInverse, RangeLinear };
const char* to_string(DepthFormat format);

// A depth map as a depth photo stores it (GDepth, or a Dynamic Depth DepthMap).
struct DepthMapData {
  DepthFormat format = DepthFormat::RangeInverse;
  double near = 0, far = 0;  // depth of stored value 0 and of the largest value
  std::string units;         // GDepth:Units as written ("m", "mm"), empty when not given
  std::string mime = "image/png";
  std::vector<std::uint8_t> data;  // the depth image's bytes (PNG or JPEG, 8 or 16 bit grey)
  std::string confidence_mime;     // empty when there is no confidence map
  std::vector<std::uint8_t> confidence;
  // dualcam's disparity scale and offset (d = K / Z + o); unset in a photo from elsewhere.
  std::optional<double> disparity_scale, disparity_offset;
  bool metric = false;  // near/far in the rig's units (dualcam writes DualCam:Metric)
};

// GFocus: the focus of a rendered (bokeh) primary image.
struct DepthPhotoFocus {
  double focal_distance = 0;    // depth of the focus plane, in the depth map's units
  double blur_at_infinity = 0;  // blur radius at infinite depth as a fraction of the image width
  std::optional<double> focal_point_x, focal_point_y;  // the focus point, fractions of width / height
};

struct DepthPhoto {
  std::string container;               // what was read: "GDepth" or "DynamicDepth" (empty: none)
  std::vector<std::uint8_t> primary;   // the primary JPEG (when written: without the metadata)
  std::optional<DepthMapData> depth;
  std::optional<DepthPhotoFocus> focus;
  std::string image_mime;              // GImage:Mime, empty when no GImage
  std::vector<std::uint8_t> image;     // GImage:Data (the all-in-focus image)
};

// ---- encoding a disparity (no I/O) ----

struct DepthEncodeOptions {
  // K = f_view * B for a metric depth (> 0), or 0 for a relative one.
  double disparity_scale = 0;
  // The confidence map to embed (CV_32F in [0,1], same size), or empty; NaN disparities get
  // confidence 0 in any case (a confidence map is then written even when none is given).
  cv::Mat confidence;
  void validate() const;
};

// The disparity (CV_32FC1, NaN unknown) as a RangeInverse 16-bit PNG with near/far (above).
// Throws Error(InvalidInput) when it is not CV_32FC1 or holds no finite value.
DepthMapData encode_disparity(const cv::Mat& disparity, const DepthEncodeOptions& options = {});

// The disparity a depth map stands for (CV_32FC1 at the depth image's size): d = K / Z + o with
// dualcam's K and o, else d = 1 / Z; NaN where the confidence is 0. Reads RangeInverse and
// RangeLinear, PNG or JPEG, 8 or 16 bit. Throws Error(InvalidInput) for an undecodable image or
// near/far that make no sense.
cv::Mat decode_disparity(const DepthMapData& depth);
// The same for a depth value Z of this map's units: K / Z + o (or 1 / Z).
double disparity_of_depth(const DepthMapData& depth, double z);
double depth_of_disparity(const DepthMapData& depth, double d);

// ---- the file format (bytes in memory, no I/O) ----

// The JPEG with the metadata segments inserted after its SOI (and JFIF APP0). `photo.primary`
// must be a JPEG without XMP; `photo.depth` must be set. Throws Error(InvalidInput) otherwise.
std::vector<std::uint8_t> build_depth_photo(const DepthPhoto& photo);
// Reads a JPEG's depth metadata; `container` stays empty (and `depth` unset) for a JPEG without
// any. Throws Error(InvalidInput) naming `name` for a file that is not a JPEG, or whose depth
// metadata is broken (an extended XMP chunk missing, a Container item beyond the file's end).
DepthPhoto parse_depth_photo(const std::uint8_t* data, std::size_t size, const std::string& name);


// ---- files ----
void write_depth_photo(const std::string& path, const DepthPhoto& photo);  // atomic
DepthPhoto read_depth_photo(const std::string& path);

// A depth photo as refocusing takes it (`dualcam bokeh --image photo.jpg`, the Python module's
// read_depth_photo): the image to refocus, its all-in-focus GImage when it has one (a rendered
// primary is already blurred), else the primary; and the disparity at that image's size
// (decode_disparity; a smaller depth map resized to it, its values scaled with it when they are in
// pixels). Error(InvalidInput) "'PATH' carries no depth map (...)" for a JPEG without any.
struct RefocusPhoto {
  DepthPhoto photo;
  cv::Mat image;       // decoded as read_image decodes (8 or 16 bit, grey or BGR)
  bool all_in_focus = false;  // image is the GImage
  cv::Mat disparity;   // CV_32FC1 at image's size, NaN unknown
  // K = f_view * B when the depth is metric and in dualcam's pixels (what --f-number needs).
  std::optional<double> metric_disparity_scale;
};
RefocusPhoto read_refocus_photo(const std::string& path, std::int64_t max_pixels);

// What a file carries, for `dualcam depth-info --json`.
Json depth_photo_json(const DepthPhoto& photo);

// Helpers of the format, also used by the viewer page.
std::string base64_encode(const std::uint8_t* data, std::size_t size);
std::vector<std::uint8_t> base64_decode(const std::string& text);  // skips whitespace; Error on bad text
std::string md5_hex(const std::uint8_t* data, std::size_t size);   // upper-case, 32 digits

}  // namespace dualcam
