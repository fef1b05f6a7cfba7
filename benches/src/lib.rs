//! Shared inputs for Volley's criterion benchmarks (the `benches/` package).
//!
//! ```
//! assert!(true);
//! ```
#![deny(missing_docs)]
