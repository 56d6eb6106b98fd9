#!/usr/bin/env bash
# Builds target/js-tool-allowlist.wasm from policy.js. Needs node >= 18 and npm.
#
# JS_BACKEND=quickjs (default): componentize-qjs 0.4.5 (package.json), ~1.6 MB,
#   `--stub-wasi` turns every WASI import into an internal trap, `--sync` keeps
#   the component-model async ABI out (the host's wasmtime has no
#   component-model-async feature).
# JS_BACKEND=starlingmonkey: @bytecodealliance/componentize-js 0.23.0, ~12 MB,
#   installed on demand into target/starlingmonkey; `--disable` of all five
#   features leaves no WASI import.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/target"
wit="${PORTCULLIS_WIT:-$here/../../wit}"
wasm="$out/js-tool-allowlist.wasm"
mkdir -p "$out"

case "${JS_BACKEND:-quickjs}" in
quickjs)
    if [[ ! -x "$here/node_modules/.bin/componentize-qjs" ]]; then
        npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
    fi
    "$here/node_modules/.bin/componentize-qjs" --wit "$wit" --world policy \
        --js "$here/policy.js" --stub-wasi --sync -o "$wasm"
    ;;
starlingmonkey)
    sm="$out/starlingmonkey"
    cli="$sm/node_modules/@bytecodealliance/componentize-js/src/cli.js"
    if [[ ! -f "$cli" ]]; then
        mkdir -p "$sm"
        echo '{"private":true}' > "$sm/package.json"
        npm install --prefix "$sm" --no-audit --no-fund --loglevel=error \
            --save-exact @bytecodealliance/componentize-js@0.23.0
    fi
    # Not `jco componentize`: jco 1.35.0 with preview2-shim 0.26.1 gives its
    # WIT reader no preopened directory and fails with "os error 44".
    (cd "$here" && node "$cli" policy.js --wit "$wit" --world-name policy \
        --disable stdio random clocks http fetch-event -o "$wasm")
    ;;
*)
    echo "unknown JS_BACKEND ${JS_BACKEND}" >&2
    exit 2
    ;;
esac

# Optional import check with the C policy's tool (or wasm-tools component wit).
if [[ -n "${PCL_WIT:-}" ]]; then
    "$PCL_WIT" check "$wasm"
fi
ls -l "$wasm"
