//! The four panes, each a widget over the app state.

pub mod budgets;
pub mod cache;
pub mod context;
pub mod flow_graph;
