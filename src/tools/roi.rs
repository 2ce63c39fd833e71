//! Return on investment per member and overall: profit / cost.

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::members::{member_figures, sort_desc_by, totals};
use super::{Analysis, Dimension, Fact, ToolFailure, Unit};
use crate::format::{money, pct};
use crate::settings::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRoi {
    pub member: String,
    pub cost: f64,
    pub profit: f64,
    pub roi_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roi {
    pub dimension: Dimension,
    /// Ordered by ROI, highest first.
    pub members: Vec<MemberRoi>,
    pub overall_roi_pct: f64,
    pub total_cost: f64,
    pub total_profit: f64,
}

pub fn run<'a>(frame: impl Into<Rows<'a>>, by: &Dimension) -> Result<Roi, ToolFailure> {
    let figures = member_figures(frame, by)?;
    let t = totals(&figures);
    let mut members: Vec<MemberRoi> = figures
        .into_iter()
        .map(|m| MemberRoi {
            member: m.member,
            cost: m.cost,
            profit: m.profit,
            roi_pct: m.roi_pct,
        })
        .collect();
    sort_desc_by(&mut members, |m| m.roi_pct, |m| &m.member);
    Ok(Roi {
        dimension: by.clone(),
        members,
        overall_roi_pct: t.roi_pct,
        total_cost: t.cost,
        total_profit: t.profit,
    })
}

impl Analysis for Roi {
    fn facts(&self) -> Vec<Fact> {
        let d = self.dimension.label();
        let best = &self.members[0];
        let worst = &self.members[self.members.len() - 1];
        vec![
            Fact::number(
                "roi.overall",
                Priority::Critical,
                self.overall_roi_pct,
                pct(self.overall_roi_pct),
                format!(
                    "Overall ROI: {} ({} profit on {} cost)",
                    pct(self.overall_roi_pct),
                    money(self.total_profit),
                    money(self.total_cost)
                ),
            )
            .about(&["roi", "return"]),
            Fact::text(
                format!("roi.{d}.best"),
                Priority::Critical,
                &best.member,
                format!("Best ROI {d}: {} at {}", best.member, pct(best.roi_pct)),
            )
            .with_figure(best.roi_pct, Unit::Percent),
            Fact::number(
                format!("roi.{d}.best_pct"),
                Priority::Important,
                best.roi_pct,
                pct(best.roi_pct),
                format!("{} ROI: {}", best.member, pct(best.roi_pct)),
            )
            .about(&[&best.member]),
            Fact::text(
                format!("roi.{d}.worst"),
                Priority::Important,
                &worst.member,
                format!("Worst ROI {d}: {} at {}", worst.member, pct(worst.roi_pct)),
            )
            .with_figure(worst.roi_pct, Unit::Percent),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::fixture;

    #[test]
    fn roi_matches_hand_computation() {
        let r = run(&fixture::sales(), &Dimension::Brand).unwrap();
        let order: Vec<&str> = r.members.iter().map(|m| m.member.as_str()).collect();
        assert_eq!(order, ["C", "A", "B", "D"]);
        assert_eq!(r.members[0].roi_pct, 150.0);
        assert!((r.members[1].roi_pct - 200.0 / 3.0).abs() < 1e-9);
        assert!((r.members[3].roi_pct - (-100.0 / 11.0)).abs() < 1e-9);
        assert!((r.overall_roi_pct - 31000.0 / 690.0).abs() < 1e-9);
        let facts = r.facts();
        assert_eq!(facts[0].display, "44.9%");
        assert_eq!(facts[1].statement, "Best ROI brand: C at 150.0%");
    }
}
