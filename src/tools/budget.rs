//! Budget optimization: split a marketing budget across the members of a dimension to
//! maximise projected profit under diminishing returns.
//!
//! # Method
//! Each member `i` gets a concave response curve anchored on its historical ROI
//! `r_i = profit_i / cost_i`:
//!
//! ```text
//! P_i(x) = r_i · s · ln(1 + x / s),   s = total / n
//! ```
//!
//! so the first dollar returns `r_i` dollars of profit and each further dollar returns less
//! (`P_i'(x) = r_i · s / (s + x)`); `s` sets how fast returns saturate, at the scale of an
//! even split. The allocation maximises `Σ P_i(x_i)` subject to `Σ x_i = total` and
//! `min_share · total ≤ x_i ≤ max_share · total`. The problem is concave, so the optimum is
//! where every unconstrained member has the same marginal return `μ` (KKT):
//! `x_i = clamp(r_i · s / μ − s, lo, hi)`; members with `r_i ≤ 0` get the minimum. `μ` is
//! found by bisection on the (monotone) total allocated. Projected revenue is projected
//! profit divided by the member's historical margin.

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::members::{member_figures, ratio_pct, sort_desc_by};
use super::{Analysis, Dimension, Fact, ToolFailure, Unit};
use crate::format::{money, pct, round};
use crate::settings::Priority;

pub fn default_total() -> f64 {
    100_000.0
}
pub fn default_min_share() -> f64 {
    0.02
}
pub fn default_max_share() -> f64 {
    0.40
}

pub fn validate(total: f64, min_share: f64, max_share: f64) -> Result<(), String> {
    if !(total.is_finite() && total > 0.0) {
        return Err(format!("`total` must be a positive amount, got {total}"));
    }
    if !(0.0..=1.0).contains(&min_share) || !(0.0..=1.0).contains(&max_share) {
        return Err(format!(
            "`min_share` and `max_share` must be between 0 and 1, got {min_share} and {max_share}"
        ));
    }
    if min_share > max_share {
        return Err(format!(
            "`min_share` ({min_share}) is larger than `max_share` ({max_share})"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    pub member: String,
    pub historical_roi_pct: f64,
    pub allocation: f64,
    pub share_pct: f64,
    pub projected_profit: f64,
    pub projected_revenue: f64,
    pub projected_roi_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetPlan {
    pub dimension: Dimension,
    pub total_budget: f64,
    pub min_share: f64,
    pub max_share: f64,
    pub method: String,
    /// Ordered by allocation, largest first.
    pub allocations: Vec<Allocation>,
    pub projected_profit: f64,
    pub projected_roi_pct: f64,
    /// The same curves with an even split, for comparison.
    pub even_split_profit: f64,
    pub uplift_vs_even_pct: f64,
}

/// The response curve `P(x) = r · s · ln(1 + x / s)`.
fn response(r: f64, s: f64, x: f64) -> f64 {
    r * s * (x / s).ln_1p()
}

/// Optimal allocation of `total` for returns `r` (see the module docs).
pub fn allocate(r: &[f64], total: f64, lo: f64, hi: f64) -> Vec<f64> {
    let n = r.len();
    let s = total / n as f64;
    let at = |mu: f64| -> Vec<f64> {
        r.iter()
            .map(|&ri| if ri <= 0.0 { lo } else { (ri * s / mu - s).clamp(lo, hi) })
            .collect()
    };
    let sum = |x: &[f64]| x.iter().sum::<f64>();

    let mut x;
    let saturated = at(f64::MIN_POSITIVE);
    if sum(&saturated) <= total {
        // Not enough profitable capacity: fill the least-bad remaining members up to `hi`.
        x = saturated;
        let mut rest = total - sum(&x);
        let mut order: Vec<usize> = (0..n).filter(|&i| r[i] <= 0.0).collect();
        order.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
        for i in order {
            let add = rest.min(hi - x[i]);
            x[i] += add;
            rest -= add;
        }
    } else {
        // Σx(μ) falls as μ rises; at μ = max r every member sits at `lo` (Σ ≤ total).
        let (mut low, mut high) = (
            f64::MIN_POSITIVE,
            r.iter().cloned().fold(0.0, f64::max).max(f64::MIN_POSITIVE),
        );
        for _ in 0..200 {
            let mid = (low * high).sqrt(); // bisection in log space: μ spans many decades
            if sum(&at(mid)) > total {
                low = mid;
            } else {
                high = mid;
            }
        }
        x = at(high);
        // Hand the bisection's last fraction of a cent to members with room.
        let mut rest = total - sum(&x);
        for xi in x.iter_mut() {
            let add = rest.min(hi - *xi).max(0.0);
            *xi += add;
            rest -= add;
        }
    }
    x
}

pub fn run<'a>(
    frame: impl Into<Rows<'a>>,
    by: &Dimension,
    total: f64,
    min_share: f64,
    max_share: f64,
) -> Result<BudgetPlan, ToolFailure> {
    validate(total, min_share, max_share)?;
    let members = member_figures(frame, by)?;
    let n = members.len() as f64;
    if min_share * n > 1.0 + 1e-9 || max_share * n < 1.0 - 1e-9 {
        return Err(ToolFailure(format!(
            "cannot split the budget across {n} {by}s with shares between {min_share} and {max_share}: \
             need min_share × {n} ≤ 1 ≤ max_share × {n}"
        )));
    }
    let r: Vec<f64> = members
        .iter()
        .map(|m| if m.cost > 0.0 { m.profit / m.cost } else { 0.0 })
        .collect();
    let (lo, hi) = (min_share * total, max_share * total);
    let x = allocate(&r, total, lo, hi);
    let s = total / n;

    let mut allocations: Vec<Allocation> = members
        .iter()
        .zip(&r)
        .zip(&x)
        .map(|((m, &ri), &xi)| {
            let projected_profit = response(ri, s, xi);
            let projected_revenue = if m.margin_pct == 0.0 {
                0.0
            } else {
                projected_profit / (m.margin_pct / 100.0)
            };
            Allocation {
                member: m.member.clone(),
                historical_roi_pct: m.roi_pct,
                allocation: round(xi, 2),
                share_pct: ratio_pct(xi, total),
                projected_profit,
                projected_revenue,
                projected_roi_pct: ratio_pct(projected_profit, xi),
            }
        })
        .collect();
    sort_desc_by(&mut allocations, |a| a.allocation, |a| &a.member);
    let projected_profit: f64 = allocations.iter().map(|a| a.projected_profit).sum();
    let even_split_profit: f64 = r.iter().map(|&ri| response(ri, s, s)).sum();
    Ok(BudgetPlan {
        dimension: by.clone(),
        total_budget: total,
        min_share,
        max_share,
        method: "concave log response anchored on historical ROI; equal marginal return (KKT) by bisection".into(),
        allocations,
        projected_profit,
        projected_roi_pct: ratio_pct(projected_profit, total),
        even_split_profit,
        uplift_vs_even_pct: ratio_pct(projected_profit - even_split_profit, even_split_profit.abs()),
    })
}

impl Analysis for BudgetPlan {
    fn facts(&self) -> Vec<Fact> {
        let d = self.dimension.label();
        let first = &self.allocations[0];
        let last = &self.allocations[self.allocations.len() - 1];
        vec![
            Fact::text(
                format!("budget.{d}.largest"),
                Priority::Critical,
                &first.member,
                format!(
                    "Largest budget allocation: {} gets {} ({} of {})",
                    first.member,
                    money(first.allocation),
                    pct(first.share_pct),
                    money(self.total_budget)
                ),
            )
            .with_figure(first.allocation, Unit::Money),
            Fact::number(
                format!("budget.{d}.largest_amount"),
                Priority::Important,
                first.allocation,
                money(first.allocation),
                format!("{} allocation: {}", first.member, money(first.allocation)),
            )
            .about(&[&first.member]),
            Fact::number(
                "budget.projected_roi",
                Priority::Critical,
                self.projected_roi_pct,
                pct(self.projected_roi_pct),
                format!(
                    "Projected ROI of the optimized budget: {} ({} projected profit)",
                    pct(self.projected_roi_pct),
                    money(self.projected_profit)
                ),
            )
            .about(&["roi", "return"]),
            Fact::number(
                "budget.uplift_vs_even",
                Priority::Important,
                self.uplift_vs_even_pct,
                pct(self.uplift_vs_even_pct),
                format!(
                    "Optimized split beats an even split by {}",
                    pct(self.uplift_vs_even_pct)
                ),
            )
            .about(&["even", "equal", "uniform", "uplift"]),
            Fact::text(
                format!("budget.{d}.smallest"),
                Priority::Useful,
                &last.member,
                format!("Smallest allocation: {} gets {}", last.member, money(last.allocation)),
            )
            .with_figure(last.allocation, Unit::Money),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::fixture;

    #[test]
    fn two_members_hand_checked() {
        // r = (1, 0.5), total 1200, s = 600: equal marginals give (s + x1) = 2 (s + x2)
        // with x1 + x2 = 1200, so x2 = 200 and x1 = 1000.
        let x = allocate(&[1.0, 0.5], 1200.0, 0.0, 1200.0);
        assert!((x[0] - 1000.0).abs() < 1e-6, "{x:?}");
        assert!((x[1] - 200.0).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn equal_returns_split_evenly_and_bounds_hold() {
        let x = allocate(&[0.3, 0.3, 0.3], 900.0, 0.0, 900.0);
        assert!(x.iter().all(|v| (v - 300.0).abs() < 1e-6), "{x:?}");
        let x = allocate(&[5.0, 0.1, 0.1], 900.0, 90.0, 450.0);
        assert!((x[0] - 450.0).abs() < 1e-6, "{x:?}");
        assert!((x.iter().sum::<f64>() - 900.0).abs() < 1e-6);
    }

    #[test]
    fn fixture_allocation_satisfies_the_optimality_conditions() {
        // r = (A 2/3, B 3/17, C 3/2, D -1/11), total 1000, s = 250, shares 5%-60%.
        // C hits the 600 cap, B and D sit at the 50 floor, A takes the remaining 300; then
        // marginals r·s/(s+x) are C 0.441 ≥ A 0.303 ≥ B 0.147: no transfer helps.
        let plan = run(&fixture::sales(), &Dimension::Brand, 1000.0, 0.05, 0.6).unwrap();
        let got: Vec<(&str, f64)> = plan
            .allocations
            .iter()
            .map(|a| (a.member.as_str(), a.allocation))
            .collect();
        assert_eq!(got, [("C", 600.0), ("A", 300.0), ("B", 50.0), ("D", 50.0)]);
        let marginal = |r: f64, x: f64| r * 250.0 / (250.0 + x);
        assert!(marginal(1.5, 600.0) >= marginal(2.0 / 3.0, 300.0));
        assert!(marginal(2.0 / 3.0, 300.0) >= marginal(3.0 / 17.0, 50.0));
        assert!(plan.projected_profit > plan.even_split_profit);
    }

    #[test]
    fn infeasible_shares_are_a_clear_error() {
        let err = run(&fixture::sales(), &Dimension::Brand, 1000.0, 0.3, 0.6).unwrap_err();
        assert!(err.0.contains("cannot split the budget across 4 brands"), "{}", err.0);
        assert!(validate(-1.0, 0.0, 1.0).is_err());
        assert!(validate(1.0, 0.5, 0.2).is_err());
    }
}
