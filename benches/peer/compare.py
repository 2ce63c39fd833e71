"""Side-by-side: mrflow-tui against its Python peers, on the same files, in one run.

Called by benches/compare.sh. For each dataset it alternates whole-process runs of
`mrflow-tui run --no-cache` and `roi_analysis.py --engine E` for each peer engine (pandas,
polars, DuckDB), and prints the median wall time and peak memory of each and each peer's
ratio to ours; it checks every peer agrees with us on the headline figures; and it compares
token counting with tiktoken (same text, same counts, throughput).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(cmd, env=None) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "measure.py"), "--", *cmd], capture_output=True, text=True,
                         env=env, check=True)
    m = json.loads(out.stdout)
    if m["status"] != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({m['status']}): {m['stderr']}")
    return m


def ours_env(home: Path) -> dict:
    env = dict(os.environ)
    for name in ("CONFIG", "CACHE", "DATA"):
        env[f"MRFLOW_{name}_DIR"] = str(home / name.lower())
    return env


def fact(report: dict, key: str):
    for step in report["steps"]:
        for f in step["facts"]:
            if f["key"] == key:
                return f["value"]
    raise KeyError(key)


PEERS = ("pandas", "polars", "duckdb")


def peer_cmd(args, data: Path, engine: str) -> list:
    return [args.python, str(HERE / "roi_analysis.py"), "--data", str(data), "--assets", args.assets,
            "--engine", engine]


def headline(args, data: Path, home: Path, engine: str) -> list:
    ours = json.loads(subprocess.run([args.bin, "run", "--no-cache", "--format", "json", "--data", str(data)],
                                     capture_output=True, text=True, env=ours_env(home), check=True).stdout)
    peer = json.loads(subprocess.run(peer_cmd(args, data, engine), capture_output=True, text=True,
                                     check=True).stdout)
    p = peer["headline"]
    checks = [
        ("total revenue", round(fact(ours, "totals.revenue"), 2), p["total_revenue"]),
        ("total profit", round(fact(ours, "totals.profit"), 2), p["total_profit"]),
        ("top brand by profit", fact(ours, "profitability.brand.top"), p["top_brand_by_profit"]),
        ("highest-margin brand", fact(ours, "profitability.brand.highest_margin"), p["highest_margin_brand"]),
    ]
    return [(name, a, b, abs(a - b) < 0.011 if isinstance(a, float) else a == b) for name, a, b in checks]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--assets", required=True)
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--sample", required=True, type=Path)
    p.add_argument("--rows", default="1000000,10000000")
    p.add_argument("--peers", default=",".join(PEERS))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    datasets = [("sample 15k", args.sample)]
    for rows in [int(r) for r in args.rows.split(",") if r]:
        path = args.work / f"sales-{rows}.csv"
        if not path.exists():
            subprocess.run([args.bin, "gen-data", "--rows", str(rows), "--seed", "42", "--out", str(path)],
                           check=True, capture_output=True)
        datasets.append((f"{rows:,} rows", path))

    ok = True
    peers = [p for p in args.peers.split(",") if p]
    head = "".join(f" {p:>10} {'ratio':>6}" for p in peers)
    print(f"{'data':<16} {'':<11} {'mrflow-tui':>10}{head}")
    for label, path in datasets:
        runs = {name: [] for name in ("ours", *peers)}
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as home:
                runs["ours"].append(measure([args.bin, "run", "--no-cache", "--format", "json", "--data", str(path)],
                                            env=ours_env(Path(home))))
            for engine in peers:
                runs[engine].append(measure(peer_cmd(args, path, engine)))
        for metric, unit in (("wall_s", "s"), ("peak_rss_mb", "MB")):
            o = statistics.median(r[metric] for r in runs["ours"])
            cells = ""
            for engine in peers:
                q = statistics.median(r[metric] for r in runs[engine])
                cells += f" {q:>9.3f}{unit[0]} {q / o:>5.1f}x"
            print(f"{label:<16} {metric:<11} {o:>9.3f}{unit[0]}{cells}")
        for engine in peers:
            with tempfile.TemporaryDirectory() as home:
                for name, a, b, same in headline(args, path, Path(home), engine):
                    ok &= same
                    if not same:
                        print(f"{label:<16} DISAGREE on {name}: mrflow-tui {a!r}, {engine} {b!r}")
        print(f"{label:<16} headline figures agree with every peer: {'yes' if ok else 'NO'}")

    texts = {"prose (README.md)": HERE.parent.parent / "README.md", "CSV (sample)": args.sample}
    for label, file in texts.items():
        ours = json.loads(subprocess.run([args.bin, "tokens", str(file), "--seconds", str(args.seconds), "--json"],
                                         capture_output=True, text=True, check=True).stdout)
        peer = json.loads(subprocess.run([args.python, str(HERE / "roi_analysis.py"), "--count", str(file),
                                          "--assets", args.assets, "--seconds", str(args.seconds)],
                                         capture_output=True, text=True, check=True).stdout)
        same = ours["tokens"] == peer["tokens"]
        ok &= same
        print(f"tokens {label:<20} {ours['mib_per_s']:>8.1f} MiB/s {peer['mib_per_s']:>8.1f} MiB/s "
              f"{ours['mib_per_s'] / peer['mib_per_s']:>6.1f}x  counts {ours['tokens']} vs {peer['tokens']}"
              f"{'' if same else '  DIFFERENT'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
