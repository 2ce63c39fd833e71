#!/usr/bin/env bash
# Quality under compression with a real model: `mrflow-tui eval` on the three built-in flows
# over the bundled sample, against Qwen2.5-Coder-1.5B-Instruct served offline by llama.cpp
# (../shared/real-model/serve.sh builds it once, ~15 minutes, then starts in seconds).
# Not part of `cargo test`: minutes of run time and 1.1 GB of weights.
#
#   benches/real_model.sh                 one run of each flow
#   REPEAT=3 benches/real_model.sh        medians and ranges over three runs
#   FLOWS="roi_analysis" benches/real_model.sh
#   MRFLOW_BIN=target/debug/mrflow-tui benches/real_model.sh   # a binary already built
#
# Each flow's eval is printed as a table and kept as JSON in target/real-model/.
set -euo pipefail
cd "$(dirname "$0")/.."
serve=${REAL_MODEL_SERVE:-../shared/real-model/serve.sh}
port=${PORT:-8093}
repeat=${REPEAT:-1}
flows=${FLOWS:-roi_analysis brand_performance sales_forecast}
[ -x "$serve" ] || [ -f "$serve" ] || { echo "no model server script at $serve (set REAL_MODEL_SERVE)" >&2; exit 2; }

bin=${MRFLOW_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin=target/release/mrflow-tui
fi
# Stop the server at the end only if this script started it.
running=$(curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && echo yes || echo no)
eval "$(bash "$serve" "$port")"
[ "$running" = yes ] || trap 'bash "$serve" --stop "$port"' EXIT

out=target/real-model
mkdir -p "$out"
home=$(mktemp -d)
# A 1.5B model on two cores reads a baseline prompt (~6,000 tokens) in about 50 s before
# its first token: give each request ten minutes.
mkdir -p "$home/config"
printf '[llm]\ntimeout_seconds = 600\n' > "$home/config/config.toml"
for flow in $flows; do
  echo "== $flow ($MODEL, $repeat run(s))"
  MRFLOW_CONFIG_DIR=$home/config MRFLOW_CACHE_DIR=$home/cache MRFLOW_DATA_DIR=$home/data \
    "$bin" eval --flow "$flow" --llm openai --base-url "$BASE_URL" --model "$MODEL" \
    --repeat "$repeat" --format json > "$out/$flow.json"
  MRFLOW_CONFIG_DIR=$home/config MRFLOW_CACHE_DIR=$home/cache MRFLOW_DATA_DIR=$home/data \
    "$bin" eval --show "$out/$flow.json"
done
rm -rf "$home"
