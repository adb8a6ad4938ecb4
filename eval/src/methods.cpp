#include "dualcam/eval/methods.hpp"

#include <cstdio>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/fusion/pipeline.hpp"

namespace dualcam::eval {

Method engine_method(Protocol protocol, EngineRig rig) {
  // A pair with its rig (the rig path) goes through the rig, as `dualcam fuse --rig` runs.
  auto options = [rig](fusion::Reference ref, const MethodInput& in) {
    fusion::FuseOptions f;
    f.rectified = !in.rig && rig == EngineRig::Rectified;
    f.auto_rig = !in.rig && rig == EngineRig::Auto;
    f.reference = ref;
    if (in.ndisp > 0) f.match.max_disparity = in.ndisp;
    return f;
  };
  auto input = [](const MethodInput& in) { return fusion::FuseInput{in.mono, in.color, in.rig ? &*in.rig : nullptr}; };
  switch (protocol) {
    case Protocol::Depth:
      return {"engine", [options, input](const MethodInput& in) {
                return fusion::compute_depth(input(in), options(fusion::Reference::Mono, in)).disparity;
              }};
    case Protocol::P1:
      return {"engine", [options, input](const MethodInput& in) {
                return to_srgb8(fusion::fuse(input(in), options(fusion::Reference::Mono, in)).image);
              }};
    case Protocol::P2:
      return {"engine", [options, input](const MethodInput& in) {
                return to_srgb8(fusion::fuse(input(in), options(fusion::Reference::Color, in)).image);
              }};
    case Protocol::Raw:
      // The raw frames through the input rule, as `dualcam fuse` takes raw files.
      return {"engine", [options](const MethodInput& in) {
                const CameraPair pair = in.color_raw.samples.empty() ? camera_pair(in.mono, in.color)
                                                                     : camera_pair(in.mono_raw, in.color_raw);
                const fusion::FuseInput fi = fusion::fuse_input(pair, in.rig ? &*in.rig : nullptr);
                const auto fo = options(in.mono_view ? fusion::Reference::Mono : fusion::Reference::Color, in);
                return to_srgb8(fusion::fuse(fi, fo).image);
              }};
  }
  throw_invalid("engine_method: no engine method for this protocol");
}

void PeerMethodOptions::validate() const {
  depth.validate();
  PeerColorizeOptions c;
  c.depth = depth;
  c.border = border;
  c.validate();
  denoise.validate();
}

Method peer_method(Protocol protocol, const PeerMethodOptions& o) {
  o.validate();
  switch (protocol) {
    case Protocol::Depth:
      return {"peer: OpenCV StereoSGBM + background fill + 5x5 median",
              [depth = o.depth](const MethodInput& in) { return peer_depth(in.mono, in.color, depth, in.ndisp); }};
    case Protocol::P1: {
      PeerColorizeOptions c;
      c.depth = o.depth;
      c.border = o.border;
      return {"peer: SGBM depth + warped colour + YCrCb with Y = linear fit of mono", [c](const MethodInput& in) {
                return in.rig ? peer_colorize_rig(in.mono, in.color, *in.rig, c, in.ndisp)
                              : peer_colorize(in.mono, in.color, c, in.ndisp);
              }};
    }
    case Protocol::P2: {
      char name[96];
      std::snprintf(name, sizeof name, "peer: OpenCV fastNlMeansDenoisingColored(%g, %g, %d, %d)", o.denoise.h,
                    o.denoise.h_color, o.denoise.template_window, o.denoise.search_window);
      return {name, [denoise = o.denoise](const MethodInput& in) { return peer_denoise(in.color, denoise); }};
    }
    case Protocol::Raw:
      break;
  }
  throw_invalid("peer_method: no peer method for this protocol (the raw protocol measures the engine's raw path)");
}

}  // namespace dualcam::eval
