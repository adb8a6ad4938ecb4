#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/image_io.hpp"

using namespace dualcam;

namespace {

// A textured grey image: a ramp with noise, so a JPEG round trip moves the channels apart.
cv::Mat grey_texture(cv::Size size) {
  cv::Mat g(size, CV_8U);
  cv::RNG rng(3);
  for (int y = 0; y < size.height; ++y)
    for (int x = 0; x < size.width; ++x)
      g.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(40 + x / 3 + y / 5 + rng.gaussian(12));
  return g;
}

// A JPEG of a grey image whose channels were a level or so apart before (a camera's grey is not
// exactly neutral), as the real mono files of the dev set are: the chroma quantisation moves the
// channels further apart, by 20 or more levels at a few pixels.
cv::Mat jpeg_round_trip(const cv::Mat& bgr, int quality) {
  cv::Mat tinted = bgr.clone();
  cv::RNG rng(11);
  for (int y = 0; y < tinted.rows; ++y)
    for (int x = 0; x < tinted.cols; ++x)
      for (int k = 0; k < 3; ++k) {
        auto& v = tinted.at<cv::Vec3b>(y, x)[k];
        // A slowly varying tint of a level or two (what survives the chroma quantisation) and noise.
        const double tint = k == 1 ? 0.0 : 1.5 * std::sin(x / 17.0 + 2 * k) + 1.5 * std::cos(y / 13.0 + k);
        v = cv::saturate_cast<std::uint8_t>(v + tint + rng.gaussian(1.0));
      }
  std::vector<std::uint8_t> bytes;
  cv::imencode(".jpg", tinted, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
  return cv::imdecode(bytes, cv::IMREAD_COLOR);
}

}  // namespace

TEST_CASE("A grey image stored as RGB through a JPEG is a mono, real colour is refused with the figure",
          "[inputs]") {
  const cv::Mat grey = grey_texture({320, 240});
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  // Exactly equal channels: accepted, the grey comes back unchanged.
  MonoConversion c;
  cv::Mat out = mono_from_image(bgr, "'equal.png'", {}, &c);
  CHECK(c.from_rgb);
  CHECK(c.max_difference == 0);
  CHECK(cv::norm(out, grey, cv::NORM_INF) == 0);
  // Through a JPEG (quality 90): the channels drift apart by a level or so, a few pixels by more.
  const cv::Mat jpeg = jpeg_round_trip(bgr, 90);
  out = mono_from_image(jpeg, "'jpeg.jpg'", {}, &c);
  INFO("JPEG grey: mean channel difference " << c.mean_difference << ", max " << c.max_difference);
  CHECK(c.mean_difference > 0);
  CHECK(c.mean_difference < 4.0);
  REQUIRE(out.type() == CV_8UC1);
  // The stored grey is recovered (BGR2GRAY is JPEG's own Y): within the JPEG's own error.
  CHECK(cv::norm(out, grey, cv::NORM_L1) / double(grey.total()) < 4.0);
  // 16-bit: the same rule on levels scaled by 1/257.
  cv::Mat jpeg16;
  jpeg.convertTo(jpeg16, CV_16U, 257.0);
  MonoConversion c16;
  CHECK(mono_from_image(jpeg16, "'16.png'", {}, &c16).type() == CV_16UC1);
  CHECK(c16.mean_difference == Approx(c.mean_difference).epsilon(1e-6));
  // A colour image: refused, and the message gives the figure.
  cv::Mat colour = bgr.clone();
  colour.forEach<cv::Vec3b>([](cv::Vec3b& p, const int* pos) { p[2] = cv::saturate_cast<std::uint8_t>(p[2] + 30 + pos[1] % 7); });
  try {
    mono_from_image(colour, "'colour.png'", {});
    FAIL("a colour image was accepted as mono");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::InvalidInput);
    CHECK_THAT(e.what(), Catch::Contains("'colour.png' has colour in it") && Catch::Contains("levels on average"));
  }
  // A grey image with a coloured patch over more than the outlier share: refused too.
  cv::Mat patch = bgr.clone();
  patch(cv::Rect(0, 0, 40, 40)).setTo(cv::Scalar(0, 0, 200));
  CHECK_THROWS_AS(mono_from_image(patch, "'patch.png'", {}), Error);
  // Stricter options refuse the JPEG grey.
  InputOptions strict;
  strict.mono_max_mean_difference = 0.0;
  CHECK_THROWS_AS(mono_from_image(jpeg, "'jpeg.jpg'", strict), Error);
}

TEST_CASE("The colour rule and the pair", "[inputs]") {
  const cv::Mat grey = grey_texture({64, 48});
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  CHECK_THROWS_WITH(color_from_image(grey, "'c.png'"), Catch::Contains("'c.png' has 1 channel(s); expected 3"));
  CHECK_THROWS_AS(color_from_image(cv::Mat(), "'c.png'"), Error);
  cv::Mat f32;
  bgr.convertTo(f32, CV_32F);
  CHECK_THROWS_WITH(color_from_image(f32, "'c.exr'"), Catch::Contains("8- or 16-bit"));
  const CameraPair p = camera_pair(bgr, bgr);
  CHECK(p.mono.channels() == 1);
  CHECK(p.mono_conversion.from_rgb);
  CHECK(p.color.channels() == 3);
  InputOptions bad;
  bad.mono_max_outlier_share = 2;
  CHECK_THROWS_WITH(camera_pair(grey, bgr, bad), Catch::Contains("InputOptions::mono_max_outlier_share"));
}

namespace {

// `jpeg` with an Exif APP1 segment holding only the Orientation tag, inserted after SOI, as a
// phone writes a photo taken with the camera turned (the pixels stay as the sensor read them).
std::vector<std::uint8_t> with_exif_orientation(const std::vector<std::uint8_t>& jpeg, int orientation) {
  auto be16 = [](std::vector<std::uint8_t>& v, int x) {
    v.push_back(std::uint8_t(x >> 8));
    v.push_back(std::uint8_t(x));
  };
  auto be32 = [&](std::vector<std::uint8_t>& v, std::uint32_t x) {
    be16(v, int(x >> 16));
    be16(v, int(x & 0xFFFF));
  };
  std::vector<std::uint8_t> tiff{'M', 'M', 0, 42};
  be32(tiff, 8);   // IFD0 offset
  be16(tiff, 1);   // one entry
  be16(tiff, 0x0112);  // Orientation
  be16(tiff, 3);   // SHORT
  be32(tiff, 1);   // count
  be16(tiff, orientation);
  be16(tiff, 0);
  be32(tiff, 0);   // no next IFD
  std::vector<std::uint8_t> app1{'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  std::vector<std::uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  out.push_back(0xFF);
  out.push_back(0xE1);
  be16(out, int(app1.size()) + 2);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

}  // namespace

TEST_CASE("A JPEG's EXIF orientation is honoured: a photo taken turned reads upright", "[inputs]") {
  // An asymmetric image (a bright block at the top left), stored turned 90 degrees
  // counter-clockwise with Orientation 6 ("rotate 90 CW to display"), as a phone held upright
  // in landscape-sensor orientation writes it.
  cv::Mat upright = grey_texture({96, 64});
  upright(cv::Rect(0, 0, 24, 16)).setTo(255);
  cv::Mat stored;
  cv::rotate(upright, stored, cv::ROTATE_90_COUNTERCLOCKWISE);
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", stored, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  const cv::Mat plain = decode_image(jpeg.data(), jpeg.size(), "stored.jpg");
  CHECK(plain.size() == cv::Size(64, 96));  // no tag: as stored
  const std::vector<std::uint8_t> tagged = with_exif_orientation(jpeg, 6);
  const cv::Mat read = decode_image(tagged.data(), tagged.size(), "tagged.jpg");
  REQUIRE(read.size() == upright.size());
  cv::Mat grey_read = read.channels() == 3 ? mono_from_image(read, "'tagged.jpg'", {}, nullptr) : read;
  // The same pixels up to the JPEG's loss: the block is back at the top left.
  CHECK(cv::mean(grey_read(cv::Rect(0, 0, 24, 16)))[0] > 240);
  CHECK(cv::PSNR(grey_read, upright) > 30);
}
