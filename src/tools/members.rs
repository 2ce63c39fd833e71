//! Per-member money figures of one dimension, the base of profitability, ROI, budget and
//! market share.

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::frame::sums_by;
use super::{Dimension, ToolFailure};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberFigures {
    pub member: String,
    pub revenue: f64,
    pub cost: f64,
    pub profit: f64,
    pub units: f64,
    /// profit / revenue × 100.
    pub margin_pct: f64,
    /// profit / cost × 100.
    pub roi_pct: f64,
}

/// Percentage `a / b × 100`, 0 where `b` is 0 (a member with no revenue has no margin).
pub fn ratio_pct(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b * 100.0 }
}

/// Members ordered by name; callers sort as their analysis needs.
pub fn member_figures<'a>(frame: impl Into<Rows<'a>>, by: &Dimension) -> Result<Vec<MemberFigures>, ToolFailure> {
    let groups = sums_by(
        frame,
        &[by.column()],
        &["total_revenue", "total_cost", "profit", "units_sold"],
    )?;
    if groups.is_empty() {
        return Err(ToolFailure("no rows to analyse".into()));
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            let (revenue, cost, profit, units) = (g.sums[0], g.sums[1], g.sums[2], g.sums[3]);
            MemberFigures {
                member: g.keys[0].text(),
                revenue,
                cost,
                profit,
                units,
                margin_pct: ratio_pct(profit, revenue),
                roi_pct: ratio_pct(profit, cost),
            }
        })
        .collect())
}

/// Figures over all members together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overall {
    pub revenue: f64,
    pub cost: f64,
    pub profit: f64,
    pub units: f64,
    pub margin_pct: f64,
    pub roi_pct: f64,
}

pub fn totals(members: &[MemberFigures]) -> Overall {
    let revenue = members.iter().map(|m| m.revenue).sum();
    let cost = members.iter().map(|m| m.cost).sum();
    let profit = members.iter().map(|m| m.profit).sum();
    let units = members.iter().map(|m| m.units).sum();
    Overall {
        revenue,
        cost,
        profit,
        units,
        margin_pct: ratio_pct(profit, revenue),
        roi_pct: ratio_pct(profit, cost),
    }
}

/// Sorts descending by `key`, ties broken by name so results are stable.
pub fn sort_desc_by<T>(items: &mut [T], key: impl Fn(&T) -> f64, name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| key(b).total_cmp(&key(a)).then_with(|| name(a).cmp(name(b))));
}
