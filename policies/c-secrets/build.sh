#!/usr/bin/env bash
# Builds target/c-secrets.wasm, a Portcullis policy component written in C.
#
# Needs (Debian bookworm): apt-get install -y clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
# and cargo (to build tool/, the bindings generator + componentizer, once).
#
# Environment:
#   WASM_CC            C compiler (default: clang-19)
#   PORTCULLIS_WIT     WIT directory (default: ../../wit)
#   PCL_WIT            a prebuilt tool/ binary; skips the cargo build
#   PCL_WIT_TARGET_DIR cargo target dir for tool/ (default: target/tool)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/target"
wit="${PORTCULLIS_WIT:-$here/../../wit}"
cc="${WASM_CC:-clang-19}"
mkdir -p "$out"

if [[ -z "${PCL_WIT:-}" ]]; then
    tdir="${PCL_WIT_TARGET_DIR:-$out/tool}"
    cargo build --quiet --release --locked -j "${CARGO_BUILD_JOBS:-1}" \
        --manifest-path "$here/tool/Cargo.toml" --target-dir "$tdir"
    PCL_WIT="$tdir/release/pcl-wit"
fi

# 1. C bindings for the world: policy.h, policy.c, policy_component_type.o
rm -rf "$out/gen"
"$PCL_WIT" c-bindings "$wit" policy "$out/gen"

# 2. Core module, linked as a WASI reactor (crt1-reactor.o: `_initialize`, which
#    wit-component runs as the start function). Only wasi-libc's malloc and
#    string functions are used, so the module imports nothing from WASI; using
#    stdio, time, files etc. would bring `wasi_snapshot_preview1` imports and
#    componentize would fail (no adapter is given, on purpose).
"$cc" --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Wno-unused-parameter \
    -I "$out/gen" -Wl,--strip-debug \
    -o "$out/core.wasm" \
    "$here/policy.c" "$out/gen/policy.c" "$out/gen/policy_component_type.o"

# 3. Component (wit-component, no WASI adapter), then check it imports only the host.
"$PCL_WIT" componentize "$out/core.wasm" "$out/c-secrets.wasm"
"$PCL_WIT" check "$out/c-secrets.wasm"
