"""The Python peer: the `roi_analysis` flow written the way the original design writes it
(pandas + tiktoken, a flow of steps passing results as text), to measure mrflow-tui
against in one run on the same files (benches/compare.sh).

    python roi_analysis.py --data sales.csv --assets DIR [--encoding o200k_base]
    python roi_analysis.py --count FILE --assets DIR [--seconds 2]

Steps: load_data (read_csv, describe(include='all').to_dict()), analyze_profitability
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

import pandas as pd

from tiktoken_local import encoding

BUDGETS = {"load_data": 300, "analyze_profitability": 600, "optimize_budget": 450, "generate_report": 500}
PRIORITY = {"critical": 0, "important": 1, "useful": 2, "optional": 3}


def profitability(df: pd.DataFrame, by: str) -> pd.DataFrame:
    g = df.groupby(by).agg(
        revenue=("total_revenue", "sum"),
        cost=("total_cost", "sum"),
        profit=("profit", "sum"),
        units=("units_sold", "sum"),
    )
    g["margin_pct"] = g["profit"] / g["revenue"] * 100
    g["roi_pct"] = g["profit"] / g["cost"] * 100
    return g.sort_values("profit", ascending=False)


def optimize_budget(by_brand: pd.DataFrame, total=100_000.0, min_share=0.02, max_share=0.40) -> pd.DataFrame:
    roi = (by_brand["profit"] / by_brand["cost"]).to_dict()
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
    out = pd.DataFrame({"allocation": x, "historical_roi_pct": {m: r * 100 for m, r in roi.items()}})
    out["projected_profit"] = [roi[m] * s * math.log1p(x[m] / s) for m in out.index]
    return out.sort_values("allocation", ascending=False)


def render(title: str, frame: pd.DataFrame) -> str:
    return f"{title}\n{frame.round(2).to_string()}"


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


def run_flow(path: Path, enc) -> dict:
    timings = {}
    t = time.perf_counter()
    df = pd.read_csv(path)
    profile = df.describe(include="all").to_dict()
    timings["load_data"] = time.perf_counter() - t
    persona = "You are a Data Engineer. Your goal: Load sales data reliably and describe what it holds."
    data_text = json.dumps(profile, default=str)[:20_000]
    history = {}

    def step(name, items):
        prompt, tokens = prune(items, BUDGETS[name], enc)
        history[name] = {"prompt_tokens": tokens}
        return prompt

    load_answer = f"- Dataset: {len(df):,} sales rows\n- Revenue in the data: ${df['total_revenue'].sum():,.0f}"
    step("load_data", [("persona", "critical", persona), ("task", "critical", "Load and describe the data."),
                       ("dataset", "critical", data_text), ("data_profile", "important", load_answer)])

    t = time.perf_counter()
    tables = {by: profitability(df, by) for by in ("brand", "category", "region")}
    roi = tables["brand"].sort_values("roi_pct", ascending=False)
    timings["analyze_profitability"] = time.perf_counter() - t
    b = tables["brand"]
    top, best_margin = b.index[0], b["margin_pct"].idxmax()
    profit_answer = (
        f"- Total revenue: ${df['total_revenue'].sum():,.0f}\n- Total profit: ${df['profit'].sum():,.0f}\n"
        f"- Top brand by profit: {top}\n- Highest-margin brand: {best_margin} at {b['margin_pct'].max():.1f}%"
    )
    step("analyze_profitability", [
        ("persona", "critical", "You are a Profitability Analyst."), ("task", "critical", "Analyse profitability."),
        ("profitability_results", "critical", "\n\n".join(render(k, v) for k, v in tables.items())),
        ("roi", "critical", render("roi", roi)), ("data_profile", "important", load_answer),
        ("dataset", "useful", data_text)])

    t = time.perf_counter()
    plan = optimize_budget(tables["brand"])
    timings["optimize_budget"] = time.perf_counter() - t
    budget_answer = f"- Largest budget allocation: {plan.index[0]} gets ${plan['allocation'].iloc[0]:,.0f}"
    step("optimize_budget", [
        ("persona", "critical", "You are a Budget Strategist."), ("task", "critical", "Split the budget."),
        ("budget_plan", "critical", render("budget", plan)), ("profitability", "important", profit_answer)])

    t = time.perf_counter()
    report = "# Report: roi analysis\n\n" + profit_answer + "\n" + budget_answer + "\n"
    step("generate_report", [
        ("persona", "critical", "You are a Marketing Research Writer."), ("task", "critical", "Write the report."),
        ("profitability", "critical", profit_answer), ("budget_plan", "critical", budget_answer),
        ("data_profile", "useful", load_answer)])
    timings["generate_report"] = time.perf_counter() - t
    return {
        "rows": len(df),
        "headline": {
            "total_revenue": round(float(df["total_revenue"].sum()), 2),
            "total_profit": round(float(df["profit"].sum()), 2),
            "top_brand_by_profit": str(top),
            "highest_margin_brand": str(best_margin),
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
    a = p.parse_args()
    enc = encoding(a.encoding, a.assets)
    if a.count:
        out = count(a.count, enc, a.seconds)
    elif a.data:
        out = run_flow(a.data, enc)
    else:
        sys.exit("give --data FILE or --count FILE")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
