//! The planner (placeholder while the skeleton lands).
//!
//! ```
//! assert!(true);
//! ```
#![deny(missing_docs)]
