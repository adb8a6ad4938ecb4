#pragma once
// A simulator recipe: the JSON object that names a simulated pair, read in one place for
// `dualcam simulate` (its options become such an object), regress manifests
// (inputs.simulate) and the evaluation. Every key is optional; each maps onto SimulateOptions:
//   scene "objects"|"layered", seed, size / mono_size / color_size [W, H], focal_px /
//   mono_focal_px / color_focal_px, mono_principal / color_principal [X, Y], mono_distortion /
//   color_distortion [k1, k2, p1, p2, k3 (1 to 5 numbers)], rotation_deg [RX, RY, RZ],
//   color_position_mm [X, Y, Z], light, mono_weights [wB, wG, wR], mono_gain, bayer,
//   supersample, near_mm, far_mm, mono_exposure, color_exposure, mono_vignetting,
//   color_vignetting, focus_depth_mm, aperture_radius_mm, bokeh_samples, sensor
//   "simple"|"realistic", adc_bits, jpeg_quality, raw (realistic sensor: keep both sensors' raw
//   frames; a regress case then takes the frames as its inputs).
// Unknown keys, wrong types and values out of range are refused (strict_json.hpp) naming where.
#include <string>
#include <vector>

#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/strict_json.hpp"

namespace dualcam::datasets {

// The keys a recipe may hold.
const std::vector<std::string>& recipe_keys();

// Checks `recipe` and builds the options it names on top of `base` (the defaults unless given).
// Throws Error(InvalidInput) "<where>: <key>: <problem>".
SimulateOptions simulate_options_from_recipe(const Json& recipe, const strict_json::Where& where,
                                             SimulateOptions base = {});

}  // namespace dualcam::datasets
