//! Market share by brand, overall and within each member of another dimension, with the
//! Herfindahl-Hirschman index (sum of squared percentage shares) as concentration.

use super::frame::Rows;
use serde::{Deserialize, Serialize};

use super::frame::sums_by;
use super::members::{ratio_pct, sort_desc_by};
use super::{Analysis, Dimension, Fact, ToolFailure, Unit};
use crate::format::{grouped, pct};
use crate::settings::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub brand: String,
    pub revenue: f64,
    pub share_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupShares {
    pub group: String,
    pub leader: String,
    pub leader_share_pct: f64,
    /// Ordered by share, largest first.
    pub shares: Vec<Share>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketShare {
    /// Ordered by share, largest first.
    pub overall: Vec<Share>,
    pub leader: String,
    pub leader_share_pct: f64,
    pub top3_share_pct: f64,
    pub hhi: f64,
    pub concentration: String,
    pub within: Option<Dimension>,
    pub groups: Vec<GroupShares>,
}

fn shares(rows: impl Iterator<Item = (String, f64)>) -> Vec<Share> {
    let rows: Vec<(String, f64)> = rows.collect();
    let total: f64 = rows.iter().map(|r| r.1).sum();
    let mut out: Vec<Share> = rows
        .into_iter()
        .map(|(brand, revenue)| Share {
            share_pct: ratio_pct(revenue, total),
            brand,
            revenue,
        })
        .collect();
    sort_desc_by(&mut out, |s| s.share_pct, |s| &s.brand);
    out
}

/// U.S. merger guideline bands for the HHI.
fn concentration(hhi: f64) -> &'static str {
    if hhi < 1500.0 {
        "unconcentrated"
    } else if hhi <= 2500.0 {
        "moderately concentrated"
    } else {
        "highly concentrated"
    }
}

pub fn run<'a>(frame: impl Into<Rows<'a>>, within: Option<&Dimension>) -> Result<MarketShare, ToolFailure> {
    let frame: Rows<'a> = frame.into();
    let overall_groups = sums_by(frame, &["brand"], &["total_revenue"])?;
    if overall_groups.is_empty() {
        return Err(ToolFailure("no rows to analyse".into()));
    }
    let overall = shares(overall_groups.into_iter().map(|g| (g.keys[0].text(), g.sums[0])));
    let hhi = overall.iter().map(|s| s.share_pct * s.share_pct).sum::<f64>();

    let mut groups = Vec::new();
    if let Some(d) = within {
        let rows = sums_by(frame, &[d.column(), "brand"], &["total_revenue"])?;
        let mut names: Vec<String> = rows.iter().map(|g| g.keys[0].text()).collect();
        names.dedup();
        for name in names {
            let s = shares(
                rows.iter()
                    .filter(|g| g.keys[0].text() == name)
                    .map(|g| (g.keys[1].text(), g.sums[0])),
            );
            groups.push(GroupShares {
                group: name,
                leader: s[0].brand.clone(),
                leader_share_pct: s[0].share_pct,
                shares: s,
            });
        }
    }
    Ok(MarketShare {
        leader: overall[0].brand.clone(),
        leader_share_pct: overall[0].share_pct,
        top3_share_pct: overall.iter().take(3).map(|s| s.share_pct).sum(),
        hhi,
        concentration: concentration(hhi).to_string(),
        overall,
        within: within.cloned(),
        groups,
    })
}

impl Analysis for MarketShare {
    fn facts(&self) -> Vec<Fact> {
        let mut facts = vec![
            Fact::text(
                "market_share.leader",
                Priority::Critical,
                &self.leader,
                format!(
                    "Market leader: {} with {} revenue share",
                    self.leader,
                    pct(self.leader_share_pct)
                ),
            )
            .with_figure(self.leader_share_pct, Unit::Percent),
            Fact::number(
                "market_share.leader_pct",
                Priority::Important,
                self.leader_share_pct,
                pct(self.leader_share_pct),
                format!("{} share: {}", self.leader, pct(self.leader_share_pct)),
            )
            .about(&[&self.leader]),
            Fact::number(
                "market_share.top3",
                Priority::Important,
                self.top3_share_pct,
                pct(self.top3_share_pct),
                format!("Top three brands hold {} of revenue", pct(self.top3_share_pct)),
            )
            .about(&["top three", "top 3", "three", "3 "]),
            Fact::number(
                "market_share.hhi",
                Priority::Important,
                self.hhi,
                grouped(self.hhi),
                format!("Concentration: HHI {} ({})", grouped(self.hhi), self.concentration),
            )
            .about(&["hhi", "herfindahl", "concentrat"]),
        ];
        if let Some(d) = &self.within {
            for g in &self.groups {
                facts.push(
                    Fact::text(
                        format!("market_share.{}.{}.leader", d.label(), g.group),
                        Priority::Useful,
                        &g.leader,
                        format!("{} leads {} with {}", g.leader, g.group, pct(g.leader_share_pct)),
                    )
                    .about(&[&g.group])
                    .with_figure(g.leader_share_pct, Unit::Percent),
                );
            }
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::fixture;

    #[test]
    fn shares_match_hand_computation() {
        let m = run(&fixture::sales(), Some(&Dimension::Category)).unwrap();
        let overall: Vec<(&str, f64)> = m.overall.iter().map(|s| (s.brand.as_str(), s.share_pct)).collect();
        assert_eq!(overall, [("A", 30.0), ("C", 30.0), ("B", 20.0), ("D", 20.0)]);
        assert_eq!(m.leader, "A");
        assert_eq!(m.hhi, 2600.0);
        assert_eq!(m.concentration, "highly concentrated");
        assert_eq!(m.top3_share_pct, 80.0);
        let water = m.groups.iter().find(|g| g.group == "Water").unwrap();
        assert_eq!((water.leader.as_str(), water.leader_share_pct), ("C", 60.0));
        assert_eq!(m.facts().len(), 6);
    }
}
