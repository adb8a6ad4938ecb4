// Depth photos (engine/depth_photo.hpp): the disparity's round trip, the file format, and the
// files read back by the tools users have (exiftool, exiv2; the cases skip when one is missing).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <algorithm>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "support.hpp"

using namespace dualcam;

namespace {

cv::Mat test_disparity(int w, int h) {
  cv::Mat d(h, w, CV_32F);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) d.at<float>(y, x) = float(8.0 + 30.0 * x / w + 5.0 * std::sin(y * 0.1));
  return d;
}

cv::Mat test_image(int w, int h) {
  cv::Mat img(h, w, CV_8UC3);
  cv::randu(img, 0, 255);
  cv::GaussianBlur(img, img, cv::Size(5, 5), 1.5);
  return img;
}

DepthPhoto test_photo(bool with_image) {
  DepthPhoto p;
  p.primary = encode_jpeg(test_image(160, 120));
  DepthEncodeOptions eo;
  eo.disparity_scale = 700.0 * 12.0;  // f = 700 px, B = 12 mm
  cv::Mat d = test_disparity(160, 120);
  d.at<float>(5, 7) = std::numeric_limits<float>::quiet_NaN();
  p.depth = encode_disparity(d, eo);
  p.focus = DepthPhotoFocus{123.5, 0.0125, 0.25, 0.75};
  if (with_image) {
    p.image = encode_jpeg(test_image(160, 120));
    p.image_mime = "image/jpeg";
  }
  return p;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace

TEST_CASE("MD5 and base64 of the depth photo format match their specifications", "[engine][depth_photo]") {
  const std::string abc = "abc";
  CHECK(md5_hex(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()) == "900150983CD24FB0D6963F7D28E17F72");
  CHECK(md5_hex(nullptr, 0) == "D41D8CD98F00B204E9800998ECF8427E");
  const std::string long_text(1000, 'a');  // several blocks, padding into a second block
  CHECK(md5_hex(reinterpret_cast<const std::uint8_t*>(long_text.data()), long_text.size()) ==
        "CABE45DCC9AE5B66BA86600CCA6B8BA8");
  for (std::size_t n : {0, 1, 2, 3, 4, 5, 100}) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = std::uint8_t(i * 37 + 11);
    CHECK(base64_decode(base64_encode(b.data(), b.size())) == b);
  }
  CHECK(base64_encode(reinterpret_cast<const std::uint8_t*>("Man"), 3) == "TWFu");
  CHECK(base64_encode(reinterpret_cast<const std::uint8_t*>("Ma"), 2) == "TWE=");
  CHECK_THROWS_AS(base64_decode("TW*u"), Error);
}

TEST_CASE("A disparity comes back from a depth photo within one quantisation level", "[engine][depth_photo]") {
  const cv::Mat d = test_disparity(320, 240);
  double lo, hi;
  cv::minMaxLoc(d, &lo, &hi);
  const double level = (hi - lo) / 65535.0;
  for (double scale : {0.0, 8400.0}) {
    DepthEncodeOptions eo;
    eo.disparity_scale = scale;
    DepthPhoto p;
    p.primary = encode_jpeg(test_image(320, 240));
    p.depth = encode_disparity(d, eo);
    CHECK(p.depth->format == DepthFormat::RangeInverse);
    CHECK(p.depth->metric == (scale > 0));
    if (scale > 0) {  // near/far in the rig's units: Z = f B / d
      CHECK(p.depth->near == Approx(scale / hi).epsilon(1e-12));
      CHECK(p.depth->far == Approx(scale / lo).epsilon(1e-12));
    } else {
      CHECK(p.depth->near == Approx(1.0));
    }
    const std::vector<std::uint8_t> bytes = build_depth_photo(p);
    const DepthPhoto r = parse_depth_photo(bytes.data(), bytes.size(), "mem");
    REQUIRE(r.container == "GDepth");
    REQUIRE(r.depth);
    CHECK(r.depth->data == p.depth->data);
    const cv::Mat back = decode_disparity(*r.depth);
    REQUIRE(back.size() == d.size());
    cv::Mat diff;
    cv::absdiff(back, d, diff);
    double worst;
    cv::minMaxLoc(diff, nullptr, &worst);
    INFO("scale " << scale << ": max difference " << worst << " px, one level " << level << " px ("
                  << worst / level << " levels)");
    WARN("depth photo round trip (scale " << scale << "): max |d' - d| = " << worst << " px = " << worst / level
                                          << " quantisation levels");
    CHECK(worst <= level);
    // the decoded image is the primary JPEG unchanged
    const cv::Mat a = cv::imdecode(p.primary, cv::IMREAD_COLOR), b = cv::imdecode(bytes, cv::IMREAD_COLOR);
    CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  }
}

TEST_CASE("Unknown disparities survive a depth photo as unknown, through the confidence map", "[engine][depth_photo]") {
  DepthPhoto p = test_photo(false);
  REQUIRE_FALSE(p.depth->confidence.empty());
  const std::vector<std::uint8_t> bytes = build_depth_photo(p);
  const DepthPhoto r = parse_depth_photo(bytes.data(), bytes.size(), "mem");
  const cv::Mat back = decode_disparity(*r.depth);
  CHECK(std::isnan(back.at<float>(5, 7)));
  CHECK(std::isfinite(back.at<float>(5, 8)));
  REQUIRE(r.focus);
  CHECK(r.focus->focal_distance == 123.5);
  CHECK(r.focus->blur_at_infinity == 0.0125);
  CHECK(*r.focus->focal_point_x == 0.25);
  CHECK(*r.focus->focal_point_y == 0.75);
}

TEST_CASE("Large depth photos span many extended XMP segments", "[engine][depth_photo]") {
  DepthPhoto p = test_photo(false);
  cv::Mat noise(600, 800, CV_8UC3);
  cv::randu(noise, 0, 255);  // incompressible: about 1.4 MB of JPEG, ~30 segments of base64
  p.image = encode_jpeg(noise, 100);
  p.image_mime = "image/jpeg";
  const std::vector<std::uint8_t> bytes = build_depth_photo(p);
  const DepthPhoto r = parse_depth_photo(bytes.data(), bytes.size(), "mem");
  CHECK(r.image == p.image);
  CHECK(r.image_mime == "image/jpeg");
  // a chunk cut out: refused with a line naming it
  std::vector<std::uint8_t> broken = bytes;
  const std::string ext = "http://ns.adobe.com/xmp/extension/";
  auto it = std::search(broken.begin() + 100, broken.end(), ext.begin(), ext.end());
  auto it2 = std::search(it + 1, broken.end(), ext.begin(), ext.end());
  REQUIRE(it2 != broken.end());
  // turn the second chunk's header into something else: the packet is incomplete
  *(it2 + 7) = 'X';
  try {
    parse_depth_photo(broken.data(), broken.size(), "cut.jpg");
    FAIL("a photo with a missing extended XMP chunk was read");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("incomplete") != std::string::npos);
  }
}

TEST_CASE("Bad input to the depth photo format is refused", "[engine][depth_photo][bad]") {
  CHECK_THROWS_AS(encode_disparity(cv::Mat(4, 4, CV_32F, cv::Scalar(std::nanf(""))), {}), Error);
  CHECK_THROWS_AS(encode_disparity(cv::Mat(4, 4, CV_8U, cv::Scalar(3)), {}), Error);
  DepthEncodeOptions eo;
  eo.disparity_scale = -1;
  CHECK_THROWS_AS(encode_disparity(test_disparity(8, 8), eo), Error);
  const std::uint8_t png[] = {0x89, 'P', 'N', 'G', 0, 0, 0, 0};
  CHECK_THROWS_AS(parse_depth_photo(png, sizeof png, "x.png"), Error);
  DepthPhoto none;
  none.primary = encode_jpeg(test_image(16, 16));
  CHECK_THROWS_AS(build_depth_photo(none), Error);
  const DepthPhoto plain = parse_depth_photo(none.primary.data(), none.primary.size(), "plain.jpg");
  CHECK(plain.container.empty());
  CHECK_FALSE(plain.depth);
  // a constant disparity still gives near != far
  const DepthMapData c = encode_disparity(cv::Mat(8, 8, CV_32F, cv::Scalar(10.0f)), {});
  CHECK(c.near != c.far);
  CHECK(decode_disparity(c).at<float>(3, 3) == Approx(10.0f).margin(1e-3));
  // disparities at and below zero: relative depth with an offset, still read back in pixels
  cv::Mat z = test_disparity(64, 48) - 20.0;
  const DepthMapData zm = encode_disparity(z, {});
  CHECK_FALSE(zm.metric);
  CHECK(*zm.disparity_offset < 0);
  cv::Mat diff;
  cv::absdiff(decode_disparity(zm), z, diff);
  CHECK(cv::norm(diff, cv::NORM_INF) < 1e-3);
}

TEST_CASE("exiftool reads every field of a depth photo and extracts the depth image byte for byte",
          "[engine][depth_photo][tools]") {
  if (!test::have_tool("exiftool")) DUALCAM_SKIP("exiftool is not installed (Debian libimage-exiftool-perl)");
  test::TempDir dir;
  const DepthPhoto p = test_photo(true);
  const std::string path = dir / "photo.jpg";
  write_depth_photo(path, p);
  auto r = test::run_shell("exiftool -json -n " + q(path));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out)[0];
  INFO(j.dump(1));
  CHECK(j.value("Format", "") == "RangeInverse");
  CHECK(j["Near"].get<double>() == Approx(p.depth->near).epsilon(1e-9));
  CHECK(j["Far"].get<double>() == Approx(p.depth->far).epsilon(1e-9));
  CHECK(j.value("Mime", "") == "image/png");
  CHECK(j.value("ConfidenceMime", "") == "image/png");
  CHECK(j.value("MeasureType", "") == "OpticalAxis");
  CHECK(j["ImageMimeType"] == "image/jpeg");
  CHECK(j["FocalDistance"].get<double>() == 123.5);
  CHECK(j["BlurAtInfinity"].get<double>() == 0.0125);
  CHECK(j["FocalPointX"].get<double>() == 0.25);
  CHECK(j["FocalPointY"].get<double>() == 0.75);
  CHECK(j.value("HasExtendedXMP", "").size() == 32);
  CHECK(r.err.find("Warning") == std::string::npos);
  CHECK(r.out.find("Warning") == std::string::npos);  // e.g. "Invalid extended XMP GUID"
  // the images, byte for byte
  for (const auto& [tag, bytes] : {std::make_pair(std::string("XMP-GDepth:DepthImage"), p.depth->data),
                                   std::make_pair(std::string("XMP-GDepth:Confidence"), p.depth->confidence),
                                   std::make_pair(std::string("XMP-GImage:ImageData"), p.image)}) {
    const std::string out = dir / "extracted.bin";
    r = test::run_shell("exiftool -b -" + tag + " " + q(path) + " > " + q(out));
    REQUIRE(r.exit_code == 0);
    INFO(tag);
    CHECK(read_file_bytes(out) == bytes);
  }
  // -X: the RDF/XML names the namespaces
  r = test::run_shell("exiftool -X -XMP-GDepth:all -XMP-GFocus:all -XMP-GImage:all " + q(path));
  REQUIRE(r.exit_code == 0);
  for (const char* tag : {"XMP-GDepth:Format>RangeInverse<", "XMP-GDepth:Near>", "XMP-GDepth:Far>", "XMP-GDepth:Mime>image/png<",
                          "XMP-GFocus:FocalDistance>123.5<", "XMP-GImage:ImageMimeType>image/jpeg<"})
    CHECK(r.out.find(tag) != std::string::npos);
}

TEST_CASE("exiv2 reads every field of a depth photo", "[engine][depth_photo][tools]") {
  if (!test::have_tool("exiv2")) DUALCAM_SKIP("exiv2 is not installed (Debian exiv2)");
  test::TempDir dir;
  const DepthPhoto p = test_photo(true);
  const std::string path = dir / "photo.jpg";
  write_depth_photo(path, p);
  // exiv2 -pX prints the raw XMP segment it kept (0.27 keeps the last APP1 XMP segment, here an
  // extended chunk): not the parsed packet, so -pa is what is checked.
  auto r = test::run_shell("exiv2 -pa -K Xmp.GDepth.Format -K Xmp.GDepth.Near -K Xmp.GDepth.Far -K Xmp.GDepth.Mime "
                      "-K Xmp.GDepth.ConfidenceMime -K Xmp.GDepth.MeasureType -K Xmp.xmpNote.HasExtendedXMP -K Xmp.GFocus.FocalDistance "
                      "-K Xmp.GFocus.BlurAtInfinity -K Xmp.GFocus.FocalPointX -K Xmp.GFocus.FocalPointY -K Xmp.GImage.Mime " +
                      q(path));
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  auto value_of = [&](const std::string& key) {
    std::size_t at = r.out.find(key + " ");
    if (at == std::string::npos) return std::string();
    const std::size_t eol = r.out.find('\n', at);
    const std::string line = r.out.substr(at, eol - at);
    // "Xmp.GDepth.Near                              XmpText    17  2.4...": the value after the size
    std::istringstream ls(line);
    std::string k, type, value;
    std::size_t size;
    ls >> k >> type >> size;
    std::getline(ls, value);
    return value.substr(value.find_first_not_of(' '));
  };
  CHECK(value_of("Xmp.GDepth.Format") == "RangeInverse");
  CHECK(std::stod(value_of("Xmp.GDepth.Near")) == Approx(p.depth->near).epsilon(1e-12));
  CHECK(std::stod(value_of("Xmp.GDepth.Far")) == Approx(p.depth->far).epsilon(1e-12));
  CHECK(value_of("Xmp.GDepth.Mime") == "image/png");
  CHECK(value_of("Xmp.GDepth.ConfidenceMime") == "image/png");
  CHECK(value_of("Xmp.GFocus.FocalDistance") == "123.5");
  CHECK(value_of("Xmp.GFocus.BlurAtInfinity") == "0.0125");
  CHECK(value_of("Xmp.GFocus.FocalPointX") == "0.25");
  CHECK(value_of("Xmp.GFocus.FocalPointY") == "0.75");
  CHECK(value_of("Xmp.GImage.Mime") == "image/jpeg");
  CHECK(value_of("Xmp.GDepth.MeasureType") == "OpticalAxis");
  CHECK(value_of("Xmp.xmpNote.HasExtendedXMP").size() == 32);
  // The images live in the extended XMP, which exiv2 0.27 does not join to the packet (it reads
  // the standard packet only); exiftool extracts them byte for byte (the case above).
}

TEST_CASE("A GDepth photo written by exiftool, not by dualcam, is read", "[engine][depth_photo][tools]") {
  if (!test::have_tool("exiftool")) DUALCAM_SKIP("exiftool is not installed (Debian libimage-exiftool-perl)");
  test::TempDir dir;
  const std::string plain = dir / "plain.jpg", depth_png = dir / "depth.png", out = dir / "photo.jpg";
  const std::vector<std::uint8_t> jpeg = encode_jpeg(test_image(64, 48));
  write_file_atomic(plain, jpeg.data(), jpeg.size());
  // an 8-bit RangeLinear depth image: depth 2 + 3 * v / 255 (near 2, far 5)
  cv::Mat v(48, 64, CV_8U);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) v.at<std::uint8_t>(y, x) = std::uint8_t(x * 4);
  cv::imwrite(depth_png, v);
  auto r = test::run_shell("exiftool -q -o " + q(out) + " -XMP-GDepth:Format=RangeLinear -XMP-GDepth:Near=2 "
                           "-XMP-GDepth:Far=5 -XMP-GDepth:Mime=image/png '-XMP-GDepth:DepthImage<=" + depth_png + "' " +
                           "-XMP-GFocus:FocalDistance=3.5 " + q(plain));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const DepthPhoto p = read_depth_photo(out);
  REQUIRE(p.container == "GDepth");
  REQUIRE(p.depth);
  CHECK(p.depth->format == DepthFormat::RangeLinear);
  CHECK(p.depth->near == 2);
  CHECK(p.depth->far == 5);
  CHECK_FALSE(p.depth->disparity_scale);  // not dualcam's: relative, d = 1 / Z
  CHECK(p.depth->data == read_file_bytes(depth_png));
  REQUIRE(p.focus);
  CHECK(p.focus->focal_distance == 3.5);
  const cv::Mat d = decode_disparity(*p.depth);
  for (int x : {0, 10, 63}) CHECK(d.at<float>(7, x) == Approx(1.0 / (2.0 + 3.0 * (x * 4) / 255.0)).epsilon(1e-6));
}

TEST_CASE("A Dynamic Depth 1.0 photo (Container directory, depth appended) is read", "[engine][depth_photo]") {
  const std::vector<std::uint8_t> primary = encode_jpeg(test_image(64, 48));
  cv::Mat v(24, 32, CV_16U);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x) v.at<std::uint16_t>(y, x) = std::uint16_t(x * 2000);
  std::vector<std::uint8_t> depth_png;
  cv::imencode(".png", v, depth_png);
  const std::vector<std::uint8_t> other = {1, 2, 3, 4, 5, 6, 7};  // an item before the depth, with padding after
  const std::string xmp =
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
      "<rdf:Description rdf:about=\"\" xmlns:Device=\"http://ns.google.com/photos/dd/1.0/device/\" "
      "xmlns:Container=\"http://ns.google.com/photos/dd/1.0/container/\" "
      "xmlns:Item=\"http://ns.google.com/photos/dd/1.0/item/\" xmlns:Camera=\"http://ns.google.com/photos/dd/1.0/camera/\" "
      "xmlns:DepthMap=\"http://ns.google.com/photos/dd/1.0/depthmap/\">"
      "<Device:Container><Container:Directory><rdf:Seq>"
      "<rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Mime=\"image/jpeg\" Item:Semantic=\"Primary\"/></rdf:li>"
      "<rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Mime=\"application/octet-stream\" Item:Length=\"7\" "
      "Item:Padding=\"3\" Item:Semantic=\"Other\"/></rdf:li>"
      "<rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Mime=\"image/png\" Item:Length=\"" +
      std::to_string(depth_png.size()) + "\" Item:Semantic=\"Depth\" Item:DataURI=\"android/depthmap\"/></rdf:li>"
      "</rdf:Seq></Container:Directory></Device:Container>"
      "<Device:Cameras><rdf:Seq><rdf:li rdf:parseType=\"Resource\"><Camera:DepthMap rdf:parseType=\"Resource\">"
      "<DepthMap:Format>RangeInverse</DepthMap:Format><DepthMap:Near>0.5</DepthMap:Near><DepthMap:Far>4</DepthMap:Far>"
      "<DepthMap:Units>Meters</DepthMap:Units><DepthMap:DepthURI>android/depthmap</DepthMap:DepthURI>"
      "</Camera:DepthMap></rdf:li></rdf:Seq></Device:Cameras>"
      "</rdf:Description></rdf:RDF></x:xmpmeta>";
  std::vector<std::uint8_t> file(primary.begin(), primary.begin() + 2);
  const std::string head = std::string("http://ns.adobe.com/xap/1.0/") + '\0';
  const std::size_t len = 2 + head.size() + xmp.size();
  file.insert(file.end(), {0xFF, 0xE1, std::uint8_t(len >> 8), std::uint8_t(len & 0xFF)});
  file.insert(file.end(), head.begin(), head.end());
  file.insert(file.end(), xmp.begin(), xmp.end());
  file.insert(file.end(), primary.begin() + 2, primary.end());
  file.insert(file.end(), other.begin(), other.end());
  file.insert(file.end(), {0, 0, 0});
  file.insert(file.end(), depth_png.begin(), depth_png.end());
  const DepthPhoto p = parse_depth_photo(file.data(), file.size(), "dd.jpg");
  REQUIRE(p.container == "DynamicDepth");
  REQUIRE(p.depth);
  CHECK(p.depth->data == depth_png);
  CHECK(p.depth->near == 0.5);
  CHECK(p.depth->far == 4);
  CHECK(p.depth->units == "Meters");
  const cv::Mat d = decode_disparity(*p.depth);
  REQUIRE(d.size() == cv::Size(32, 24));
  // RangeInverse: 1/Z = 1/near - v (1/near - 1/far)
  for (int x : {0, 15, 31}) {
    const double vn = x * 2000 / 65535.0;
    CHECK(d.at<float>(3, x) == Approx(1.0 / 0.5 - vn * (1.0 / 0.5 - 1.0 / 4.0)).epsilon(1e-6));
  }
  // the depth item claimed longer than the file: refused
  std::vector<std::uint8_t> cut(file.begin(), file.end() - 10);
  CHECK_THROWS_AS(parse_depth_photo(cut.data(), cut.size(), "cut.jpg"), Error);
}
