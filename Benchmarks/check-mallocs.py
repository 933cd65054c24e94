#!/usr/bin/env python3
"""check-mallocs.py — every iteration's heap allocations against the
checked-in maxima.

Usage: check-mallocs.py MAXIMA.json RESULTS_DIR

RESULTS_DIR holds what `swift package benchmark --metric mallocCountTotal
--format histogramPercentiles --path RESULTS_DIR` wrote: one
`Current_run.TARGET.NAME.mallocCountTotal.histogram.percentiles.tsv` per
benchmark, percentiles 0 to 100. MAXIMA.json maps "TARGET.NAME" to the most
mallocs one iteration may make, or to {"usual": U, "most": M}: the best
iteration must make exactly U (the set-up; a change either way is to be
looked at) and the worst at most M (U plus one-off allocations of the
runtime). The check takes percentile 100 (the worst iteration:
package-benchmark's own `thresholds check` compares p90 only, so a malloc in
1 of 10 iterations would pass it) and fails on a benchmark with no maximum,
a maximum with no benchmark (a benchmark that vanished), and any iteration
above its maximum. Exit status 0 when every benchmark holds, 1 otherwise.
"""
import glob
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    maxima_path, results = sys.argv[1], sys.argv[2]
    try:
        with open(maxima_path) as f:
            maxima = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    except OSError as e:
        print(f"check-mallocs: {maxima_path}: {e.strerror}: no maxima for this toolchain", file=sys.stderr)
        return 1
    suffix = ".mallocCountTotal.histogram.percentiles.tsv"
    worst = {}
    for path in glob.glob(os.path.join(results, "Current_run.*" + suffix)):
        name = os.path.basename(path)[len("Current_run."):-len(suffix)]
        values = []
        with open(path) as f:
            next(f)  # the header
            for line in f:
                _, value = line.split("\t")
                values.append(int(float(value)))
        if not values:
            print(f"check-mallocs: {path}: no iterations", file=sys.stderr)
            return 1
        worst[name] = (min(values), max(values))
    failed = False
    print(f"{'benchmark':<52} {'best':>6} {'worst':>6} {'maximum':>8}")
    for name in sorted(set(worst) | set(maxima)):
        if name not in worst:
            print(f"{name:<52} {'-':>6} {'-':>6} {maxima[name]:>8}  FAIL: the benchmark did not run")
            failed = True
            continue
        low, high = worst[name]
        if name not in maxima:
            print(f"{name:<52} {low:>6} {high:>6} {'-':>8}  FAIL: no maximum in {maxima_path}")
            failed = True
            continue
        limit = maxima[name]
        usual, most = (limit.get("usual"), limit["most"]) if isinstance(limit, dict) else (None, limit)
        if high > most:
            verdict = "FAIL: above the maximum"
        elif usual is not None and low != usual:
            verdict = f"FAIL: the best iteration made {low}, not the usual {usual}"
        else:
            verdict = "ok"
        failed |= verdict != "ok"
        print(f"{name:<52} {low:>6} {high:>6} {most:>8}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
