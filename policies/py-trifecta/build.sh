#!/usr/bin/env bash
# Builds target/py-trifecta.wasm from app.py with componentize-py (PyPI, pinned in
# requirements.txt; installed into target/venv). Needs python3 >= 3.10 with venv.
#
# `--stub-wasi` replaces every WASI import with a trapping stub, so the component
# imports only the Portcullis host; print(), time, random, files and sockets trap
# at run time (they were available while componentize-py pre-initialised the app).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/target"
wit="${PORTCULLIS_WIT:-$here/../../wit}"
wasm="$out/py-trifecta.wasm"
venv="$out/venv"
mkdir -p "$out"

if [[ ! -x "$venv/bin/componentize-py" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# Build from a copy: componentize-py writes __pycache__ next to the sources.
rm -rf "$out/src" && mkdir -p "$out/src" && cp "$here/app.py" "$out/src/"
(cd "$out/src" && "$venv/bin/componentize-py" --quiet -d "$wit" -w policy \
    componentize app --python-path "$out/src" --stub-wasi -o "$wasm")

if [[ -n "${PCL_WIT:-}" ]]; then
    "$PCL_WIT" check "$wasm"
fi
ls -l "$wasm"
