//! Running a program for a tool: no shell unless asked, its own process group, killed whole
//! on cancellation, timeout or drop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use volley::executor::{ToolContext, ToolError};

/// The most bytes kept of stdout and of stderr; the rest is counted, not kept.
pub(crate) const MAX_CAPTURE: usize = 8 * 1024 * 1024;

/// What to run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spec {
    pub(crate) argv: Vec<String>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) stdin: Option<Vec<u8>>,
    pub(crate) timeout: Option<Duration>,
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The exit code, or `None` when a signal ended it.
    pub(crate) code: Option<i32>,
    /// Bytes of output beyond [`MAX_CAPTURE`] that were dropped (stdout, stderr).
    pub(crate) dropped: (usize, usize),
}

/// Kills the whole process group when dropped: a finished, cancelled or timed-out call (or one
/// whose future the engine drops) leaves no process behind, grandchildren included.
pub(crate) struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    /// Guards the process group led by `pid` (a child spawned with `process_group(0)`).
    pub(crate) fn new(pid: Option<u32>) -> GroupGuard {
        GroupGuard {
            pgid: pid.and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw),
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // The group may be gone already; nothing to do then.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Runs `spec`, honouring the call's cancellation token and the spec's own timeout.
pub(crate) async fn run(spec: &Spec, ctx: &ToolContext) -> Result<Finished, ToolError> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(ToolError::invalid_arguments(
            "argv is empty: give at least the program",
        ));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(&spec.env)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_owned(),
            std::io::ErrorKind::PermissionDenied => "not executable (permission denied)".to_owned(),
            _ => e.to_string(),
        };
        ToolError::permanent(format!("cannot start `{program}`: {what}"))
    })?;
    let guard = GroupGuard {
        pgid: child.id().map(|id| Pid::from_raw(id as i32)),
    };

    let stdin = child.stdin.take();
    let input = spec.stdin.clone();
    let feed = async move {
        if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
            // A program that exits without reading its input is not an error.
            let _ = pipe.write_all(&bytes).await;
            let _ = pipe.shutdown().await;
        }
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let ((), out, err, status) =
            tokio::join!(feed, capture(stdout), capture(stderr), child.wait());
        (out, err, status)
    };
    let timeout = async {
        match spec.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        (out, err, status) = work => {
            // It exited: its group may still hold grandchildren it left running; end them too.
            drop(guard);
            let status = status.map_err(|e| ToolError::permanent(format!("waiting for `{program}`: {e}")))?;
            let (stdout, dropped_out) = out;
            let (stderr, dropped_err) = err;
            Ok(Finished { stdout, stderr, code: status.code(), dropped: (dropped_out, dropped_err) })
        }
        () = ctx.cancelled() => {
            drop(guard);
            Err(ToolError::Cancelled)
        }
        () = timeout => {
            drop(guard);
            let limit = spec.timeout.unwrap_or_default();
            Err(ToolError::timeout(format!("`{program}` ran past {} ms and was killed", limit.as_millis())))
        }
    }
}

/// Reads a pipe to its end, keeping at most [`MAX_CAPTURE`] bytes; returns the text (invalid
/// UTF-8 replaced) and how many bytes were dropped.
async fn capture<R: AsyncRead + Unpin>(pipe: Option<R>) -> (String, usize) {
    let Some(mut pipe) = pipe else {
        return (String::new(), 0);
    };
    let mut kept = Vec::new();
    let mut dropped = 0;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_CAPTURE.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                dropped += n.saturating_sub(room);
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), dropped)
}

/// The last `lines` lines of `text`, for error messages.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
