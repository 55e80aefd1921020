//! bidgate's integration tests, in one test binary: each module is what used to be a test
//! binary of its own (`tests/<module>.rs`), and `helpers` is the shared harness (the gateway
//! and mock partners on loopback sockets), compiled once instead of once per binary.
//!
//! `cargo nextest run` runs every test in a process of its own, so process-wide state (the
//! metrics recorder) is per test there. Under plain `cargo test` the tests of this binary
//! share one process: a test that asserts an exact metric value uses partner ids no other
//! test uses.

mod helpers;

mod admin;
mod ads;
mod architecture;
mod auction;
mod bid_rules;
mod cli;
mod config;
mod dashboard;
mod debug;
mod deploy;
mod docs;
mod event_log;
mod event_stream;
mod exchange_fixtures;
mod faults;
mod hostile;
mod hostile_events;
mod internal;
mod logs;
mod money;
mod openapi;
mod openrtb_fixtures;
mod openrtb_model;
mod openrtb_rules;
mod partner_requests;
mod pods;
mod privacy;
mod reload;
mod schemas;
mod shared_state;
mod shutdown;
mod warm;
mod whatif;
mod yield_;
