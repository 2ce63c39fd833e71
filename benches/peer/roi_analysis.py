"""The Python peers: the `roi_analysis` flow written the way the original design writes it
(a flow of steps passing results as text, counted with tiktoken), its data work done with
pandas (the original stack), polars or DuckDB (engines.py), to measure mrflow-tui against
in one run on the same files (benches/compare.sh).

    python roi_analysis.py --data sales.csv --assets DIR [--engine pandas|polars|duckdb]
    python roi_analysis.py --count FILE --assets DIR [--seconds 2]

Steps: load_data (read the CSV, describe it: pandas' describe(include='all'), polars'
describe(), DuckDB's SUMMARIZE), analyze_profitability
(groupby brand/category/region, ROI by brand), optimize_budget (the same concave-response
allocation as src/tools/budget.rs), generate_report. Each step's prompt is built from
context items with priorities, rendered as text, counted with tiktoken and pruned to the
step's budget (the flow file's budgets) by dropping, then truncating, the lowest-priority
items. No model is called (nor by mrflow-tui's offline analyst): answers state the key
facts. Prints one JSON document: headline figures, tokens per step, timings.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

from engines import ENGINES
from tiktoken_local import encoding

BUDGETS = {"load_data": 300, "analyze_profitability": 600, "optimize_budget": 450, "generate_report": 500}
PRIORITY = {"critical": 0, "important": 1, "useful": 2, "optional": 3}


def optimize_budget(roi: dict, total=100_000.0, min_share=0.02, max_share=0.40) -> list:
    """The same concave-response allocation as src/tools/budget.rs: (member, allocation,
    historical ROI %, projected profit), largest allocation first."""
    n = len(roi)
    s = total / n
    lo, hi = min_share * total, max_share * total

    def alloc(mu):
        return {m: (lo if r <= 0 else min(max(r * s / mu - s, lo), hi)) for m, r in roi.items()}

    a, b = 1e-12, max(max(roi.values()), 1e-9) * 2 + 1
    for _ in range(200):
        mu = (a + b) / 2
        if sum(alloc(mu).values()) > total:
            a = mu
        else:
            b = mu
    x = alloc((a + b) / 2)
    plan = [(m, x[m], roi[m] * 100, roi[m] * s * math.log1p(x[m] / s)) for m in roi]
    return sorted(plan, key=lambda p: -p[1])


def render_plan(plan: list) -> str:
    lines = [f"{'member':<24} {'allocation':>12} {'roi_pct':>8} {'projected':>12}"]
    lines += [f"{m:<24} {a:>12.2f} {r:>8.2f} {p:>12.2f}" for m, a, r, p in plan]
    return "budget\n" + "\n".join(lines)


def prune(items, budget, enc):
    """Keeps items by priority while the prompt fits; truncates the last critical one."""
    kept, used = [], 0
    for key, priority, text in sorted(items, key=lambda i: PRIORITY[i[1]]):
        block = f"## {key}\n{text}\n\n"
        n = len(enc.encode_ordinary(block))
        if used + n <= budget:
            kept.append(block)
            used += n
        elif priority == "critical" and budget - used > 8:
            tokens = enc.encode_ordinary(block)[: budget - used]
            kept.append(enc.decode(tokens))
            used += len(tokens)
    prompt = "".join(kept)
    return prompt, len(enc.encode_ordinary(prompt))


def run_flow(path: Path, enc, engine_name: str) -> dict:
    timings = {}
    t = time.perf_counter()
    engine = ENGINES[engine_name](path)
    profile = engine.describe()
    timings["load_data"] = time.perf_counter() - t
    persona = "You are a Data Engineer. Your goal: Load sales data reliably and describe what it holds."
    data_text = profile[:20_000]
    history = {}

    def step(name, items):
        prompt, tokens = prune(items, BUDGETS[name], enc)
        history[name] = {"prompt_tokens": tokens}
        return prompt

    revenue, profit = engine.total("total_revenue"), engine.total("profit")
    load_answer = f"- Dataset: {engine.rows:,} sales rows\n- Revenue in the data: ${revenue:,.0f}"
    step("load_data", [("persona", "critical", persona), ("task", "critical", "Load and describe the data."),
                       ("dataset", "critical", data_text), ("data_profile", "important", load_answer)])

    t = time.perf_counter()
    tables = {by: engine.profitability(by) for by in ("brand", "category", "region")}
    brands = tables["brand"][1]
    roi_rows = sorted(brands, key=lambda r: -r["roi_pct"])
    timings["analyze_profitability"] = time.perf_counter() - t
    top = brands[0]["member"]
    best = max(brands, key=lambda r: r["margin_pct"])
    profit_answer = (
        f"- Total revenue: ${revenue:,.0f}\n- Total profit: ${profit:,.0f}\n"
        f"- Top brand by profit: {top}\n- Highest-margin brand: {best['member']} at {best['margin_pct']:.1f}%"
    )
    roi_text = "roi\n" + "\n".join(f"{r['member']:<24} {r['roi_pct']:>8.2f}" for r in roi_rows)
    step("analyze_profitability", [
        ("persona", "critical", "You are a Profitability Analyst."), ("task", "critical", "Analyse profitability."),
        ("profitability_results", "critical", "\n\n".join(f"{k}\n{v[0]}" for k, v in tables.items())),
        ("roi", "critical", roi_text), ("data_profile", "important", load_answer),
        ("dataset", "useful", data_text)])

    t = time.perf_counter()
    plan = optimize_budget({r["member"]: r["profit"] / r["cost"] for r in brands})
    timings["optimize_budget"] = time.perf_counter() - t
    budget_answer = f"- Largest budget allocation: {plan[0][0]} gets ${plan[0][1]:,.0f}"
    step("optimize_budget", [
        ("persona", "critical", "You are a Budget Strategist."), ("task", "critical", "Split the budget."),
        ("budget_plan", "critical", render_plan(plan)), ("profitability", "important", profit_answer)])

    t = time.perf_counter()
    report = "# Report: roi analysis\n\n" + profit_answer + "\n" + budget_answer + "\n"
    step("generate_report", [
        ("persona", "critical", "You are a Marketing Research Writer."), ("task", "critical", "Write the report."),
        ("profitability", "critical", profit_answer), ("budget_plan", "critical", budget_answer),
        ("data_profile", "useful", load_answer)])
    timings["generate_report"] = time.perf_counter() - t
    return {
        "engine": engine_name,
        "rows": engine.rows,
        "headline": {
            "total_revenue": round(revenue, 2),
            "total_profit": round(profit, 2),
            "top_brand_by_profit": str(top),
            "highest_margin_brand": str(best["member"]),
        },
        "steps": history,
        "timings_s": timings,
        "report": report,
    }


def count(file: Path, enc, seconds: float) -> dict:
    text = file.read_text()
    tokens = len(enc.encode_ordinary(text))
    runs, started = 0, time.perf_counter()
    while True:
        enc.encode_ordinary(text)
        runs += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
    size = len(text.encode())
    return {"tokens": tokens, "bytes": size, "mib_per_s": size * runs / elapsed / (1 << 20)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path)
    p.add_argument("--count", type=Path)
    p.add_argument("--assets", type=Path, required=True)
    p.add_argument("--encoding", default="o200k_base")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--engine", choices=sorted(ENGINES), default="pandas")
    a = p.parse_args()
    enc = encoding(a.encoding, a.assets)
    if a.count:
        out = count(a.count, enc, a.seconds)
    elif a.data:
        out = run_flow(a.data, enc, a.engine)
    else:
        sys.exit("give --data FILE or --count FILE")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
