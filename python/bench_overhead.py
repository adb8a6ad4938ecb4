#!/usr/bin/env python3
"""What the Python module adds to a fuse: the wall time of dualcam.fuse() seen from Python against
the engine's own time inside the call (FuseResult.seconds: the input rule, the pipeline and the
encoding, what a C++ caller runs), on a simulated pair through its rig.

    PYTHONPATH=build/python python3 python/bench_overhead.py --size 4000x3000 --threads 2

Prints each run and the median overhead in percent. The pair comes from dualcam.simulate (seed 1,
the objects scene), or from --mono/--color/--rig files.
"""
import argparse
import statistics
import sys
import time

import dualcam


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="4000x3000", help="simulated pair size WxH (default 12 MP)")
    ap.add_argument("--mono"), ap.add_argument("--color"), ap.add_argument("--rig")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if a.mono or a.color or a.rig:
        if not (a.mono and a.color and a.rig):
            sys.exit("bench_overhead: give --mono, --color and --rig together")
        mono, color, rig = dualcam.imread(a.mono), dualcam.imread(a.color), dualcam.Rig.read(a.rig)
    else:
        w, h = (int(v) for v in a.size.lower().split("x"))
        t = time.perf_counter()
        s = dualcam.simulate(size=(w, h), seed=1, threads=a.threads)
        mono, color, rig = s.mono, s.color, s.rig
        print(f"simulated {w}x{h} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    dualcam.fuse(mono, color, rig, threads=a.threads)  # warm-up
    overheads = []
    for i in range(a.repeat):
        t = time.perf_counter()
        r = dualcam.fuse(mono, color, rig, threads=a.threads)
        wall = time.perf_counter() - t
        overheads.append(100.0 * (wall - r.seconds) / r.seconds)
        print(f"run {i + 1}: python {wall:.3f} s, engine {r.seconds:.3f} s, overhead {overheads[-1]:+.2f} %")
    print(f"median overhead {statistics.median(overheads):+.2f} % over {a.repeat} runs "
          f"({color.shape[1]}x{color.shape[0]}, threads {a.threads or 'all'})")


if __name__ == "__main__":
    main()
