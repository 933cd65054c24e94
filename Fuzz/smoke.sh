#!/usr/bin/env bash
# Builds every harness and runs each for a short time on its seed corpus;
# any crash, trap, sanitizer report, leak or timeout fails the script. CI
# runs it; the long campaigns are run by hand (README.md).
#   Fuzz/smoke.sh          -> 30 s per harness
#   Fuzz/smoke.sh 60       -> 60 s per harness
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
# libFuzzer reports a crash and writes its input; Swift's own backtracer,
# reading memory under ASan, only adds noise.
export SWIFT_BACKTRACE=enable=no
./build.sh
artifacts=.build/artifacts
mkdir -p "$artifacts"
# run NAME SEED_DIR...: new inputs go to a scratch directory, never into the
# seed corpora in the repository.
run() {
    local name=$1
    shift
    local scratch
    scratch=$(mktemp -d)
    echo "== $name: ${seconds}s on ${*:-no seeds}"
    if ! ".build/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" "$scratch" "$@" 2>".build/$name.log"; then
        tail -n 60 ".build/$name.log"
        rm -rf "$scratch"
        echo "FAILED: $name (log: Fuzz/.build/$name.log, input: Fuzz/$artifacts/$name-*)" >&2
        exit 1
    fi
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::average_exec_per_sec' ".build/$name.log" || true
    rm -rf "$scratch"
}
run FuzzJSON corpus/json
run FuzzRequest corpus/json
run FuzzTOML corpus/toml
run FuzzCaptureFile ../Tests/Corpus/tcpdump
run FuzzDecoder
run FuzzIndex corpus/index
echo "smoke: every harness ran ${seconds}s without a crash"
