//! The library behind the `volley` command: built-in tools and the `volley.toml` configuration.
//!
//! The binary (`src/main.rs`) is a thin layer of subcommands over this library and the Volley
//! crates. The built-in tools are real: [`tools::Shell`] runs programs (no shell unless asked,
//! killed with their process group), [`tools::Http`] sends requests, the file tools declare
//! access keys from their arguments so a write and a read of one file are ordered.
//!
//! ```
//! let registry = volley_cli::tools::builtin_registry().unwrap();
//! let names = registry.names();
//! for tool in ["shell", "http", "read_file", "write_file", "list_dir", "glob", "echo", "sleep"] {
//!     assert!(names.contains(&tool), "{tool}");
//! }
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod mcp;
pub mod serve;
pub mod setup;
pub mod tools;
