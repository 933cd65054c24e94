#!/usr/bin/env bash
# Generates what the argument parsers and the configuration's key table
# know, so that none of it is written twice by hand:
#   man/labyrinthd.8, man/labyrinthctl.8   swift-argument-parser's generate-manual
#   man/labyrinth.toml.5                   labyrinthd config-reference --format man
#   docs/configuration.md                  labyrinthd config-reference --format markdown
#   completions/                           labyrinthd/labyrinthctl --generate-completion-script bash|zsh|fish
#
#   scripts/gen-docs.sh [BUILD_DIR]           write them (BUILD_DIR: .build/release, from `make build`)
#   scripts/gen-docs.sh --check [BUILD_DIR]   fail when a committed file differs from a fresh one
#
# The manuals come from the release binaries (a debug build would show its
# test hooks). generate-manual is the tool behind the package's
# generate-manual plugin, built from the checked-out swift-argument-parser
# into .build-docs-tools (under the build lock): the plugin itself builds
# every product in release mode without --static-swift-stdlib, which would
# relink .build/release's binaries under `make build`. The manuals' date is
# the date of the newest debian/changelog entry, so that they change only
# with the package's version, not with the day they were made.
# mandoc -T lint must find nothing in any page (checked here, both modes).
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
if [[ ${1:-} == --check ]]; then check=true; shift; fi
build=${1:-.build/release}
lock=/tmp/swift-build.lock
for b in labyrinthd labyrinthctl; do
    [[ -x $build/$b ]] || { echo "gen-docs: no $build/$b (run: flock $lock make build)" >&2; exit 2; }
done
command -v mandoc >/dev/null || { echo "gen-docs: mandoc is missing (apt-get install mandoc)" >&2; exit 2; }

out=$(mktemp -d /tmp/labyrinth-docs-XXXXXX)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/man" "$out/docs" "$out/completions"

# generate-manual, from the argument parser the package resolved.
tools=.build-docs-tools
parser=.build/checkouts/swift-argument-parser
generator=$tools/release/generate-manual
if [[ ! -x $generator || $parser/Package.swift -nt $generator ]]; then
    [[ -d $parser ]] || { echo "gen-docs: no $parser (run swift package resolve)" >&2; exit 2; }
    echo "gen-docs: building generate-manual from $parser ($(git -C "$parser" describe --tags 2>/dev/null || echo '?'))"
    flock "$lock" swift build -c release --package-path "$parser" --scratch-path "$tools" --product generate-manual \
        >"$out/tool-build.log" 2>&1 || { cat "$out/tool-build.log" >&2; exit 1; }
fi
date=$(date -u -d "$(dpkg-parsechangelog -l debian/changelog -S Date)" +%F)
# Mechanical fixes to generate-manual's mdoc that mandoc -T lint asks for:
# a help text's sentences each on a line of their own ("new sentence, new
# line"), a blank line in a discussion as .Pp, and no .Pp right before an
# .It, another .Pp, a section or a list's end.
tidy_mdoc() {
    python3 - "$1" <<'PY'
import re, sys
path = sys.argv[1]
lines = open(path).read().split("\n")
out = []
lines = [".Pp" if line == "" else line for line in lines[:-1]] + lines[-1:]
for i, line in enumerate(lines):
    if line == ".Pp" and i + 1 < len(lines) and lines[i + 1].startswith((".It", ".Pp", ".Sh", ".El")):
        continue
    if not line.startswith("."):
        line = re.sub(r"([.?!]) +(?=[A-Z0-9(])", "\\1\n", line)
    out.append(line)
open(path, "w").write("\n".join(out))
PY
}
for b in labyrinthd labyrinthctl; do
    "$generator" "$build/$b" --section 8 --date "$date" --output-directory "$out/man" >/dev/null
    tidy_mdoc "$out/man/$b.8"
done

# The configuration reference, from the key table (labyrinthd config-reference).
if "$build/labyrinthd" config-reference --help >/dev/null 2>&1; then
    # Dated as the manuals are (the newest debian/changelog entry), when the
    # page leaves its date empty.
    "$build/labyrinthd" config-reference --format man |
        sed "1s/^\(\.TH [^ ]* 5 \)\"\" /\1$date /" >"$out/man/labyrinth.toml.5"
    "$build/labyrinthd" config-reference --format markdown >"$out/docs/configuration.md"
    reference=generated
else
    # Until labyrinthd has config-reference: the hand-written pages stay.
    echo "gen-docs: $build/labyrinthd has no config-reference: man/labyrinth.toml.5 and docs/configuration.md stay as written by hand" >&2
    cp man/labyrinth.toml.5 "$out/man/labyrinth.toml.5"
    cp docs/configuration.md "$out/docs/configuration.md"
    reference=kept
fi

# Completions, named as each shell's vendor directory expects; the bash
# script is sourced, not run, so without its #! line (lintian asks).
for b in labyrinthd labyrinthctl; do
    "$build/$b" --generate-completion-script bash | sed '1{/^#!/d}' >"$out/completions/$b.bash"
    "$build/$b" --generate-completion-script zsh >"$out/completions/_$b"
    "$build/$b" --generate-completion-script fish >"$out/completions/$b.fish"
done

# Every page lints clean.
lint=0
for page in "$out"/man/*.[0-9]; do
    if ! msg=$(mandoc -T lint -W warning "$page" 2>&1) || [[ -n $msg ]]; then
        echo "gen-docs: mandoc -T lint $(basename "$page"):" >&2
        echo "$msg" >&2
        lint=1
    fi
done

files=(man/labyrinthd.8 man/labyrinthctl.8 man/labyrinth.toml.5 docs/configuration.md
    completions/labyrinthd.bash completions/_labyrinthd completions/labyrinthd.fish
    completions/labyrinthctl.bash completions/_labyrinthctl completions/labyrinthctl.fish)
if $check; then
    stale=0
    for f in "${files[@]}"; do
        if ! cmp -s "$f" "$out/$f"; then
            echo "gen-docs: $f differs from a fresh one (run scripts/gen-docs.sh and commit it):" >&2
            diff -u "$f" "$out/$f" | head -20 >&2 || true
            stale=1
        fi
    done
    ((stale == 0 && lint == 0)) || exit 1
    echo "gen-docs: the ${#files[@]} generated files are current (configuration reference: $reference); mandoc -T lint: clean"
else
    ((lint == 0)) || exit 1
    mkdir -p man docs completions
    for f in "${files[@]}"; do cp "$out/$f" "$f"; done
    echo "gen-docs: wrote ${files[*]} (configuration reference: $reference)"
fi
