"""The data work of the `roi_analysis` peer, three ways: pandas (the original design's
stack), polars and DuckDB (what a 2026 analyst writes instead). Each engine loads the file
once, describes it, totals two measures and builds the profitability table by a dimension;
the flow around them (roi_analysis.py) is the same for all three.
"""

from pathlib import Path


class Pandas:
    name = "pandas"

    def __init__(self, path: Path):
        import pandas as pd

        self.pd = pd
        self.df = pd.read_csv(path)
        self.rows = len(self.df)

    def describe(self) -> str:
        import json

        return json.dumps(self.df.describe(include="all").to_dict(), default=str)

    def total(self, column: str) -> float:
        return float(self.df[column].sum())

    def profitability(self, by: str):
        g = self.df.groupby(by).agg(
            revenue=("total_revenue", "sum"),
            cost=("total_cost", "sum"),
            profit=("profit", "sum"),
            units=("units_sold", "sum"),
        )
        g["margin_pct"] = g["profit"] / g["revenue"] * 100
        g["roi_pct"] = g["profit"] / g["cost"] * 100
        g = g.sort_values("profit", ascending=False)
        rows = [dict(member=str(m), **{k: float(v) for k, v in r.items()}) for m, r in g.iterrows()]
        return g.round(2).to_string(), rows


class Polars:
    name = "polars"

    def __init__(self, path: Path):
        import polars as pl

        self.pl = pl
        pl.Config.set_tbl_rows(200)
        pl.Config.set_tbl_cols(50)
        self.df = pl.read_csv(path)
        self.rows = self.df.height

    def describe(self) -> str:
        return str(self.df.describe())

    def total(self, column: str) -> float:
        return float(self.df[column].sum())

    def profitability(self, by: str):
        pl = self.pl
        g = (
            self.df.group_by(by)
            .agg(
                pl.col("total_revenue").sum().alias("revenue"),
                pl.col("total_cost").sum().alias("cost"),
                pl.col("profit").sum(),
                pl.col("units_sold").sum().alias("units"),
            )
            .with_columns(
                (pl.col("profit") / pl.col("revenue") * 100).alias("margin_pct"),
                (pl.col("profit") / pl.col("cost") * 100).alias("roi_pct"),
            )
            .sort("profit", descending=True)
        )
        rows = [
            dict(member=str(r[by]), **{k: float(r[k]) for k in ("revenue", "cost", "profit", "units", "margin_pct", "roi_pct")})
            for r in g.iter_rows(named=True)
        ]
        return str(g.with_columns(pl.col(pl.Float64).round(2))), rows


class DuckDb:
    name = "duckdb"

    def __init__(self, path: Path):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("CREATE TABLE sales AS SELECT * FROM read_csv_auto(?)", [str(path)])
        self.rows = self.con.execute("SELECT count(*) FROM sales").fetchone()[0]

    def describe(self) -> str:
        rel = self.con.sql("SUMMARIZE sales")
        header = rel.columns
        return "\n".join(["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rel.fetchall()])

    def total(self, column: str) -> float:
        return float(self.con.execute(f'SELECT sum("{column}") FROM sales').fetchone()[0])

    def profitability(self, by: str):
        rel = self.con.sql(
            f"""SELECT "{by}" AS member, sum(total_revenue) AS revenue, sum(total_cost) AS cost,
                       sum(profit) AS profit, sum(units_sold) AS units,
                       sum(profit) / sum(total_revenue) * 100 AS margin_pct,
                       sum(profit) / sum(total_cost) * 100 AS roi_pct
                FROM sales GROUP BY "{by}" ORDER BY profit DESC"""
        )
        names = rel.columns
        rows = [dict(zip(names, (str(r[0]), *map(float, r[1:])))) for r in rel.fetchall()]
        text = "\n".join(
            [" ".join(f"{n:>14}" for n in names)]
            + [" ".join(f"{v:>14}" if isinstance(v, str) else f"{v:>14.2f}" for v in r.values()) for r in rows]
        )
        return text, rows


ENGINES = {"pandas": Pandas, "polars": Polars, "duckdb": DuckDb}
