// The merges on generated images with a known truth: the mono's spectral response and its
// clipping are recovered from the data, and clipped areas take the colour camera's luminance.
#include <catch2/catch.hpp>

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/merge.hpp"

using namespace dualcam;

namespace {
// A deterministic linear BGR scene: coloured patches with a smooth ramp and fine stripes, and a
// bright (near white) smooth highlight in the middle whose mono response exceeds 1 in its centre
// for gains above ~1.07 (the clip contour then lies inside the smooth part, where a seam would show).
cv::Mat make_scene() {
  cv::Mat img(96, 128, CV_32FC3);
  const cv::Vec3f colours[4] = {{0.10f, 0.35f, 0.60f}, {0.55f, 0.30f, 0.08f}, {0.20f, 0.50f, 0.20f}, {0.45f, 0.15f, 0.40f}};
  for (int r = 0; r < img.rows; ++r)
    for (int c = 0; c < img.cols; ++c) {
      const cv::Vec3f base = colours[(r / 48) * 2 + c / 64];
      const float shade = 0.6f + 0.4f * float(c % 64) / 63.0f + ((r / 3) % 2 ? 0.05f : -0.05f);
      img.at<cv::Vec3f>(r, c) = base * shade;
    }
  // A smooth highlight: brightest in the middle, falling off quadratically to radius 22.
  for (int r = 0; r < img.rows; ++r)
    for (int c = 0; c < img.cols; ++c) {
      const double q = (std::pow(c - 64.0, 2) + std::pow(r - 48.0, 2)) / (22.0 * 22.0);
      if (q < 1) img.at<cv::Vec3f>(r, c) = cv::Vec3f(0.93f, 0.95f, 0.97f) * float(0.98 - 0.5 * q);
    }
  return img;
}

cv::Mat mono_of(const cv::Mat& bgr, cv::Vec3f weights, float gain) {
  cv::Mat m;
  cv::transform(bgr, m, cv::Matx13f(gain * weights[0], gain * weights[1], gain * weights[2]));
  return cv::min(m, 1.0);  // the sensor clips
}
// merge_reference_color's image on 1 thread, checked to be the same on 3.
cv::Mat merge_color_on_1_and_3_threads(const cv::Mat& color, const cv::Mat& mono, const cv::Mat& valid,
                                       const fusion::MergeOptions& o) {
  cv::Mat one;
  {
    ThreadScope t(1);
    one = t.run([&] { return fusion::merge_reference_color(color, mono, valid, o).image; });
  }
  ThreadScope t(3);
  const cv::Mat three = t.run([&] { return fusion::merge_reference_color(color, mono, valid, o).image; });
  CHECK(cv::norm(one, three, cv::NORM_INF) == 0);
  return one;
}
}  // namespace

TEST_CASE("merge_reference_mono recovers the mono's response and takes clipped luminance from the colour",
          "[fusion][merge]") {
  const cv::Mat truth = make_scene();
  const cv::Vec3f weights(0.20f, 0.40f, 0.40f);
  const float gain = 1.3f;
  const cv::Mat mono = mono_of(truth, weights, gain);
  const cv::Mat valid(truth.size(), CV_8U, cv::Scalar(255));
  fusion::MergeResult m = fusion::merge_reference_mono(mono, truth, valid, fusion::MergeOptions{});

  // The clip is found in the data: the highlight's centre, at level 1.
  const cv::Mat clipped = mono >= 0.995f;  // within 0.5 % of the level, as documented
  const double share = double(cv::countNonZero(clipped)) / double(clipped.total());
  REQUIRE(share > 0.01);
  CHECK(m.mono_clip_level == Approx(1.0).epsilon(1e-6));
  CHECK(m.mono_clipped_share == Approx(share).epsilon(1e-6));
  // The response (weights x gain), from the unclipped pixels.
  for (int k = 0; k < 3; ++k) CHECK(m.mono_response[k] == Approx(gain * weights[k]).margin(0.03));

  // Inside the clip the mono says only "at least 1": the luminance must be the colour camera's.
  cv::Mat inner;
  cv::erode(clipped, inner, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(9, 9)));
  REQUIRE(cv::countNonZero(inner) > 100);
  const cv::Mat out8 = to_srgb8(m.image), truth8 = to_srgb8(truth);
  CHECK(psnr8(out8, truth8, inner) > 50.0);  // measured 60.5
  CHECK(psnr8(out8, truth8) > 34.0);  // measured 35.6
  // No seam at the clip's edge: the ring of pixels around it is as good as the image.
  cv::Mat ring, grown;
  cv::dilate(clipped, grown, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(7, 7)));
  cv::erode(clipped, ring, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(7, 7)));
  ring = grown & ~ring;
  CHECK(psnr8(out8, truth8, ring) > 40.0);  // measured 46.1
}

TEST_CASE("merge_reference_mono: an unclipped mono marks nothing as clipped", "[fusion][merge]") {
  const cv::Mat truth = make_scene();
  const cv::Mat mono = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 0.8f);  // never reaches 1
  const cv::Mat valid(truth.size(), CV_8U, cv::Scalar(255));
  fusion::MergeResult m = fusion::merge_reference_mono(mono, truth, valid, fusion::MergeOptions{});
  CHECK(m.mono_clipped_share == 0.0);
  CHECK(psnr8(to_srgb8(m.image), to_srgb8(truth)) > 33.0);  // measured 34.4
}

TEST_CASE("merge_reference_color finds the mono's clip level in the data", "[fusion][merge]") {
  const cv::Mat truth = make_scene();
  const cv::Mat mono = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.2f) * 0.9;  // clips at 0.9
  const cv::Mat valid(truth.size(), CV_8U, cv::Scalar(255));
  fusion::MergeResult m = fusion::merge_reference_color(truth, mono, valid, fusion::MergeOptions{});
  CHECK(m.mono_clip_level == Approx(0.9).epsilon(1e-5));
  CHECK(m.mono_clipped_share > 0.01);
  // Clipped pixels are not used: the weight there is 0.
  const cv::Mat clipped = mono >= 0.9f * 0.995f;
  CHECK(cv::mean(m.weight, clipped)[0] == Approx(0.0).margin(1e-6));
}

TEST_CASE("merge_reference_mono: holes take their neighbours' colour, the same for any thread count and size",
          "[fusion][merge][threads]") {
  // 128x96 divides by 4 (chroma reduced by blocks in one pass), 127x95 does not (reduced by
  // area): both must fill a hole of the warp with the colour around it.
  for (const cv::Size size : {cv::Size(128, 96), cv::Size(127, 95)}) {
    const cv::Mat truth = make_scene()(cv::Rect(cv::Point(0, 0), size)).clone();
    const cv::Mat mono = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.15f);
    cv::Mat valid(size, CV_8U, cv::Scalar(255));
    const cv::Rect hole(20, 10, 12, 20);  // inside the first patch, away from its edges
    valid(hole).setTo(0);
    cv::Mat warped = truth.clone();
    warped(hole).setTo(cv::Scalar(0.9, 0.0, 0.9));  // what a wrong warp would bring
    fusion::MergeResult a, b;
    {
      ThreadScope t(1);
      a = t.run([&] { return fusion::merge_reference_mono(mono, warped, valid, fusion::MergeOptions{}); });
    }
    {
      ThreadScope t(3);
      b = t.run([&] { return fusion::merge_reference_mono(mono, warped, valid, fusion::MergeOptions{}); });
    }
    INFO(size.width << "x" << size.height);
    CHECK(cv::norm(a.image, b.image, cv::NORM_INF) == 0);
    CHECK(cv::norm(a.weight, b.weight, cv::NORM_INF) == 0);
    CHECK(cv::mean(a.weight(hole))[0] == 0.0);
    cv::Mat inner_mask = cv::Mat::zeros(size, CV_8U);
    inner_mask(cv::Rect(hole.x + 3, hole.y + 3, hole.width - 6, hole.height - 6)).setTo(255);
    const double hole_psnr = psnr8(to_srgb8(a.image), to_srgb8(truth), inner_mask);
    INFO("PSNR inside the hole " << hole_psnr);
    // The magenta the warp brought there is far off (~6 dB); the filled colour is close.
    CHECK(psnr8(to_srgb8(warped), to_srgb8(truth), inner_mask) < 10.0);
    CHECK(hole_psnr > 20.0);  // measured 22.5 (128x96), 21.9 (127x95), as before the one-pass merge
    CHECK(psnr8(to_srgb8(a.image), to_srgb8(truth)) > 32.0);  // measured 33.3, 32.9
  }
}

TEST_CASE("merge_reference_mono: a warped colour of another surface lends no chroma, even where the warp says valid",
          "[fusion][merge]") {
  // As at an occlusion the refine stage filled with the background's disparity: the warp is
  // "valid" there but fetched the occluding surface, brighter and of another hue. The
  // consistency check (the mono's response to it against what the mono read) finds it, and the
  // fill brings the surrounding surface's chroma; without the check the wrong hue stays.
  const cv::Mat truth = make_scene();
  const cv::Mat mono = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.15f);
  const cv::Mat valid(truth.size(), CV_8U, cv::Scalar(255));
  const cv::Rect wrong(20, 10, 12, 20);  // inside the first patch, away from its edges
  cv::Mat warped = truth.clone();
  warped(wrong).setTo(cv::Scalar(0.8, 0.1, 0.8));
  cv::Mat inner = cv::Mat::zeros(truth.size(), CV_8U);
  inner(cv::Rect(wrong.x + 3, wrong.y + 3, wrong.width - 6, wrong.height - 6)).setTo(255);
  fusion::MergeOptions on, off;
  off.chroma_consistency = 0;
  const fusion::MergeResult checked = fusion::merge_reference_mono(mono, warped, valid, on);
  const fusion::MergeResult trusted = fusion::merge_reference_mono(mono, warped, valid, off);
  // The best the check can do: the warp itself marking the area a hole.
  cv::Mat hole = valid.clone();
  hole(wrong).setTo(0);
  const fusion::MergeResult ideal = fusion::merge_reference_mono(mono, warped, hole, off);
  const double checked_chroma = chroma_rms8(to_srgb8(checked.image), to_srgb8(truth), inner);
  const double trusted_chroma = chroma_rms8(to_srgb8(trusted.image), to_srgb8(truth), inner);
  const double ideal_chroma = chroma_rms8(to_srgb8(ideal.image), to_srgb8(truth), inner);
  INFO("chroma error inside: checked " << checked_chroma << ", trusted " << trusted_chroma << ", a hole "
                                       << ideal_chroma);
  CHECK(cv::mean(checked.weight(wrong))[0] < 0.1);  // its rim is feathered
  CHECK(cv::mean(trusted.weight(wrong))[0] == 1.0);
  CHECK(trusted_chroma > 3.0 * ideal_chroma);
  CHECK(checked_chroma < 1.25 * ideal_chroma);
  // Away from it, the check changes nothing the warp got right.
  cv::Mat away(truth.size(), CV_8U, cv::Scalar(255));
  away(cv::Rect(wrong.x - 12, wrong.y - 12, wrong.width + 24, wrong.height + 24) & cv::Rect(cv::Point(), truth.size()))
      .setTo(0);
  CHECK(psnr8(to_srgb8(checked.image), to_srgb8(trusted.image), away) > 45.0);
}

TEST_CASE("merge_reference_mono: far from any chroma the fill fades to grey rather than carry a hue",
          "[fusion][merge]") {
  // A green ramp whose chroma is known at its left end only (32 px): without the neutral weight
  // the fill carries the green 90-130 px into the hole; with it, that far the output is nearly
  // grey (beyond ~120 px the fill's reach ends and both are grey).
  cv::Mat truth(96, 256, CV_32FC3);
  for (int r = 0; r < truth.rows; ++r)
    for (int c = 0; c < truth.cols; ++c)
      truth.at<cv::Vec3f>(r, c) =
          cv::Vec3f(0.2f, 0.5f, 0.25f) * (0.5f + 0.5f * float(c) / 255.0f + ((r / 3) % 2 ? 0.03f : -0.03f));
  const cv::Mat mono = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.15f);
  cv::Mat valid(truth.size(), CV_8U, cv::Scalar(0));
  valid(cv::Rect(0, 0, 32, 96)).setTo(255);
  fusion::MergeOptions neutral, carry;
  carry.fill_neutral = 0;
  auto chroma_far = [&](const fusion::MergeOptions& o) {
    const cv::Mat out = to_srgb8(fusion::merge_reference_mono(mono, truth, valid, o).image);
    cv::Mat g, grey;
    cv::cvtColor(out, g, cv::COLOR_BGR2GRAY);
    cv::cvtColor(g, grey, cv::COLOR_GRAY2BGR);
    cv::Mat far = cv::Mat::zeros(truth.size(), CV_8U);
    far(cv::Rect(120, 0, 40, 96)).setTo(255);
    return chroma_rms8(out, grey, far);  // the output's own chroma there
  };
  const double with = chroma_far(neutral), without = chroma_far(carry);
  INFO("chroma far from the known patch: neutral " << with << ", carried " << without);
  CHECK(without > 10.0);
  CHECK(with < 0.5 * without);
}

TEST_CASE("The merges refuse images of the wrong type, size or none at all, naming the function",
          "[fusion][merge][bad]") {
  const cv::Mat bgr(40, 60, CV_32FC3, cv::Scalar(0.2, 0.3, 0.4)), grey(40, 60, CV_32FC1, cv::Scalar(0.3));
  const cv::Mat valid(40, 60, CV_8UC1, cv::Scalar(255));
  const cv::Mat none3(0, 0, CV_32FC3), none1(0, 0, CV_32FC1), none8(0, 0, CV_8UC1);
  const fusion::MergeOptions o;
  auto refused = [](auto&& call, const char* function) {
    try {
      call();
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.category() == ErrorCategory::InvalidInput);
      CHECK_THAT(e.what(), Catch::Contains(function));
    }
  };
  // Colour and grey swapped, a size mismatch, a mask of another type, and empty images (which
  // crashed in the clip detection before).
  refused([&] { fusion::merge_reference_color(grey, bgr, valid, o); }, "merge_reference_color");
  refused([&] { fusion::merge_reference_color(bgr, grey(cv::Rect(0, 0, 59, 40)), valid, o); }, "merge_reference_color");
  refused([&] { fusion::merge_reference_color(bgr, grey, cv::Mat(40, 60, CV_32FC1), o); }, "merge_reference_color");
  refused([&] { fusion::merge_reference_color(none3, none1, none8, o); }, "non-empty");
  refused([&] { fusion::merge_reference_mono(bgr, grey, valid, o); }, "merge_reference_mono");
  refused([&] { fusion::merge_reference_mono(grey, bgr, valid(cv::Rect(0, 0, 60, 39)), o); }, "merge_reference_mono");
  refused([&] { fusion::merge_reference_mono(none1, none3, none8, o); }, "non-empty");
  fusion::MergeOptions bad;
  bad.fill_radius = 0;
  CHECK_THROWS_WITH(fusion::merge_reference_mono(grey, bgr, valid, bad), Catch::Contains("MergeOptions::fill_radius"));
}

TEST_CASE("merge_reference_color's chroma noise reduction lowers the colour noise and keeps the luminance",
          "[fusion][merge]") {
  // The scene at 3x (patches large against the filter's reach), a clean mono, and a colour camera
  // with strong white noise in every channel, as a raw frame developed without denoising; the
  // detail restore keeps all of the residual (detail_noise_scale 0), so the colour's noise is
  // left for the chroma noise reduction alone.
  cv::Mat truth;
  cv::resize(make_scene(), truth, cv::Size(), 3, 3, cv::INTER_NEAREST);
  const cv::Mat mono = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.0f);
  cv::Mat noise(truth.size(), CV_32FC3), color;
  cv::RNG(21).fill(noise, cv::RNG::NORMAL, 0.0, 0.05);
  color = cv::max(truth + noise, 0.0);
  const cv::Mat valid(truth.size(), CV_8U, cv::Scalar(255));
  fusion::MergeOptions off;
  off.detail_noise_scale = 0;
  fusion::MergeOptions on = off;
  on.chroma_denoise_radius = 2;
  const cv::Mat a = fusion::merge_reference_color(color, mono, valid, off).image;
  const cv::Mat b = merge_color_on_1_and_3_threads(color, mono, valid, on);
  // Chroma error (each channel minus the luminance, against the truth's) inside the four patches,
  // away from their edges and the highlight.
  auto chroma_error = [&](const cv::Mat& img) {
    double e = 0, n = 0;
    for (const cv::Rect r : {cv::Rect(12, 12, 110, 40), cv::Rect(260, 12, 110, 40), cv::Rect(12, 236, 110, 40),
                             cv::Rect(260, 236, 110, 40)}) {
      const cv::Mat d = img(r) - truth(r);
      cv::Mat y;
      cv::transform(d, y, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
      std::vector<cv::Mat> ch;
      cv::split(d, ch);
      for (const cv::Mat& c : ch) e += cv::norm(c - y, cv::NORM_L2SQR);
      n += 3.0 * r.area();
    }
    return std::sqrt(e / n);
  };
  INFO("chroma error off " << chroma_error(a) << " on " << chroma_error(b));
  CHECK(chroma_error(b) < 0.6 * chroma_error(a));
  CHECK(cv::PSNR(b, truth, 1.0) > cv::PSNR(a, truth, 1.0) + 1.0);
  cv::Mat ya, yb;
  cv::transform(a, ya, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  cv::transform(b, yb, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  CHECK(cv::mean(yb)[0] == Approx(cv::mean(ya)[0]).epsilon(0.01));
}

TEST_CASE("merge_reference_color's detail denoising lowers the noise the detail restore puts back at edges",
          "[fusion][merge]") {
  // The scene at 2x, a clean mono one row off the colour (an alignment error: at the stripes and
  // the patches' edges the transfer cannot explain the colour, and the restore keeps the colour's
  // own values there), and a colour camera with strong white noise in every channel, as a raw
  // frame developed without denoising.
  cv::Mat truth;
  cv::resize(make_scene(), truth, cv::Size(), 2, 2, cv::INTER_NEAREST);
  const cv::Mat mono0 = mono_of(truth, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.0f);
  cv::Mat mono;
  cv::warpAffine(mono0, mono, cv::Matx23f(1, 0, 0, 0, 1, 1), mono0.size(), cv::INTER_NEAREST, cv::BORDER_REPLICATE);
  cv::Mat noise(truth.size(), CV_32FC3), color;
  cv::RNG(5).fill(noise, cv::RNG::NORMAL, 0.0, 0.06);
  color = cv::max(truth + noise, 0.0);
  const cv::Mat valid(truth.size(), CV_8U, cv::Scalar(255));
  fusion::MergeOptions off;
  fusion::MergeOptions on = off;
  on.detail_denoise_radius = 2;
  const cv::Mat a = fusion::merge_reference_color(color, mono, valid, off).image;
  const cv::Mat b = merge_color_on_1_and_3_threads(color, mono, valid, on);
  // The error where the truth has an edge (its luminance changes by more than 0.02 to a
  // neighbour), and over the whole image.
  cv::Mat y, gx, gy, edge;
  cv::transform(truth, y, cv::Matx13f(0.0722f, 0.7152f, 0.2126f));
  cv::Sobel(y, gx, CV_32F, 1, 0, 1);
  cv::Sobel(y, gy, CV_32F, 0, 1, 1);
  edge = cv::abs(gx) + cv::abs(gy) > 0.02;
  auto edge_error = [&](const cv::Mat& img) {
    cv::Mat d = img - truth, d2;
    cv::multiply(d, d, d2);
    cv::Mat per_pixel;
    cv::transform(d2, per_pixel, cv::Matx13f(1.0f / 3, 1.0f / 3, 1.0f / 3));
    return std::sqrt(cv::mean(per_pixel, edge)[0]);
  };
  INFO("edge share " << cv::countNonZero(edge) / double(edge.total()) << ", edge error off " << edge_error(a)
                     << " on " << edge_error(b) << ", PSNR off " << cv::PSNR(a, truth, 1.0) << " on "
                     << cv::PSNR(b, truth, 1.0));
  CHECK(edge_error(b) < 0.8 * edge_error(a));
  CHECK(cv::PSNR(b, truth, 1.0) > cv::PSNR(a, truth, 1.0) + 0.5);
  // Off by default for image inputs, and its settings checked.
  CHECK(fusion::MergeOptions{}.detail_denoise_radius == 0);
  fusion::MergeOptions bad;
  bad.detail_denoise_scale = 0;
  CHECK_THROWS_WITH(fusion::merge_reference_color(color, mono, valid, bad), Catch::Contains("MergeOptions::detail_denoise_scale"));
}

TEST_CASE("The settings the fuse pipeline takes for raw frames are checked like the others", "[merge]") {
  const cv::Mat color = make_scene();
  const cv::Mat mono = mono_of(color, cv::Vec3f(0.25f, 0.45f, 0.30f), 1.0f);
  const cv::Mat valid(color.size(), CV_8U, cv::Scalar(255));
  CHECK_NOTHROW(fusion::MergeOptions{}.validate());
  auto refused = [&](void (*spoil)(fusion::MergeOptions&), const char* name) {
    fusion::MergeOptions bad;
    spoil(bad);
    CHECK_THROWS_WITH(fusion::merge_reference_color(color, mono, valid, bad), Catch::Contains(name));
  };
  refused([](fusion::MergeOptions& o) { o.raw_guide_denoise_radius = 0; }, "MergeOptions::raw_guide_denoise_radius");
  refused([](fusion::MergeOptions& o) { o.raw_guide_denoise_scale = -1; }, "MergeOptions::raw_guide_denoise_scale");
  refused([](fusion::MergeOptions& o) { o.raw_detail_noise_scale = -0.5; }, "MergeOptions::raw_detail_noise_scale");
  refused([](fusion::MergeOptions& o) { o.raw_chroma_denoise_radius = 65; }, "MergeOptions::raw_chroma_denoise_radius");
}

TEST_CASE("MergeOptions::for_raw_frames puts each camera's raw settings in place of the images' ones", "[merge]") {
  fusion::MergeOptions o;
  o.raw_guide_denoise_radius = 3;
  o.raw_detail_noise_scale = 0.7;
  o.raw_chroma_denoise_radius = 5;
  const fusion::MergeOptions none = o.for_raw_frames(false, false);
  CHECK(none.guide_denoise_radius == o.guide_denoise_radius);
  CHECK(none.chroma_denoise_radius == o.chroma_denoise_radius);
  const fusion::MergeOptions mono = o.for_raw_frames(true, false);
  CHECK(mono.guide_denoise_radius == 3);
  CHECK(mono.guide_denoise_scale == o.raw_guide_denoise_scale);
  CHECK(mono.mono_denoise_scale == o.raw_mono_denoise_scale);
  CHECK(mono.chroma_denoise_radius == o.chroma_denoise_radius);  // the colour's stay the images'
  const fusion::MergeOptions color = o.for_raw_frames(false, true);
  CHECK(color.guide_denoise_radius == o.guide_denoise_radius);
  CHECK(color.chroma_denoise_radius == 5);
  CHECK(color.detail_noise_scale == 0.7);
  CHECK(color.detail_denoise_radius == o.raw_detail_denoise_radius);
  CHECK(color.transfer_radius == o.raw_transfer_radius);
}
