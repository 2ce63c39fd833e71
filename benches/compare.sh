#!/usr/bin/env bash
# mrflow-tui against its Python peers (benches/peer: pandas, polars, DuckDB), on the same
# files, in one run:
# whole-process wall time and peak memory of roi_analysis on the sample, 1M and 10M rows
# (alternating runs, medians), agreement on the headline figures, and token counting
# (same counts, throughput). Needs python3 with venv; installs the peer's pinned packages
# into target/peer-venv. tiktoken reads its encodings from the tiktoken-rs crate's files,
# never from the internet.
#
#   benches/compare.sh [--rows 1000000,10000000] [--runs 5] [--peers pandas,polars,duckdb]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet
venv=target/peer-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r benches/peer/requirements.txt
fi
assets=$(cargo metadata --format-version 1 --locked |
    python3 -c 'import json, sys, os
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "tiktoken-rs")
print(os.path.join(os.path.dirname(p["manifest_path"]), "assets"))')

exec "$venv/bin/python" benches/peer/compare.py \
    --bin target/release/mrflow-tui --python "$venv/bin/python" --assets "$assets" \
    --work target/compare --sample sample-data/beverage_sales.csv "$@"
