//! The live display of `volley run` on stderr: bars per running call, overall progress and the
//! ETA on a terminal (indicatif); plain lines otherwise. Also speaks heartbeats when narrating.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use volley::executor::BatchHandle;
use volley::progress::{BatchSnapshot, Event, EventKind, Heartbeats, Narrator, Received};

/// How progress is shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Display {
    enabled: bool,
    terminal: bool,
}

/// Bars on a terminal.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    calls: HashMap<Arc<str>, ProgressBar>,
}

impl Display {
    pub(crate) fn new(enabled: bool, terminal: bool) -> Display {
        Display { enabled, terminal }
    }

    /// Follows the batch until it ends; returns its final snapshot (for the outcome sentence).
    pub(crate) async fn watch(
        self,
        handle: &BatchHandle,
        narrator: Option<&Narrator>,
    ) -> Option<BatchSnapshot> {
        if !self.enabled && narrator.is_none() {
            return None;
        }
        let mut subscriber = handle.subscribe().await?;
        let bus = handle.bus()?;
        let mut bars =
            (self.enabled && self.terminal).then(|| Bars::new(bus.snapshot().calls.len() as u64));
        let mut heartbeats = Heartbeats::new();
        heartbeats.spoke(0);
        loop {
            let next_beat = narrator.and_then(|_| heartbeats.next_due_ms(&bus.snapshot()));
            let beat_timer = async {
                match next_beat {
                    Some(ms) => tokio::time::sleep_until(bus.instant_at(ms)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = subscriber.recv() => match received {
                    None => break,
                    Some(Received::Event(event)) => {
                        if self.enabled {
                            match bars.as_mut() {
                                Some(bars) => bars.show(&event, &bus.snapshot()),
                                None => line(&event),
                            }
                        }
                    }
                    Some(Received::Lagged { missed }) => {
                        if self.enabled && bars.is_none() {
                            eprintln!("(display fell behind: {missed} events not shown)");
                        }
                    }
                },
                () = beat_timer => {
                    if let Some(narrator) = narrator
                        && let Some(beat) = heartbeats.due(&bus.snapshot(), narrator)
                    {
                        match bars.as_ref() {
                            Some(bars) => {
                                let _ = bars.multi.println(format!("🗣  {}", beat.text));
                            }
                            None => eprintln!("🗣  {}", beat.text),
                        }
                    }
                }
            }
        }
        if let Some(bars) = bars {
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
        Some(bus.snapshot())
    }
}

fn seconds(ms: u64) -> String {
    format!("{:>7.3}s", ms as f64 / 1_000.0)
}

/// One plain line per event that matters to a person reading a log.
fn line(event: &Event) {
    let at = seconds(event.at_ms);
    let who = &event.call;
    let text = match &event.kind {
        EventKind::Started { attempt: 1 } => format!("▶ {who} ({})", event.tool),
        EventKind::Started { attempt } => format!("▶ {who} (attempt {attempt})"),
        EventKind::Progress {
            fraction,
            step: Some(step),
        } => {
            format!("… {who} {:.0}% {step}", fraction * 100.0)
        }
        EventKind::Retrying { attempt, delay_ms } => {
            format!("↻ {who} will retry (attempt {attempt} in {delay_ms} ms)")
        }
        EventKind::Completed => format!("✓ {who}"),
        EventKind::Failed { message, .. } => format!("✗ {who}: {message}"),
        EventKind::TimedOut { after_ms } => format!("⏱ {who} timed out after {after_ms} ms"),
        EventKind::Cancelled { reason } => match reason {
            Some(reason) => format!("■ {who} cancelled: {reason}"),
            None => format!("■ {who} cancelled"),
        },
        EventKind::Skipped { reason } => format!("⤼ {who} skipped: {reason}"),
        _ => return,
    };
    eprintln!("[{at}] {text}");
}

impl Bars {
    fn new(total: u64) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(15));
        let overall = multi.add(ProgressBar::new(total));
        overall.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} calls  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(Duration::from_millis(100));
        Bars {
            multi,
            overall,
            calls: HashMap::new(),
        }
    }

    fn show(&mut self, event: &Event, snapshot: &BatchSnapshot) {
        let finished = snapshot.counts.finished();
        self.overall.set_position(finished as u64);
        self.overall
            .set_message(format!("ETA {:.1} s", snapshot.eta_ms as f64 / 1_000.0));
        match &event.kind {
            EventKind::Started { .. } => {
                let bar = self.calls.entry(event.call.clone()).or_insert_with(|| {
                    let bar = self
                        .multi
                        .insert_before(&self.overall, ProgressBar::new(100));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "  {spinner} {prefix:24} {bar:20} {percent:>3}% {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_prefix(event.call.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_position(0);
            }
            EventKind::Progress { fraction, step } => {
                if let Some(bar) = self.calls.get(&event.call) {
                    bar.set_position((fraction * 100.0) as u64);
                    if let Some(step) = step {
                        bar.set_message(step.to_string());
                    }
                }
            }
            kind if kind.is_terminal() => {
                let mark = match kind {
                    EventKind::Completed => "✓".to_owned(),
                    EventKind::Failed { message, .. } => format!("✗ {message}"),
                    EventKind::TimedOut { after_ms } => format!("⏱ timed out after {after_ms} ms"),
                    EventKind::Cancelled { .. } => "■ cancelled".to_owned(),
                    EventKind::Skipped { reason } => format!("⤼ skipped: {reason}"),
                    _ => String::new(),
                };
                if let Some(bar) = self.calls.remove(&event.call) {
                    bar.finish_and_clear();
                }
                let _ =
                    self.multi
                        .println(format!("[{}] {} {mark}", seconds(event.at_ms), event.call));
            }
            _ => {}
        }
    }
}
