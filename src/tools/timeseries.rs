//! Revenue and profit per month or quarter, period-over-period growth, and the seasonal
//! index (mean revenue of each month-of-year over the mean of all periods).

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::frame::sums_by;
use super::members::ratio_pct;
use super::{Analysis, Fact, Period, ToolFailure, Unit, period_name};
use crate::format::{decimal, money, pct};
use crate::settings::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodPoint {
    pub year: i64,
    /// Month 1-12 or quarter 1-4.
    pub period: i64,
    pub label: String,
    pub revenue: f64,
    /// Null when the data has no profit (a revenue-only export).
    pub profit: Option<f64>,
    pub units: Option<f64>,
    /// Revenue growth over the previous period, in percent.
    pub growth_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalIndex {
    pub period: i64,
    pub label: String,
    pub index: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    pub period: Period,
    pub points: Vec<PeriodPoint>,
    pub seasonal_index: Vec<SeasonalIndex>,
    pub peak: String,
    pub trough: String,
    /// Highest minus lowest seasonal index.
    pub seasonality_strength: f64,
    /// Revenue growth of the last complete year over the one before, if there are two.
    pub yoy_growth_pct: Option<f64>,
    pub yoy_years: Option<(i64, i64)>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub fn period_label(period: Period, p: i64) -> String {
    match period {
        Period::Month => MONTHS.get((p - 1) as usize).copied().unwrap_or("?").to_string(),
        Period::Quarter => format!("Q{p}"),
    }
}

fn per_year(period: Period) -> i64 {
    match period {
        Period::Month => 12,
        Period::Quarter => 4,
    }
}

/// The aggregated series, oldest first.
pub fn series<'a>(frame: impl Into<Rows<'a>>, period: Period) -> Result<Vec<PeriodPoint>, ToolFailure> {
    let key = period_name(period);
    let rows: Rows<'a> = frame.into();
    // Revenue always; profit and units when the data has them.
    let measures: Vec<&str> = ["total_revenue", "profit", "units_sold"]
        .into_iter()
        .filter(|m| *m == "total_revenue" || rows.frame.column(m).is_ok())
        .collect();
    let groups = sums_by(rows, &["year", key], &measures)?;
    let sum_of = |g: &super::frame::Group, m: &str| measures.iter().position(|x| *x == m).map(|i| g.sums[i]);
    if groups.is_empty() {
        return Err(ToolFailure("no rows to analyse".into()));
    }
    let mut points: Vec<PeriodPoint> = Vec::with_capacity(groups.len());
    for g in groups {
        let (year, p) = (g.keys[0].int(), g.keys[1].int());
        if !(1..=per_year(period)).contains(&p) {
            return Err(ToolFailure(format!(
                "`{key}` value {p} is out of range 1-{}",
                per_year(period)
            )));
        }
        let growth_pct = points
            .last()
            .map(|prev| ratio_pct(g.sums[0] - prev.revenue, prev.revenue));
        let label = match period {
            Period::Month => format!("{year}-{p:02}"),
            Period::Quarter => format!("{year}-Q{p}"),
        };
        points.push(PeriodPoint {
            year,
            period: p,
            label,
            revenue: g.sums[0],
            profit: sum_of(&g, "profit"),
            units: sum_of(&g, "units_sold"),
            growth_pct,
        });
    }
    Ok(points)
}

/// Mean revenue of each period-of-year over the mean revenue of all periods.
pub fn seasonal_index(points: &[PeriodPoint], period: Period) -> Vec<SeasonalIndex> {
    let overall = points.iter().map(|p| p.revenue).sum::<f64>() / points.len() as f64;
    (1..=per_year(period))
        .filter_map(|p| {
            let same: Vec<f64> = points.iter().filter(|x| x.period == p).map(|x| x.revenue).collect();
            (!same.is_empty()).then(|| SeasonalIndex {
                period: p,
                label: period_label(period, p),
                index: same.iter().sum::<f64>() / same.len() as f64 / overall,
            })
        })
        .collect()
}

pub fn run<'a>(frame: impl Into<Rows<'a>>, period: Period) -> Result<TimeSeries, ToolFailure> {
    let points = series(frame, period)?;
    let seasonal = seasonal_index(&points, period);
    let peak = seasonal
        .iter()
        .max_by(|a, b| a.index.total_cmp(&b.index))
        .expect("non-empty");
    let trough = seasonal
        .iter()
        .min_by(|a, b| a.index.total_cmp(&b.index))
        .expect("non-empty");

    let full_years: Vec<(i64, f64)> = {
        let mut years: Vec<i64> = points.iter().map(|p| p.year).collect();
        years.dedup();
        years
            .into_iter()
            .filter(|y| points.iter().filter(|p| p.year == *y).count() as i64 == per_year(period))
            .map(|y| (y, points.iter().filter(|p| p.year == y).map(|p| p.revenue).sum()))
            .collect()
    };
    let (yoy_growth_pct, yoy_years) = match full_years.as_slice() {
        [.., (y0, r0), (y1, r1)] => (Some(ratio_pct(r1 - r0, *r0)), Some((*y0, *y1))),
        _ => (None, None),
    };
    Ok(TimeSeries {
        period,
        peak: peak.label.clone(),
        trough: trough.label.clone(),
        seasonality_strength: peak.index - trough.index,
        seasonal_index: seasonal.clone(),
        points,
        yoy_growth_pct,
        yoy_years,
    })
}

impl Analysis for TimeSeries {
    fn facts(&self) -> Vec<Fact> {
        let find = |label: &str| {
            self.seasonal_index
                .iter()
                .find(|s| s.label == label)
                .map_or(0.0, |s| s.index)
        };
        let (peak, trough) = (find(&self.peak), find(&self.trough));
        let best = self
            .points
            .iter()
            .max_by(|a, b| a.revenue.total_cmp(&b.revenue))
            .expect("non-empty");
        let p = period_name(self.period);
        let key = |k: &str| format!("timeseries.{p}.{k}");
        let mut facts = vec![
            Fact::text(
                key("peak"),
                Priority::Critical,
                &self.peak,
                format!("Peak season: {} (seasonal index {})", self.peak, decimal(peak, 2)),
            )
            .about(&["peak", "highest", "strongest", "best", "busiest", "top", "strong"]),
            Fact::text(
                key("trough"),
                Priority::Important,
                &self.trough,
                format!(
                    "Weakest season: {} (seasonal index {})",
                    self.trough,
                    decimal(trough, 2)
                ),
            )
            .about(&["weak", "low", "trough", "slow", "worst", "quiet"]),
            Fact::number(
                key("seasonality_strength"),
                Priority::Important,
                self.seasonality_strength,
                decimal(self.seasonality_strength, 2),
                format!(
                    "Seasonality strength (peak minus trough index): {}",
                    decimal(self.seasonality_strength, 2)
                ),
            )
            .about(&["season"]),
            Fact::text(
                key("best_period"),
                Priority::Useful,
                &best.label,
                format!(
                    "Best single period: {} with {} revenue",
                    best.label,
                    money(best.revenue)
                ),
            )
            .with_figure(best.revenue, Unit::Money),
        ];
        if let (Some(g), Some((y0, y1))) = (self.yoy_growth_pct, self.yoy_years) {
            facts.push(
                Fact::number(
                    "timeseries.yoy_growth",
                    Priority::Critical,
                    g,
                    pct(g),
                    format!("Revenue growth {y1} vs {y0}: {}", pct(g)),
                )
                .about(&[
                    "growth", "grew", "grow", "increase", "rose", "up ", "decline", "fell", "down", "change",
                ]),
            );
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::fixture;

    #[test]
    fn monthly_series_matches_hand_computation() {
        let t = run(&fixture::sales(), Period::Month).unwrap();
        assert_eq!(t.points.len(), 2);
        assert_eq!(
            (t.points[0].label.as_str(), t.points[0].revenue, t.points[0].profit),
            ("2023-01", 600.0, Some(190.0))
        );
        assert_eq!((t.points[1].revenue, t.points[1].profit), (400.0, Some(120.0)));
        assert!((t.points[1].growth_pct.unwrap() + 100.0 / 3.0).abs() < 1e-9);
        // Mean is 500: Jan 1.2, Feb 0.8.
        assert!((t.seasonal_index[0].index - 1.2).abs() < 1e-12);
        assert_eq!((t.peak.as_str(), t.trough.as_str()), ("Jan", "Feb"));
        assert!((t.seasonality_strength - 0.4).abs() < 1e-12);
        assert_eq!(t.yoy_growth_pct, None);
    }

    #[test]
    fn year_over_year_uses_complete_years() {
        let mut years = Vec::new();
        let mut months = Vec::new();
        let mut revenue = Vec::new();
        for (y, base) in [(2022i64, 100.0), (2023, 110.0), (2024, 50.0)] {
            let n = if y == 2024 { 3 } else { 12 };
            for m in 1..=n {
                years.push(y);
                months.push(m as i64);
                revenue.push(base);
            }
        }
        let n = years.len();
        let frame = polars::df! {
            "year" => years, "month" => months, "total_revenue" => revenue.clone(),
            "profit" => vec![1.0; n], "units_sold" => vec![1.0; n],
        }
        .unwrap();
        let t = run(&frame, Period::Month).unwrap();
        assert_eq!(t.yoy_years, Some((2022, 2023)));
        assert!((t.yoy_growth_pct.unwrap() - 10.0).abs() < 1e-9);
    }
}
