#pragma once
// The BOKEH evaluation protocol and the bokeh benchmark (docs/bokeh.md), as plain functions so
// that `dualcam eval --protocol bokeh` and `dualcam bokeh --bench` can call them.
#include <cstdint>
#include <cstdio>
#include <string>

#include "dualcam/engine/report.hpp"
#include "dualcam/fusion/bokeh.hpp"

namespace dualcam::eval {

struct BokehEvalOptions {
  int scenes = 4;                 // simulator scenes (seeds 1..scenes)
  cv::Size size{640, 480};        // image size, px
  double aperture_radius_mm = 6;  // thin-lens aperture radius A (baseline 12 mm: A / B = 0.5)
  int aperture_samples = 256;     // samples per pixel of the simulator's thin-lens truth
  bool engine_disparity = true;   // also run with dualcam's own disparity (fuse of a simulated pair)
  int refine_radius_px = 7;       // refine_disparity_for_bokeh on the engine's disparity (0 = fill only)
  fusion::Aperture aperture;      // circle (the truth renderer's aperture is a disc)
  std::string cache_dir;          // when set, truth images are kept there and reused (same settings)
  void validate() const;
};

// Runs the protocol; returns per-scene and mean figures (see docs/bokeh.md). `log` gets one line
// per scene (may be null).
Json run_bokeh_eval(const BokehEvalOptions& options, std::FILE* log);

struct BokehBenchOptions {
  cv::Size size{4000, 3000};  // 12 MP
  double max_blur_px = 48;
  int threads = 2;
  int repeats = 3;  // best of
  void validate() const;
};

// Times render_bokeh and the naive Gaussian peer on a synthetic scene (rendered at a quarter of
// the size and upsampled, image and disparity), best of `repeats`.
Json run_bokeh_bench(const BokehBenchOptions& options, std::FILE* log);

}  // namespace dualcam::eval
