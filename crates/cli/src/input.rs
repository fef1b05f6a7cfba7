//! Reading the input document: a file, or standard input for `-`.

use std::io::Read;
use std::path::Path;

use clap::ValueEnum;
use volley::planner::InputFormat;

/// `--input-format`: which shape the input has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputFormatArg {
    /// Detect it.
    #[default]
    Auto,
    /// A Volley plan: `{"calls": […]}`.
    Volley,
    /// An Anthropic Messages response or its content array.
    Anthropic,
    /// A Bedrock Converse response.
    Bedrock,
    /// An OpenAI chat completion or its message.
    Openai,
}

impl From<InputFormatArg> for InputFormat {
    fn from(arg: InputFormatArg) -> Self {
        match arg {
            InputFormatArg::Auto => InputFormat::Auto,
            InputFormatArg::Volley => InputFormat::Volley,
            InputFormatArg::Anthropic => InputFormat::Anthropic,
            InputFormatArg::Bedrock => InputFormat::Bedrock,
            InputFormatArg::Openai => InputFormat::OpenAi,
        }
    }
}

/// Reads `path`, or standard input when it is `-`.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}
