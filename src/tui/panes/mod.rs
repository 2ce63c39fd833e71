//! The panes, each a widget over the app state, and the step detail's lines.

pub mod budgets;
pub mod cache;
pub mod context;
pub mod flow_graph;
pub mod history;
pub mod report;
pub mod step_detail;
