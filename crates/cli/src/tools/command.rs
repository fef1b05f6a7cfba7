//! Tools from configuration: a program whose argv has `{arg}` placeholders, or that reads its
//! arguments as JSON on stdin; stdout parsed as JSON when it parses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::{Value, json};
use volley::executor::{Tool, ToolContext, ToolError};
use volley::planner::AccessKey;

use super::process::{self, Spec};
use super::shell::stderr_suffix;

/// Exit code 75 (`EX_TEMPFAIL` in sysexits.h) marks a transient failure, worth a retry.
pub const EXIT_TRANSIENT: i32 = 75;

/// A tool that runs a configured command.
#[derive(Debug, Clone)]
pub struct CommandTool {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
    /// The program and its arguments, with `{name}` placeholders.
    pub argv: Vec<String>,
    /// Whether the arguments go to stdin as JSON.
    pub stdin_json: bool,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Access keys with `{name}` placeholders (`read:{path}`).
    pub access: Vec<String>,
    /// How a narrator says it.
    pub spoken: Option<String>,
}

/// Replaces `{name}` with argument `name`: strings raw, other values as compact JSON. `{{` and
/// `}}` are literal braces. A placeholder naming a missing argument is an error.
pub fn fill(template: &str, args: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(inner) = tail.strip_prefix('{') {
            let close = inner
                .find('}')
                .ok_or_else(|| format!("`{{` is never closed in `{template}`"))?;
            let name = &inner[..close];
            match args.get(name) {
                Some(Value::String(s)) => out.push_str(s),
                Some(Value::Null) | None => {
                    return Err(format!("no argument `{name}` for `{{{name}}}`"));
                }
                Some(other) => out.push_str(&other.to_string()),
            }
            rest = &inner[close + 1..];
        } else {
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[async_trait]
impl Tool for CommandTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn input_schema(&self) -> Value {
        self.input_schema.clone()
    }

    fn spoken(&self) -> Option<&str> {
        self.spoken.as_deref()
    }

    fn access_keys(&self, args: &Value) -> Vec<AccessKey> {
        // A key whose placeholder cannot be filled is left out: the call then fails on its
        // arguments anyway.
        self.access
            .iter()
            .filter_map(|k| fill(k, args).ok()?.parse().ok())
            .collect()
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        let argv = self
            .argv
            .iter()
            .map(|part| fill(part, &args))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ToolError::invalid_arguments)?;
        let stdin = if self.stdin_json {
            Some(args.to_string().into_bytes())
        } else {
            None
        };
        let spec = Spec {
            argv,
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            stdin,
            timeout: None,
        };
        let finished = process::run(&spec, &ctx).await?;
        match finished.code {
            Some(0) => {
                let text = finished.stdout.trim();
                Ok(serde_json::from_str(text).unwrap_or_else(|_| json!(finished.stdout)))
            }
            Some(EXIT_TRANSIENT) => Err(ToolError::transient(format!(
                "{} failed temporarily (exit {EXIT_TRANSIENT}){}",
                self.name,
                stderr_suffix(&finished.stderr)
            ))),
            Some(code) => Err(ToolError::permanent(format!(
                "{} failed (exit {code}){}",
                self.name,
                stderr_suffix(&finished.stderr)
            ))),
            None => Err(ToolError::permanent(format!(
                "{} was killed by a signal{}",
                self.name,
                stderr_suffix(&finished.stderr)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders() {
        let args = json!({"email": "a@b.c", "n": 3, "tags": ["x"]});
        for (template, expected) in [
            ("{email}", Ok("a@b.c".to_owned())),
            ("--n={n}", Ok("--n=3".to_owned())),
            ("{tags}", Ok("[\"x\"]".to_owned())),
            ("{{literal}}", Ok("{literal}".to_owned())),
            ("plain", Ok("plain".to_owned())),
            (
                "{missing}",
                Err("no argument `missing` for `{missing}`".to_owned()),
            ),
            ("{email", Err("`{` is never closed in `{email`".to_owned())),
        ] {
            assert_eq!(fill(template, &args), expected, "{template}");
        }
    }
}
