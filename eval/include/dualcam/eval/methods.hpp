#pragma once
// The methods `dualcam eval` measures on the DEPTH, P1 and P2 protocols (protocol.hpp): the
// engine, called only through the fuse pipeline as `dualcam fuse` / `dualcam depth` run it, and
// the OpenCV peer of peers.hpp.
#include "dualcam/eval/peers.hpp"
#include "dualcam/eval/protocol.hpp"

namespace dualcam::eval {

// How the engine is told about the geometry of a pair that comes without a rig (a pair with its
// rig, the rig path, always goes through the rig).
enum class EngineRig {
  Rectified,  // the pair is rectified, mono on the left (FuseOptions::rectified, `--rectified`)
  Auto,       // no rig: the engine estimates the rectification from the pair (`--rig auto`)
};

// The engine on `protocol`: compute_depth (reference mono) for DEPTH, fuse at the mono view for
// P1 and at the colour view for P2, the scene's disparity range when it declares one.
Method engine_method(Protocol protocol, EngineRig rig = EngineRig::Rectified);

// The peer's settings for every protocol.
struct PeerMethodOptions {
  PeerDepthOptions depth;                      // DEPTH, and P1's depth
  PeerBorder border = PeerBorder::Reflect101;  // P1
  PeerDenoiseOptions denoise;                  // P2
  void validate() const;
};

// The peer on `protocol`: peer_depth, peer_colorize (peer_colorize_rig for a pair with its rig),
// peer_denoise.
Method peer_method(Protocol protocol, const PeerMethodOptions& options = {});

}  // namespace dualcam::eval
