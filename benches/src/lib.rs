//! Shared inputs for Volley's criterion benchmarks (the `benches/` package).
//!
//! Each bench target in `benches/benches/` measures one crate against a floor measured in the
//! same run; `cargo xtask bench GROUP` runs one and prints the medians.
//!
//! ```
//! let plan = volley_benches::random_dag(100, 3, 7);
//! assert_eq!(plan.calls.len(), 100);
//! ```
#![deny(missing_docs)]

pub mod inputs;

pub use inputs::random_dag;
