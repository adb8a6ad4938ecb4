#pragma once
// The real-captures protocol (docs/evaluation.md#real-captures): real colour + mono pairs with no
// reference image, measured without one. Per pair, the engine fuses with a self-rectified rig
// (`--rig auto`) at both references; at each view the outputs and what a user has without
// dualcam (the colour input; OpenCV's fastNlMeansDenoisingColored on it, the P2 peer) are scored
// by the no-reference figures of engine/metrics.hpp against the mono seen at that view (the
// warped mono at the colour view, the mono itself at the mono view): the noise in the flat areas
// and the correlation of the detail band with the mono's. The self-rectification's row error and
// the matched share come with them. `dualcam eval --protocol real` calls it.
#include <cstdio>
#include <string>
#include <vector>

#include "dualcam/engine/report.hpp"
#include "dualcam/eval/peers.hpp"
#include "dualcam/fusion/pipeline.hpp"

namespace dualcam::eval {

struct RealEvalOptions {
  // A folder of pair folders (each holding color.* and mono.*, any format the inputs rule
  // reads), or one pair folder.
  std::string data;
  fusion::FuseOptions fuse;    // auto_rig is set by run_real_eval; reference by each run
  PeerDenoiseOptions denoise;  // the NLM peer: P2's (docs/evaluation.md#peer-p2)
  double flat_share = 0.2;     // flat_area_mask's share of blocks, (0, 1]
  void validate() const;
};

// The pair folders `data` names (sorted naturally), each with its colour and mono file; throws
// Error(InvalidInput) naming the folder when none is found.
struct RealPair {
  std::string name, color_path, mono_path;
};
std::vector<RealPair> find_real_pairs(const std::string& data);

// Runs the protocol, printing its table to `log` (may be null) as it goes; returns per pair and
// method the figures, and the means over the pairs. A pair the engine cannot align is reported
// with the engine's message (its engine rows absent), not fatal.
Json run_real_eval(const RealEvalOptions& options, std::FILE* log);

}  // namespace dualcam::eval
