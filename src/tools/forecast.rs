//! Revenue forecast for the next periods, with its backtest error.
//!
//! # Methods
//! - `trend`: ordinary least squares line through monthly revenue, extrapolated.
//! - `trend_seasonal` (classical multiplicative decomposition): fit a line, take each
//!   month's mean ratio of actual to line as its seasonal index (normalised to average 1),
//!   refit the line on the deseasonalised series, and forecast `line(t) × index(month)`.
//!   Needs two full years so every month's index rests on more than one observation.
//!
//! The backtest holds out the last `horizon` months (fewer if the history is short), fits on
//! the rest and reports the mean absolute percentage error (MAPE) of that forecast.

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::timeseries::series;
use super::{Analysis, Fact, Period, ToolFailure};
use crate::format::{money, pct};
use crate::settings::Priority;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Method {
    #[default]
    TrendSeasonal,
    Trend,
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    /// History needed to fit the method: a seasonal index wants two full cycles (24
    /// months), the usual minimum for a seasonal decomposition; a trend three points.
    fn min_points(&self) -> usize {
        match self {
            Method::TrendSeasonal => 24,
            Method::Trend => 3,
        }
    }

    /// Months of history the method needs: enough to fit, and at least one month more to
    /// hold out for the backtest (a forecast is never published without its error).
    pub fn min_history(&self) -> usize {
        self.min_points() + 1
    }

    /// Why the minimum is what it is, for messages.
    pub fn why_minimum(&self) -> &'static str {
        match self {
            Method::TrendSeasonal => "two full seasonal cycles to fit and one month held out for the backtest",
            Method::Trend => "three months to fit a trend and one held out for the backtest",
        }
    }
}

pub fn default_horizon() -> usize {
    6
}

pub fn validate(horizon: usize) -> Result<(), String> {
    if (1..=36).contains(&horizon) {
        Ok(())
    } else {
        Err(format!("`horizon` must be 1-36 months, got {horizon}"))
    }
}

/// Least squares `y = a + b·t` for `t = 0..n`.
fn ols(ys: &[f64]) -> (f64, f64) {
    let n = ys.len() as f64;
    let t_mean = (n - 1.0) / 2.0;
    let y_mean = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (t, y) in ys.iter().enumerate() {
        let dt = t as f64 - t_mean;
        sxy += dt * (y - y_mean);
        sxx += dt * dt;
    }
    let b = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    (y_mean - b * t_mean, b)
}

/// A fitted model: line plus one multiplicative index per calendar month (all 1 for `trend`).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub intercept: f64,
    pub slope: f64,
    pub index: [f64; 12],
}

impl Model {
    /// Fits on `ys` whose first value falls in calendar month `first_month` (1-12).
    pub fn fit(ys: &[f64], first_month: usize, method: Method) -> Model {
        let month_of = |t: usize| (first_month - 1 + t) % 12;
        let (a, b) = ols(ys);
        let mut index = [1.0; 12];
        if method == Method::TrendSeasonal {
            let mut sums = [0.0; 12];
            let mut counts = [0usize; 12];
            for (t, y) in ys.iter().enumerate() {
                let line = a + b * t as f64;
                if line > 0.0 {
                    sums[month_of(t)] += y / line;
                    counts[month_of(t)] += 1;
                }
            }
            for m in 0..12 {
                index[m] = if counts[m] > 0 { sums[m] / counts[m] as f64 } else { 1.0 };
            }
            let mean = index.iter().sum::<f64>() / 12.0;
            index.iter_mut().for_each(|i| *i /= mean);
            let deseasonalised: Vec<f64> = ys.iter().enumerate().map(|(t, y)| y / index[month_of(t)]).collect();
            let (a, b) = ols(&deseasonalised);
            return Model {
                intercept: a,
                slope: b,
                index,
            };
        }
        Model {
            intercept: a,
            slope: b,
            index,
        }
    }

    /// Value at step `t` (0 = first fitted point) in calendar month `month` (1-12).
    pub fn at(&self, t: usize, month: usize) -> f64 {
        (self.intercept + self.slope * t as f64) * self.index[month - 1]
    }
}

fn month_after(first_month: usize, steps: usize) -> usize {
    (first_month - 1 + steps) % 12 + 1
}

/// Mean absolute percentage error of forecasting the last `holdout` values from the rest.
pub fn backtest_mape(ys: &[f64], first_month: usize, method: Method, holdout: usize) -> f64 {
    let train = &ys[..ys.len() - holdout];
    let model = Model::fit(train, first_month, method);
    let errors: Vec<f64> = (train.len()..ys.len())
        .filter(|&t| ys[t] != 0.0)
        .map(|t| ((ys[t] - model.at(t, month_after(first_month, t))) / ys[t]).abs())
        .collect();
    if errors.is_empty() {
        0.0
    } else {
        errors.iter().sum::<f64>() / errors.len() as f64 * 100.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    pub label: String,
    pub revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub method: Method,
    pub horizon: usize,
    pub history_periods: usize,
    pub points: Vec<ForecastPoint>,
    pub total: f64,
    /// Deseasonalised revenue change per month.
    pub trend_per_period: f64,
    pub backtest_periods: usize,
    pub mape_pct: f64,
}

pub fn run<'a>(frame: impl Into<Rows<'a>>, horizon: usize, method: Method) -> Result<Forecast, ToolFailure> {
    validate(horizon)?;
    let points = series(frame, Period::Month)?;
    let need = method.min_history();
    if points.len() < need {
        return Err(ToolFailure(format!(
            "method `{}` needs {need} months of history, the data has {}: {}",
            method.as_str(),
            points.len(),
            method.why_minimum()
        )));
    }
    let ys: Vec<f64> = points.iter().map(|p| p.revenue).collect();
    let first_month = points[0].period as usize;
    let holdout = horizon.min(ys.len() - method.min_points());
    let mape_pct = backtest_mape(&ys, first_month, method, holdout);

    let model = Model::fit(&ys, first_month, method);
    let last = points.last().expect("checked non-empty");
    let forecast: Vec<ForecastPoint> = (1..=horizon)
        .map(|h| {
            let t = ys.len() - 1 + h;
            let month = month_after(first_month, t);
            let year = last.year + ((last.period as usize - 1 + h) / 12) as i64;
            ForecastPoint {
                label: format!("{year}-{month:02}"),
                revenue: model.at(t, month).max(0.0),
            }
        })
        .collect();
    Ok(Forecast {
        method,
        horizon,
        history_periods: ys.len(),
        total: forecast.iter().map(|p| p.revenue).sum(),
        points: forecast,
        trend_per_period: model.slope,
        backtest_periods: holdout,
        mape_pct,
    })
}

impl Analysis for Forecast {
    fn facts(&self) -> Vec<Fact> {
        let first = &self.points[0];
        let last = &self.points[self.points.len() - 1];
        vec![
            Fact::number(
                "forecast.total",
                Priority::Critical,
                self.total,
                money(self.total),
                format!(
                    "Forecast revenue {} to {}: {} ({})",
                    first.label,
                    last.label,
                    money(self.total),
                    self.method.as_str()
                ),
            )
            .about(&["forecast", "project", "predict", "expect", "outlook", "next"]),
            Fact::number(
                "forecast.mape",
                Priority::Critical,
                self.mape_pct,
                pct(self.mape_pct),
                format!(
                    "Backtest error (MAPE over {} months): {}",
                    self.backtest_periods,
                    pct(self.mape_pct)
                ),
            )
            .about(&["mape", "error", "accura", "backtest", "deviat"]),
            Fact::number(
                "forecast.next",
                Priority::Important,
                first.revenue,
                money(first.revenue),
                format!("Next month ({}) forecast: {}", first.label, money(first.revenue)),
            )
            .about(&["next", &first.label]),
            Fact::number(
                "forecast.trend",
                Priority::Useful,
                self.trend_per_period,
                money(self.trend_per_period),
                format!("Underlying trend: {} revenue per month", money(self.trend_per_period)),
            )
            .about(&["trend"]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_is_forecast_exactly() {
        let ys: Vec<f64> = (0..12).map(|t| 100.0 + 10.0 * t as f64).collect();
        let m = Model::fit(&ys, 1, Method::Trend);
        assert!((m.intercept - 100.0).abs() < 1e-9 && (m.slope - 10.0).abs() < 1e-9);
        assert!((m.at(12, 1) - 220.0).abs() < 1e-9);
        assert!(backtest_mape(&ys, 1, Method::Trend, 3) < 1e-9);
    }

    #[test]
    fn seasonal_pattern_is_recovered() {
        let season = [0.8, 0.8, 0.9, 1.0, 1.1, 1.3, 1.4, 1.3, 1.0, 0.9, 0.8, 0.7];
        let mean = season.iter().sum::<f64>() / 12.0;
        // Start in April to exercise the month rotation.
        let ys: Vec<f64> = (0..36)
            .map(|t| (1000.0 + 5.0 * t as f64) * season[(3 + t) % 12] / mean)
            .collect();
        let m = Model::fit(&ys, 4, Method::TrendSeasonal);
        assert!((m.index[6] - 1.4 / mean).abs() < 0.03, "{:?}", m.index);
        let seasonal = backtest_mape(&ys, 4, Method::TrendSeasonal, 6);
        let trend_only = backtest_mape(&ys, 4, Method::Trend, 6);
        assert!(seasonal < 2.0 && trend_only > 10.0, "{seasonal} {trend_only}");
    }

    #[test]
    fn too_little_history_is_a_clear_error() {
        let frame = crate::tools::fixture::sales();
        let err = run(&frame, 6, Method::TrendSeasonal).unwrap_err();
        assert_eq!(
            err.0,
            "method `trend_seasonal` needs 25 months of history, the data has 2: two full seasonal cycles to fit and \
             one month held out for the backtest"
        );
        assert!(validate(0).is_err() && validate(37).is_err() && validate(12).is_ok());
    }
}
