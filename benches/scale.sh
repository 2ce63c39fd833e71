#!/usr/bin/env bash
# A file past what memory would hold row by row: generates N rows (default 100 million,
# about 10.7 GB; once, kept in target/scale), runs roi_analysis on it cold (`run --no-cache`,
# a fresh home) and warm (second run on the cache of the first), prints wall time and peak
# memory of each, and checks the report's figures against DuckDB's sums of the same file
# (benches/peer/check_groups.py). Needs python3 with venv (installs the peers' pinned
# packages into target/peer-venv) and free disk for the file.
#
#   benches/scale.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000000}

cargo build --release --locked --quiet
venv=target/peer-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r benches/peer/requirements.txt
fi
bin=target/release/mrflow-tui
mkdir -p target/scale
data=target/scale/sales-$rows.csv
[ -f "$data" ] || "$bin" gen-data --rows "$rows" --seed 42 --out "$data"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
run() {
    MRFLOW_CONFIG_DIR=$home/config MRFLOW_CACHE_DIR=$home/cache MRFLOW_DATA_DIR=$home/data \
        "$venv/bin/python" benches/peer/measure.py -- "$bin" run --format json --data "$data" "$@"
}
echo "file: $data ($(du -hL "$data" | cut -f1))"
echo "cold (--no-cache): $(run --no-cache)"
echo "cold, cache kept:  $(run)"
echo "warm:              $(run)"
MRFLOW_CONFIG_DIR=$home/config MRFLOW_CACHE_DIR=$home/cache MRFLOW_DATA_DIR=$home/data \
    "$bin" run --format json --data "$data" > "$home/report.json"
"$venv/bin/python" benches/peer/check_groups.py "$home/report.json" "$data"
