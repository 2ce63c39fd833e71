//! Profitability by any dimension: revenue, cost, profit, margin and units per member.

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::members::{MemberFigures, Overall, member_figures, ratio_pct, sort_desc_by, totals};
use super::{Analysis, Dimension, Fact, ToolFailure, Unit};
use crate::format::{money, pct, plural, pp};
use crate::settings::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profitability {
    pub dimension: Dimension,
    /// Ordered by profit, highest first.
    pub members: Vec<MemberFigures>,
    pub totals: Overall,
    pub top_by_profit: String,
    pub bottom_by_profit: String,
    pub highest_margin: String,
    pub lowest_margin: String,
    /// Share of revenue taken by the five largest members by revenue.
    pub top5_revenue_share_pct: f64,
    /// Highest minus lowest member margin, in percentage points.
    pub margin_spread_pp: f64,
}

pub fn run<'a>(frame: impl Into<Rows<'a>>, by: &Dimension) -> Result<Profitability, ToolFailure> {
    let mut members = member_figures(frame, by)?;
    let totals = totals(&members);

    let mut by_revenue: Vec<f64> = members.iter().map(|m| m.revenue).collect();
    by_revenue.sort_by(|a, b| b.total_cmp(a));
    let top5_revenue_share_pct = ratio_pct(by_revenue.iter().take(5).sum(), totals.revenue);

    let mut by_margin = members.clone();
    sort_desc_by(&mut by_margin, |m| m.margin_pct, |m| &m.member);
    let highest = by_margin.first().expect("member_figures is never empty");
    let lowest = by_margin.last().expect("member_figures is never empty");

    sort_desc_by(&mut members, |m| m.profit, |m| &m.member);
    Ok(Profitability {
        dimension: by.clone(),
        top_by_profit: members[0].member.clone(),
        bottom_by_profit: members[members.len() - 1].member.clone(),
        highest_margin: highest.member.clone(),
        lowest_margin: lowest.member.clone(),
        margin_spread_pp: highest.margin_pct - lowest.margin_pct,
        top5_revenue_share_pct,
        members,
        totals,
    })
}

impl Profitability {
    fn member(&self, name: &str) -> &MemberFigures {
        self.members
            .iter()
            .find(|m| m.member == name)
            .expect("named members exist")
    }
}

impl Analysis for Profitability {
    fn facts(&self) -> Vec<Fact> {
        let d = self.dimension.label();
        let key = |k: &str| format!("profitability.{d}.{k}");
        let top = self.member(&self.top_by_profit);
        let bottom = self.member(&self.bottom_by_profit);
        let high = self.member(&self.highest_margin);
        let low = self.member(&self.lowest_margin);
        let t = &self.totals;
        vec![
            Fact::number(
                "totals.revenue",
                Priority::Critical,
                t.revenue,
                money(t.revenue),
                format!("Total revenue: {}", money(t.revenue)),
            )
            .about(&["revenue", "sales", "turnover"]),
            Fact::number(
                "totals.profit",
                Priority::Critical,
                t.profit,
                money(t.profit),
                format!("Total profit: {}", money(t.profit)),
            )
            .about(&["profit", "earning"]),
            Fact::number(
                "totals.margin",
                Priority::Important,
                t.margin_pct,
                pct(t.margin_pct),
                format!("Overall profit margin: {}", pct(t.margin_pct)),
            )
            .about(&["margin"]),
            Fact::text(
                key("top"),
                Priority::Critical,
                &top.member,
                format!(
                    "Top {d} by profit: {} ({} profit, {} margin)",
                    top.member,
                    money(top.profit),
                    pct(top.margin_pct)
                ),
            )
            .with_figure(top.profit, Unit::Money),
            Fact::number(
                key("top_profit"),
                Priority::Important,
                top.profit,
                money(top.profit),
                format!("{} profit: {}", top.member, money(top.profit)),
            )
            .about(&[&top.member]),
            Fact::text(
                key("bottom"),
                Priority::Important,
                &bottom.member,
                format!(
                    "Bottom {d} by profit: {} ({} profit, {} margin)",
                    bottom.member,
                    money(bottom.profit),
                    pct(bottom.margin_pct)
                ),
            )
            .with_figure(bottom.profit, Unit::Money),
            Fact::number(
                key("bottom_profit"),
                Priority::Useful,
                bottom.profit,
                money(bottom.profit),
                format!("{} profit: {}", bottom.member, money(bottom.profit)),
            )
            .about(&[&bottom.member]),
            Fact::text(
                key("highest_margin"),
                Priority::Critical,
                &high.member,
                format!("Highest-margin {d}: {} at {}", high.member, pct(high.margin_pct)),
            )
            .with_figure(high.margin_pct, Unit::Percent),
            Fact::number(
                key("highest_margin_pct"),
                Priority::Important,
                high.margin_pct,
                pct(high.margin_pct),
                format!("{} profit margin: {}", high.member, pct(high.margin_pct)),
            )
            .about(&[&high.member]),
            Fact::text(
                key("lowest_margin"),
                Priority::Useful,
                &low.member,
                format!("Lowest-margin {d}: {} at {}", low.member, pct(low.margin_pct)),
            )
            .with_figure(low.margin_pct, Unit::Percent),
            Fact::number(
                key("margin_spread"),
                Priority::Useful,
                self.margin_spread_pp,
                pp(self.margin_spread_pp),
                format!("Margin spread across {}: {}", plural(d), pp(self.margin_spread_pp)),
            )
            .about(&["spread", "gap", "range", "difference", "apart"]),
            Fact::number(
                key("top5_share"),
                Priority::Useful,
                self.top5_revenue_share_pct,
                pct(self.top5_revenue_share_pct),
                format!(
                    "Top five {} take {} of revenue",
                    plural(d),
                    pct(self.top5_revenue_share_pct)
                ),
            )
            .about(&["top five", "top 5", "five", "5 "]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::fixture;

    #[test]
    fn by_brand_matches_hand_computation() {
        let p = run(&fixture::sales(), &Dimension::Brand).unwrap();
        let order: Vec<&str> = p.members.iter().map(|m| m.member.as_str()).collect();
        assert_eq!(order, ["C", "A", "B", "D"]);
        let a = p.member("A");
        assert_eq!(
            (a.revenue, a.cost, a.profit, a.units, a.margin_pct),
            (300.0, 180.0, 120.0, 30.0, 40.0)
        );
        assert_eq!(p.member("D").margin_pct, -10.0);
        assert_eq!(p.totals.revenue, 1000.0);
        assert_eq!(p.totals.profit, 310.0);
        assert_eq!(p.totals.margin_pct, 31.0);
        assert_eq!((p.top_by_profit.as_str(), p.bottom_by_profit.as_str()), ("C", "D"));
        assert_eq!((p.highest_margin.as_str(), p.lowest_margin.as_str()), ("C", "D"));
        assert_eq!(p.margin_spread_pp, 70.0);
        assert_eq!(p.top5_revenue_share_pct, 100.0);
    }

    #[test]
    fn by_region_and_category() {
        let r = run(&fixture::sales(), &Dimension::Region).unwrap();
        assert_eq!(r.top_by_profit, "North");
        assert_eq!(r.member("North").profit, 230.0);
        assert_eq!(r.member("South").margin_pct, 16.0);
        let c = run(&fixture::sales(), &Dimension::Category).unwrap();
        assert_eq!(c.top_by_profit, "Water");
        assert_eq!(c.member("Soda").margin_pct, 30.0);
    }

    #[test]
    fn facts_carry_rendered_values() {
        let facts = run(&fixture::sales(), &Dimension::Brand).unwrap().facts();
        let top = facts.iter().find(|f| f.key == "profitability.brand.top").unwrap();
        assert_eq!(top.statement, "Top brand by profit: C ($180.00 profit, 60.0% margin)");
        assert_eq!(top.priority, Priority::Critical);
        let margin = facts
            .iter()
            .find(|f| f.key == "profitability.brand.highest_margin_pct")
            .unwrap();
        assert_eq!(margin.display, "60.0%");
    }
}
