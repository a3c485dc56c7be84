"""One replay in a fresh process, reporting its own timings and peak RSS as JSON.

Run by benchmarks/replay_bench.py so that each size's peak RSS is measured alone.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import orjson


def _vm_hwm_kib() -> int:
    """Peak RSS of this process image. Not ru_maxrss: Linux carries that across exec, so
    it would report the (larger) benchmark parent that spawned us."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--feed", required=True)
    ap.add_argument("--serial", action="store_true", help="decode in this process too")
    args = ap.parse_args()

    from alerts.engine import Engine
    from config.loader import load_bundle
    from stream.deadletter import DeadLetterWriter
    from stream.replay import replay

    t0 = time.perf_counter()
    bundle = load_bundle(args.bundle)
    t1 = time.perf_counter()
    engine = Engine(bundle)
    t2 = time.perf_counter()
    with open("/dev/null", "wb") as out:
        summary = replay(bundle, [args.feed], out, DeadLetterWriter(None), engine=engine,
                         parallel=not args.serial)
    t3 = time.perf_counter()
    rss_kib = _vm_hwm_kib()
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stdout.write(orjson.dumps({
        "persons": len(bundle.persons),
        "zones": len(bundle.zones),
        "load_bundle_s": round(t1 - t0, 3),
        "compile_s": round(t2 - t1, 3),
        "replay_s": round(t3 - t2, 3),
        "summary": summary.to_dict(),
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "decoder_process_peak_rss_mib": round(child_kib / 1024, 1),
    }).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
