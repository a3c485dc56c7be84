"""`make bench`: how many alarms officers would get for nothing, and how soon a real exit shows.

A seeded synthetic day on the demo's real 婺城区 boundary (benchmarks/quality/: who lives
where, what their phones report, and why those numbers) runs through the engine in process,
as `lookout replay` drives it. Prints one JSON object on stdout and a table on stderr
(`--table`: the table on stdout instead, markdown, for the README).

    python -m benchmarks.quality_bench [--persons 20] [--hours 24] [--seed 1]
    python -m benchmarks.quality_bench --baseline-src /tmp/lookout-baseline   # old rules too

`--baseline-src DIR` also runs the same day through the engine of another checkout (e.g.
`git worktree add /tmp/lookout-baseline $(git merge-base HEAD main)`), in a subprocess with
PYTHONPATH=DIR, so old and new rules are compared on identical input.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.quality import metrics
from benchmarks.quality.day import DaySpec, build_day
from benchmarks.quality.noise import NOISE_KINDS
from benchmarks.quality.runner import run_feed

RUNNER = Path(__file__).resolve().parent / "quality" / "runner.py"


def run_baseline(src: Path, bundle: Path, feed: Path) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(src.resolve()), PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, str(RUNNER), str(bundle), str(feed)], env=env,
                          capture_output=True, check=False, cwd=src)
    if proc.returncode != 0:
        raise SystemExit(f"baseline engine in {src} failed:\n{proc.stderr.decode()[-2000:]}")
    return [orjson.loads(ln) for ln in proc.stdout.splitlines() if ln.strip()]


def _fa(r: dict, label: str) -> str:
    c = r["false_alarms"].get(label, {}).get("all")
    if not c:
        return "–"
    return (f"{c['per_10k_person_days']:g} ({c['false_alarms']} in {c['person_days']:g} d, "
            f"≤ {c['upper95_per_10k']:g})")


def _delay(r: dict, interval: str) -> str:
    d = r["exits"]["delay_s"].get(interval)
    if not d or d["p50"] is None:
        return "–"
    return f"{d['p50']:g} / {d['p95']:g} / {d['max']:g}"


def _count(part: dict, hit: str, of: str) -> str:
    return f"{part[hit]} of {part[of]}"


def table(results: dict[str, dict]) -> str:
    """Markdown: one column per engine measured. A rate reads "per 10k (alarms in person-days,
    ≤ its 95 % upper bound)": a small run cannot tell 0 from 1 in 10,000."""
    names = list(results)
    rows: list[tuple[str, list[str], str]] = []
    for kind in (*NOISE_KINDS, "boundary_walk"):
        label = "walking along the inside" if kind == "boundary_walk" else f"{kind} noise"
        rows.append((f"false 越界 per 10k person-days, {label}",
                     [_fa(results[n], kind) for n in names], "< 1"))
    leavers = {n: sum(m[iv]["leavers"] for m in r["exits"]["by_mode"].values() for iv in m)
               for n, r in results.items()}
    rows.append(("missed exits 漏报",
                 [f"{results[n]['exits']['missed']} of {leavers[n]}" for n in names], "0"))
    shown = {iv for r in results.values() for iv in r["exits"]["delay_s"]}
    for iv in sorted(shown, key=lambda v: -int(v[:-1])):
        rows.append((f"delay after 200 m out, p50 / p95 / max s (fix every {iv})",
                     [_delay(results[n], iv) for n in names], "p95 ≤ 180" if iv == "60s" else ""))
    for role, label in (("tamper_same_second", "tamper in the same second as a fix: raised"),
                        ("tamper_late", "tamper 20 s late: raised"),
                        ("power_off_same_second",
                         "power_off in the same second as a fix: 关机 raised")):
        rows.append((label, [_count(results[n]["statuses"][role], "raised", "sent")
                             for n in names], "all"))
    rows.append(("excursion in buffered fixes (补传数据): raised",
                 [_count(results[n]["buffered_excursion"], "raised", "sent") for n in names],
                 "all"))
    rows.append(("buffer uploaded twice: raised twice",
                 [_count(results[n]["buffered_excursion"], "uploaded_twice_raised_more_than_once",
                         "uploaded_twice") for n in names], "0"))
    head = "| measure 指标 | " + " | ".join(names) + " | goal 目标 |"
    sep = "|---|" + "---|" * len(names) + "---|"
    return "\n".join([head, sep] + [f"| {m} | " + " | ".join(v) + f" | {g} |"
                                    for m, v, g in rows]) + "\n"


def _intervals(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 10,60, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"intervals must be at least 1 s, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=DaySpec.persons,
                    help="stayers per noise kind and fix interval")
    ap.add_argument("--hours", type=float, default=DaySpec.hours)
    ap.add_argument("--walkers", type=int, default=DaySpec.walkers, help="per fix interval")
    ap.add_argument("--leavers", type=int, default=DaySpec.leavers,
                    help="per travel mode and fix interval")
    ap.add_argument("--buffered", type=int, default=DaySpec.buffered,
                    help="phones that upload a buffered excursion (half as many again upload "
                         "it twice)")
    ap.add_argument("--tamper", type=int, default=DaySpec.tamper,
                    help="persons per status case (tamper same second, late; power_off)")
    ap.add_argument("--intervals", type=_intervals, default=DaySpec.intervals_s,
                    help="seconds between fixes, comma-separated (default 10,60)")
    ap.add_argument("--seed", type=int, default=DaySpec.seed)
    ap.add_argument("--baseline-src", type=Path,
                    help="another checkout whose engine runs the same day (the old rules)")
    ap.add_argument("--table", action="store_true", help="print the markdown table on stdout")
    ap.add_argument("--keep", type=Path, help="keep the generated bundle and feed here")
    args = ap.parse_args(argv)
    if args.hours < 4:
        ap.error("--hours: at least 4 (a leaver's trip needs room in the day)")

    spec = DaySpec(persons=args.persons, hours=args.hours, walkers=args.walkers,
                   leavers=args.leavers, buffered=args.buffered,
                   buffered_twice=max(1, args.buffered // 2), tamper=args.tamper,
                   intervals_s=args.intervals, seed=args.seed)
    t0 = time.perf_counter()
    day = build_day(spec)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as tmp:
        folder = args.keep or Path(tmp)
        bundle, feed = day.write(folder)
        t2 = time.perf_counter()
        results = {"this branch": metrics.evaluate(day.subjects, run_feed(str(bundle), str(feed)),
                                                     day.tracks)}
        t3 = time.perf_counter()
        if args.baseline_src:
            base = run_baseline(args.baseline_src, bundle, feed)
            results = {"old rules": metrics.evaluate(day.subjects, base, day.tracks)} | results
    out = {
        "params": {"persons_per_kind_and_interval": spec.persons, "hours": spec.hours,
                   "walkers": spec.walkers, "leavers_per_mode_and_interval": spec.leavers,
                   "buffered": spec.buffered + spec.buffered_twice, "tamper": spec.tamper,
                   "seed": spec.seed, "intervals_s": list(spec.intervals_s),
                   "events": len(day.lines), "persons": len(day.subjects)},
        "results": results,
        "seconds": {"generate": round(t1 - t0, 1), "engine": round(t3 - t2, 1)},
    }
    if args.baseline_src:
        out["baseline_src"] = str(args.baseline_src)
    text = table(results)
    if args.table:
        sys.stdout.write(text)
    else:
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        sys.stderr.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
