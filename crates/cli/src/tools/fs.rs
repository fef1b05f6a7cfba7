//! File tools: `read_file`, `write_file`, `list_dir`, `glob`. Each declares access keys from
//! its arguments (`read:<path>`, `write:<path>`, the path made absolute and normalised), so a
//! write and a read of one file in one batch run in plan order.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use volley::executor::{Tool, ToolContext, ToolError};
use volley::planner::AccessKey;

use super::parse_args;

/// The most entries `list_dir` and `glob` return; the rest are counted.
pub const MAX_ENTRIES: usize = 10_000;

/// `path` made absolute against the working directory and cleaned of `.` and `..`, without
/// touching the file system (it may not exist yet).
pub fn normalize(path: &str) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn key(mode: &str, path: &str) -> Option<AccessKey> {
    format!("{mode}:{}", normalize(path).display()).parse().ok()
}

fn path_arg(args: &Value) -> Option<&str> {
    args.get("path").and_then(Value::as_str)
}

fn io_error(action: &str, path: &str, e: &std::io::Error) -> ToolError {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    ToolError::permanent(format!("cannot {action} {path}: {what}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathArgs {
    path: String,
}

/// Reads a UTF-8 text file.
#[derive(Debug, Clone, Default)]
pub struct ReadFile;

#[async_trait]
impl Tool for ReadFile {
    fn name(&self) -> &str {
        "read_file"
    }
    fn description(&self) -> &str {
        "Read a UTF-8 text file. Returns its path, content and size in bytes."
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string", "minLength": 1}},
               "required": ["path"], "additionalProperties": false})
    }
    fn spoken(&self) -> Option<&str> {
        Some("read the file")
    }
    fn access_keys(&self, args: &Value) -> Vec<AccessKey> {
        path_arg(args)
            .and_then(|p| key("read", p))
            .into_iter()
            .collect()
    }
    async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
        let PathArgs { path } = parse_args(args)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| io_error("read", &path, &e))?;
        let size = bytes.len();
        let content = String::from_utf8(bytes).map_err(|_| {
            ToolError::permanent(format!("{path} is not UTF-8 text ({size} bytes)"))
        })?;
        Ok(json!({"path": path, "content": content, "bytes": size}))
    }
}

/// Writes a text file, creating its parent directories.
#[derive(Debug, Clone, Default)]
pub struct WriteFile;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: String,
    content: String,
}

#[async_trait]
impl Tool for WriteFile {
    fn name(&self) -> &str {
        "write_file"
    }
    fn description(&self) -> &str {
        "Write a text file (replacing it), creating missing parent directories. Returns the \
         path and the bytes written."
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object",
               "properties": {"path": {"type": "string", "minLength": 1}, "content": {"type": "string"}},
               "required": ["path", "content"], "additionalProperties": false})
    }
    fn spoken(&self) -> Option<&str> {
        Some("write the file")
    }
    fn access_keys(&self, args: &Value) -> Vec<AccessKey> {
        path_arg(args)
            .and_then(|p| key("write", p))
            .into_iter()
            .collect()
    }
    async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
        let WriteArgs { path, content } = parse_args(args)?;
        if let Some(parent) = Path::new(&path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error("create the directory of", &path, &e))?;
        }
        tokio::fs::write(&path, content.as_bytes())
            .await
            .map_err(|e| io_error("write", &path, &e))?;
        Ok(json!({"path": path, "bytes_written": content.len()}))
    }
}

/// Lists a directory.
#[derive(Debug, Clone, Default)]
pub struct ListDir;

#[async_trait]
impl Tool for ListDir {
    fn name(&self) -> &str {
        "list_dir"
    }
    fn description(&self) -> &str {
        "List a directory: each entry's name, type (file, dir, symlink, other) and size, sorted \
         by name."
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string", "minLength": 1}},
               "required": ["path"], "additionalProperties": false})
    }
    fn spoken(&self) -> Option<&str> {
        Some("list the folder")
    }
    fn access_keys(&self, args: &Value) -> Vec<AccessKey> {
        path_arg(args)
            .and_then(|p| key("read", p))
            .into_iter()
            .collect()
    }
    async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
        let PathArgs { path } = parse_args(args)?;
        let mut dir = tokio::fs::read_dir(&path)
            .await
            .map_err(|e| io_error("list", &path, &e))?;
        let mut entries = Vec::new();
        let mut more = 0usize;
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| io_error("list", &path, &e))?
        {
            if entries.len() >= MAX_ENTRIES {
                more += 1;
                continue;
            }
            let file_type = entry.file_type().await.ok();
            let kind = match file_type {
                Some(t) if t.is_dir() => "dir",
                Some(t) if t.is_file() => "file",
                Some(t) if t.is_symlink() => "symlink",
                _ => "other",
            };
            let size = entry.metadata().await.map(|m| m.len()).unwrap_or(0);
            entries.push(
                json!({"name": entry.file_name().to_string_lossy(), "type": kind, "size": size}),
            );
        }
        entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Ok(json!({"path": path, "entries": entries, "truncated": more}))
    }
}

/// Finds paths matching a glob pattern.
#[derive(Debug, Clone, Default)]
pub struct Glob;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobArgs {
    pattern: String,
}

#[async_trait]
impl Tool for Glob {
    fn name(&self) -> &str {
        "glob"
    }
    fn description(&self) -> &str {
        "Find paths matching a glob pattern (`*`, `?`, `[...]`, `**` for any depth), sorted."
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"pattern": {"type": "string", "minLength": 1}},
               "required": ["pattern"], "additionalProperties": false})
    }
    fn spoken(&self) -> Option<&str> {
        Some("look for files")
    }
    async fn call(&self, args: Value, _ctx: ToolContext) -> Result<Value, ToolError> {
        let GlobArgs { pattern } = parse_args(args)?;
        let paths = glob::glob(&pattern)
            .map_err(|e| ToolError::invalid_arguments(format!("bad pattern `{pattern}`: {e}")))?;
        // Walking a tree blocks: do it off the async workers.
        let matches = tokio::task::spawn_blocking(move || {
            let mut matches = Vec::new();
            let mut more = 0usize;
            for path in paths.flatten() {
                if matches.len() < MAX_ENTRIES {
                    matches.push(path.display().to_string());
                } else {
                    more += 1;
                }
            }
            matches.sort();
            (matches, more)
        })
        .await
        .map_err(|e| ToolError::permanent(format!("glob failed: {e}")))?;
        Ok(json!({"pattern": pattern, "matches": matches.0, "truncated": matches.1}))
    }
}
