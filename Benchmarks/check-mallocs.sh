#!/usr/bin/env bash
# check-mallocs.sh — runs every malloc-count benchmark and checks every
# iteration (not only p90) against Thresholds/<toolchain>/mallocs.json.
#
# Usage: Benchmarks/check-mallocs.sh [TOOLCHAIN]   (default: 6.3)
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")"
toolchain=${1:-6.3}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
swift package --allow-writing-to-directory "$results" benchmark --metric mallocCountTotal \
    --format histogramPercentiles --path "$results" >"$results/log" 2>&1 || { cat "$results/log"; exit 1; }
python3 check-mallocs.py "Thresholds/$toolchain/mallocs.json" "$results"
