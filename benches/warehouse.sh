#!/usr/bin/env bash
# roi_analysis from a PostgreSQL table of N generated rows (default 10 million) beside the
# same rows read from their CSV file: whole-process wall time and peak memory (median of
# alternating runs, `run --no-cache`), the bytes the server sent, and whether every fact
# agrees to the cent. Uses the server MRFLOW_TEST_POSTGRES names, or starts a throwaway one
# with .ci/postgres.sh (which installs PostgreSQL from Debian's packages if absent).
#
#   benches/warehouse.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
runs=${2:-3}

cargo build --release --locked --quiet
bin=target/release/mrflow-tui
mkdir -p target/scale
data=target/scale/sales-$rows.csv
[ -f "$data" ] || "$bin" gen-data --rows "$rows" --seed 42 --out "$data"
started=
if [ -z "${MRFLOW_TEST_POSTGRES:-}" ]; then
    eval "$(.ci/postgres.sh start)"
    started=1
fi
home=$(mktemp -d)
trap 'rm -rf "$home"; [ -z "$started" ] || .ci/postgres.sh stop' EXIT
url=$MRFLOW_TEST_POSTGRES
psql=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || command -v psql)
table=bench_sales_$rows
have=$("$psql" "$url" -tAq -c "SELECT COUNT(*) FROM $table" 2>/dev/null || echo 0)
if [ "$have" != "$rows" ]; then
    echo "loading $rows rows into $table"
    "$psql" "$url" -q -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS $table;
CREATE UNLOGGED TABLE $table (sale_date date, year int, month int, quarter int, region text,
  country text, store_id text, brand text, category text, units_sold int,
  price_per_unit numeric(10,2), total_revenue numeric(12,2), cost_per_unit numeric(10,2),
  total_cost numeric(12,2), profit numeric(12,2), profit_margin numeric(8,2));
\copy $table FROM '$data' WITH (FORMAT csv, HEADER true)
ANALYZE $table;
SQL
fi
export MRFLOW_CONFIG_DIR=$home/config MRFLOW_CACHE_DIR=$home/cache MRFLOW_DATA_DIR=$home/data
measure() { python3 benches/peer/measure.py -- "$bin" run --no-cache --format json --data "$1"; }
source="$url?table=$table"
for i in $(seq "$runs"); do
    measure "$data" >> "$home/csv.jsonl"
    measure "$source" >> "$home/table.jsonl"
done
"$bin" run --no-cache --format json --data "$data" > "$home/csv.json"
"$bin" run --no-cache --format json --data "$source" > "$home/table.json"
python3 - "$home" "$data" <<'PY'
import json, os, statistics, sys
home, data = sys.argv[1], sys.argv[2]
def runs(name):
    rows = [json.loads(l) for l in open(os.path.join(home, name))]
    assert all(r["status"] == 0 for r in rows), rows
    return statistics.median(r["wall_s"] for r in rows), statistics.median(r["peak_rss_mb"] for r in rows)
csv, table = runs("csv.jsonl"), runs("table.jsonl")
a, b = json.load(open(os.path.join(home, "csv.json"))), json.load(open(os.path.join(home, "table.json")))
agree = all(
    x["key"] == y["key"] and abs(x["value"] - y["value"]) < 0.005
    for sa, sb in zip(a["steps"], b["steps"]) for x, y in zip(sa["facts"], sb["facts"])
    if isinstance(x["value"], (int, float))
)
print(f"rows: {b['data']['rows']:,}")
print(f"csv file ({os.path.getsize(data) / 1e6:,.0f} MB): {csv[0]:.2f} s, peak {csv[1]:.0f} MB")
print(f"postgres table: {table[0]:.2f} s, peak {table[1]:.0f} MB, "
      f"{b['data']['bytes'] / 1e3:,.1f} kB received from the server")
print(f"every fact agrees to the cent: {agree}; baseline tokens {a['totals']['baseline_prompt_tokens']:,} "
      f"(file) vs {b['totals']['baseline_prompt_tokens']:,} (table)")
PY
