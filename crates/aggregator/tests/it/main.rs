#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! The aggregator's integration tests, one binary, one module per topic.

#[path = "../../src/test_support.rs"]
mod support;

mod engine;
mod errors;
mod providers;
mod report;
mod result;
mod timeline;

use serde_json::Value;

/// A provider fixture from `../shared/fixtures`.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../../shared/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture as JSON.
pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}
