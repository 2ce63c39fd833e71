//! The terminal UI: one client of the engine. It renders state and sends commands; the
//! engine runs on a background task and never waits for the screen.

pub mod action;
pub mod app;
pub mod event_loop;
pub mod inspect;
pub mod keymap;
pub mod layout;
pub mod markdown;
pub mod panes;
pub mod popups;
pub mod terminal;
pub mod theme;
pub mod ui;
