//! `shell`: run a program (argv, no shell interpolation unless asked).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use volley::executor::{Tool, ToolContext, ToolError};

use super::parse_args;
use super::process::{self, Spec};

/// Runs a program and returns its stdout, stderr and exit code; a non-zero exit is a failure.
#[derive(Debug, Clone, Default)]
pub struct Shell;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    argv: Vec<String>,
    #[serde(default)]
    shell: bool,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    stdin: Option<String>,
    timeout_ms: Option<u64>,
}

#[async_trait]
impl Tool for Shell {
    fn name(&self) -> &str {
        "shell"
    }

    fn description(&self) -> &str {
        "Run a program. `argv` is the program and its arguments, passed as is (no shell): set \
         `shell: true` to run `argv[0]` as a `sh -c` script instead. Returns stdout, stderr \
         and the exit code; a non-zero exit is an error. Killed with its process group on \
         cancellation or timeout."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                         "description": "the program and its arguments"},
                "shell": {"type": "boolean", "description": "run argv[0] with `sh -c` (argv must then have one item)"},
                "cwd": {"type": "string", "description": "working directory"},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "stdin": {"type": "string", "description": "text written to the program's stdin"},
                "timeout_ms": {"type": "integer", "minimum": 1, "description": "kill it after this long"}
            },
            "required": ["argv"],
            "additionalProperties": false
        })
    }

    fn spoken(&self) -> Option<&str> {
        Some("run a command")
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<Value, ToolError> {
        let args: Args = parse_args(args)?;
        let argv = if args.shell {
            match args.argv.as_slice() {
                [script] => vec!["sh".to_owned(), "-c".to_owned(), script.clone()],
                _ => {
                    return Err(ToolError::invalid_arguments(
                        "with `shell: true`, argv must be exactly one script string",
                    ));
                }
            }
        } else {
            args.argv
        };
        let spec = Spec {
            argv,
            cwd: args.cwd.map(Into::into),
            env: args.env,
            stdin: args.stdin.map(String::into_bytes),
            timeout: args.timeout_ms.map(Duration::from_millis),
        };
        let finished = process::run(&spec, &ctx).await?;
        let program = spec.argv.first().map_or("", String::as_str);
        match finished.code {
            Some(0) => Ok(json!({
                "stdout": finished.stdout,
                "stderr": finished.stderr,
                "exit_code": 0,
            })),
            Some(code) => Err(ToolError::permanent(format!(
                "`{program}` exited with code {code}{}",
                stderr_suffix(&finished.stderr)
            ))),
            None => Err(ToolError::permanent(format!(
                "`{program}` was killed by a signal{}",
                stderr_suffix(&finished.stderr)
            ))),
        }
    }
}

pub(crate) fn stderr_suffix(stderr: &str) -> String {
    let tail = process::tail(stderr, 5);
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}
