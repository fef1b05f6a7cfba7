//! One module per subcommand.

pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod serve;
