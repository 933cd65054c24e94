#!/usr/bin/env bash
# Builds the libFuzzer harnesses. Each is one Swift module: the sources of the
# package's modules it tests plus the harness, compiled by swiftc with
# -sanitize=fuzzer,address (SwiftPM's --sanitize=fuzzer left the library
# targets without coverage). The sources are copied with their imports of each
# other dropped, one file each so that `private` stays per file. The C modules
# they import (CPcap, CURing, CRoomsSupport, CLinux) come from module maps in
# Fuzz/.build/c, and the C targets' sources are compiled there once.
#   Fuzz/build.sh                      -> every harness, in Fuzz/.build/
#   Fuzz/build.sh FuzzJSON FuzzTOML    -> just those
set -euo pipefail
cd "$(dirname "$0")"
fuzz=$PWD
sources=$fuzz/../Sources
out=$fuzz/.build
mkdir -p "$out/c"

# C modules, as Package.swift declares them.
cat > "$out/c/module.modulemap" <<MAP
module CURing {
    header "$sources/CURing/include/CURing.h"
    link "uring"
    export *
}
module CRoomsSupport {
    header "$sources/CRoomsSupport/include/CRoomsSupport.h"
    export *
}
module CLinux {
    header "$sources/CLinux/include/CLinux.h"
    export *
}
MAP
for c in CURing CRoomsSupport CLinux; do
    if [[ ! "$out/c/$c.o" -nt "$sources/$c/$c.c" ]]; then
        clang -O2 -fPIC -D_GNU_SOURCE -I "$sources/$c/include" -c "$sources/$c/$c.c" -o "$out/c/$c.o"
    fi
done

# harness NAME ITEM...: Fuzz/NAME.swift with the Swift sources of each ITEM,
# a Sources/ directory (with its subdirectories) or a Sources/ file, built as
# Fuzz/.build/NAME. Sources that import Syscalls get Sources/Syscalls with
# Fuzz/Shims/Errno.swift standing in for swift-system.
harness() {
    local name=$1
    shift
    set -- "$@" Syscalls/Syscall.swift Syscalls/Syscall+Waits.swift Syscalls/Descriptor.swift
    local inputs=("$fuzz/$name.swift" "$fuzz/build.sh" "$fuzz/Shims/Errno.swift")
    for item in "$@"; do
        if [[ -d "$sources/$item" ]]; then
            mapfile -t -O "${#inputs[@]}" inputs < <(find "$sources/$item" -name '*.swift' | sort)
        else
            inputs+=("$sources/$item")
        fi
    done
    local stale=false
    for file in "${inputs[@]}"; do [[ "$out/$name" -nt "$file" ]] || stale=true; done
    if ! $stale; then
        echo "Fuzz/.build/$name is up to date"
        return
    fi
    local dir=$out/$name.sources
    rm -rf "$dir"
    mkdir -p "$dir"
    # Drop the imports of the package's modules, and qualify by the harness's
    # module what was qualified by theirs (`Capture.interfaceIndex`).
    local modules='(Packet|Capture|Rooms|DataPlane|StatsProtocol|ControlPlane|Syscalls|Runs|Sinks|Extraction)'
    strip() {
        sed -E -e "/^import $modules\$/d" -e "/^@_exported import SystemPackage\$/d" \
            -e "s/\\b$modules\\.([a-z])/$name.\\2/g" "$1" > "$2"
    }
    for item in "$@"; do
        local files=("$sources/$item")
        [[ -d "$sources/$item" ]] && mapfile -t files < <(find "$sources/$item" -name '*.swift' | sort)
        for file in "${files[@]}"; do
            strip "$file" "$dir/$(dirname "${file#$sources/}" | sed -e "s|^\.\./||" -e "s|/|_|g")_$(basename "$file")"
        done
    done
    strip "$fuzz/$name.swift" "$dir/$name.swift"
    cp "$fuzz/Shims/Errno.swift" "$dir/Shims_Errno.swift"
    # The C targets' objects, for the modules that import them.
    local objects=()
    for c in CURing CRoomsSupport CLinux; do
        if grep -q "^import $c\$" "$dir"/*.swift; then objects+=("$out/c/$c.o"); fi
    done
    swiftc -O -parse-as-library -sanitize=fuzzer,address -swift-version 6 \
        -module-name "$name" -package-name Labyrinth \
        -I "$out/c" -I "$sources/CPcap" \
        "$dir"/*.swift ${objects[@]+"${objects[@]}"} -o "$out/$name"
    echo "built Fuzz/.build/$name"
}

# What each harness needs, dependencies first.
build() {
    case $1 in
    FuzzDecoder) harness FuzzDecoder Packet ;;
    FuzzCaptureFile) harness FuzzCaptureFile Packet Capture ;;
    FuzzJSON) harness FuzzJSON StatsProtocol ;;
    FuzzIndex) harness FuzzIndex Packet Capture Sinks Extraction ;;
    FuzzRequest) harness FuzzRequest StatsProtocol DataPlane/Replay/Pacer.swift Packet Capture ;;
    FuzzTOML)
        # (Sinks without its pcapng encoder, whose PcapngInterface would
        # clash with Capture's in one module.)
        harness FuzzTOML Rooms Packet Capture $(cd "$sources" && ls Sinks/*.swift | grep -v /Pcap) \
            DataPlane/Worker/WorkerOptions.swift DataPlane/Replay/Pacer.swift \
            DataPlane/Support/PinnedThread.swift DataPlane/Flows/FlowTable.swift DataPlane/Export/FlowExportRing.swift DataPlane/Support/SPSCRing.swift \
            DataPlane/Recording/RecordingOptions.swift DataPlane/Tap StatsProtocol \
            ControlPlane/Config
        ;;
    *)
        echo "unknown harness $1 (FuzzDecoder, FuzzCaptureFile, FuzzJSON, FuzzRequest, FuzzTOML, FuzzIndex)" >&2
        exit 64
        ;;
    esac
}

if [[ $# -eq 0 ]]; then set -- FuzzDecoder FuzzCaptureFile FuzzJSON FuzzRequest FuzzTOML FuzzIndex; fi
for name in "$@"; do build "$name"; done
