"""Checks a `mrflow-tui run --format json` report against an independent computation.

DuckDB reads the same CSV and sums revenue, cost and profit (exactly, in cents) overall
and by brand, category and region; the groups the report names (top and bottom by profit,
highest margin) must be DuckDB's, with the same profit to the cent. For the scale runs
(`benches/scale.sh`), where the file is too large to hand to pandas.

    python benches/peer/check_groups.py REPORT.json FILE.csv
"""

import json
import sys

import duckdb


def facts(report):
    """Every fact of every step, by key."""
    out = {}
    for step in report["steps"]:
        for fact in step.get("facts") or []:
            out[fact["key"]] = fact
    return out


def main():
    report_path, csv = sys.argv[1], sys.argv[2]
    report = json.load(open(report_path))
    found = facts(report)
    con = duckdb.connect()
    cents = "sum(round({0} * 100)::HUGEINT) AS {0}"
    sums = ", ".join(cents.format(c) for c in ("total_revenue", "total_cost", "profit"))
    source = f"read_csv('{csv}', header = true)"

    checks = []
    rows, revenue, profit = con.execute(
        f"SELECT count(*), sum(round(total_revenue * 100)::HUGEINT), sum(round(profit * 100)::HUGEINT) FROM {source}"
    ).fetchone()
    checks.append(("rows", rows, report["data"]["rows"]))
    checks.append(("totals.revenue", revenue, round(found["totals.revenue"]["value"] * 100)))
    checks.append(("totals.profit", profit, round(found["totals.profit"]["value"] * 100)))

    by = {
        d: {
            r[0]: r[1:]
            for r in con.execute(f"SELECT {d}, {sums} FROM {source} GROUP BY {d} ORDER BY {d}").fetchall()
        }
        for d in ("brand", "region", "category")
    }
    # Per dimension, the members the report names: top and bottom by profit (with the
    # profit it states) and the highest margin; each against DuckDB's sums of that group.
    for d, groups in by.items():
        for end in ("top", "bottom"):
            name = found[f"profitability.{d}.{end}"]["value"]
            stated = round(found[f"profitability.{d}.{end}_profit"]["value"] * 100)
            checks.append((f"profit of {d} {name}", groups[name][2], stated))
        checks.append((f"top {d} by profit", max(groups, key=lambda g: groups[g][2]), found[f"profitability.{d}.top"]["value"]))
        checks.append((f"bottom {d} by profit", min(groups, key=lambda g: groups[g][2]), found[f"profitability.{d}.bottom"]["value"]))
        best = max(groups, key=lambda g: groups[g][2] / groups[g][0])
        checks.append((f"highest-margin {d}", best, found[f"profitability.{d}.highest_margin"]["value"]))

    failed = [c for c in checks if c[1] != c[2]]
    for name, theirs, ours in checks:
        print(f"{'ok ' if theirs == ours else 'BAD'} {name}: DuckDB {theirs}, mrflow-tui {ours}")
    print(f"{len(checks) - len(failed)} of {len(checks)} figures agree")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
