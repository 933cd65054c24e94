#!/usr/bin/env bash
# Replays every capture of the corpus, one process per file, through a
# labyrinthd built with AddressSanitizer. Any ASan or LeakSanitizer report,
# crash or leak-check failure fails the run; file errors (exit 1) are
# expected for damaged files.
#   scripts/asan-corpus.sh [EXTRA_CORPUS_DIR]
# The corpus is Tests/Corpus, plus EXTRA_CORPUS_DIR (or $LABYRINTH_CORPUS).
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-${LABYRINTH_CORPUS:-}}
corpus=(Tests/Corpus)
[ -n "$extra" ] && corpus+=("$extra")
swift build --sanitize=address --scratch-path .build-asan --product labyrinthd
bin=.build-asan/debug/labyrinthd
# Leaks are errors too (LeakSanitizer at exit). A report exits with status
# 86, not by abort(): Swift's crash backtracer, which abort() would start,
# spins for minutes symbolicating under ASan, so it is off as well.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86
export SWIFT_BACKTRACE=enable=no
files=0 bad=0 damaged=0
while IFS= read -r -d '' f; do
    files=$((files + 1))
    set +e
    out=$("$bin" replay --workers 2 --no-lock --json "$f" 2>&1 >/dev/null)
    status=$?
    set -e
    case $status in
        0) ;;
        1) damaged=$((damaged + 1)) ;;
        *) bad=$((bad + 1)); echo "FAIL ($status): $f"; echo "$out" | head -40 ;;
    esac
    if grep -q "AddressSanitizer" <<<"$out"; then
        bad=$((bad + 1)); echo "ASAN: $f"; echo "$out" | head -40
    fi
done < <(find "${corpus[@]}" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
echo "asan corpus: $files files, $damaged reported damage (exit 1), $bad failures"
[ "$files" -gt 0 ] && [ "$bad" -eq 0 ]
