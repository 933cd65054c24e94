#!/usr/bin/env bash
# Builds the libFuzzer harnesses. Each is one Swift module: the module sources
# under test plus the harness, compiled by swiftc with -sanitize=fuzzer,address
# (SwiftPM's --sanitize=fuzzer left the library targets without coverage).
#   Fuzz/build.sh            -> Fuzz/.build/FuzzDecoder, Fuzz/.build/FuzzCaptureFile
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p .build
strip_imports() { sed -E '/^import (Packet|Capture)$/d' "$@"; }
strip_imports ../Sources/Packet/*.swift FuzzDecoder.swift > .build/decoder-all.swift
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name FuzzDecoder \
    .build/decoder-all.swift -o .build/FuzzDecoder
strip_imports ../Sources/Packet/*.swift ../Sources/Capture/*.swift FuzzCaptureFile.swift > .build/capture-all.swift
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name FuzzCaptureFile \
    .build/capture-all.swift -o .build/FuzzCaptureFile
echo "built Fuzz/.build/FuzzDecoder and Fuzz/.build/FuzzCaptureFile"
