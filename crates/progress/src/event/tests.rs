//! The event JSON is a contract (the HTTP API streams it): golden strings, both ways.

use serde_json::json;

use super::*;

fn event(seq: u64, at_ms: u64, kind: EventKind) -> Event {
    Event::new(seq, at_ms, "weather", "get_weather", kind)
}

#[test]
fn every_kind_has_a_golden_json() {
    const HEAD: &str = r#"{"seq":7,"at_ms":1250,"call":"weather","tool":"get_weather","#;
    for (kind, tail) in [
        (EventKind::Queued, r#""type":"queued"}"#),
        (
            EventKind::Started { attempt: 1 },
            r#""type":"started","attempt":1}"#,
        ),
        (
            EventKind::progress(0.4, Some("fetching page 2")),
            r#""type":"progress","fraction":0.4,"step":"fetching page 2"}"#,
        ),
        (
            EventKind::progress(1.0, None),
            r#""type":"progress","fraction":1.0}"#,
        ),
        (
            EventKind::Retrying {
                attempt: 2,
                delay_ms: 200,
            },
            r#""type":"retrying","attempt":2,"delay_ms":200}"#,
        ),
        (EventKind::Completed, r#""type":"completed"}"#),
        (
            EventKind::failed("unavailable", "the weather service did not answer"),
            r#""type":"failed","error":"unavailable","message":"the weather service did not answer"}"#,
        ),
        (
            EventKind::TimedOut { after_ms: 3000 },
            r#""type":"timed_out","after_ms":3000}"#,
        ),
        (
            EventKind::Cancelled { reason: None },
            r#""type":"cancelled"}"#,
        ),
        (
            EventKind::Cancelled {
                reason: Some("fail_fast".into()),
            },
            r#""type":"cancelled","reason":"fail_fast"}"#,
        ),
        (
            EventKind::skipped("dependency `find_contact` failed"),
            r#""type":"skipped","reason":"dependency `find_contact` failed"}"#,
        ),
    ] {
        let name = kind.name();
        let event = event(7, 1250, kind);
        let text = event.to_json();
        assert_eq!(text, format!("{HEAD}{tail}"), "{name}");
        assert!(tail.starts_with(&format!(r#""type":"{name}""#)));
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event, "{name} reads back");
    }
}

#[test]
fn detail_appears_only_when_present() {
    let mut event = event(1, 0, EventKind::Completed);
    event.detail = Some(Arc::new(json!({"temp_c": 21})));
    let text = event.to_json();
    assert_eq!(
        text,
        r#"{"seq":1,"at_ms":0,"call":"weather","tool":"get_weather","type":"completed","detail":{"temp_c":21}}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
}

#[test]
fn progress_fractions_are_clamped_and_empty_steps_dropped() {
    for (fraction, step, expected_fraction, expected_step) in [
        (0.25, Some("a"), 0.25, Some("a")),
        (-1.0, None, 0.0, None),
        (7.0, Some(""), 1.0, None),
        (f64::NAN, None, 0.0, None),
        (f64::INFINITY, None, 1.0, None),
    ] {
        let EventKind::Progress {
            fraction: f,
            step: s,
        } = EventKind::progress(fraction, step)
        else {
            panic!("not a progress event");
        };
        assert_eq!(
            (f, s.as_deref()),
            (expected_fraction, expected_step),
            "{fraction}"
        );
    }
}

#[test]
fn unknown_types_are_refused() {
    let err = serde_json::from_str::<Event>(
        r#"{"seq":1,"at_ms":0,"call":"a","tool":"b","type":"exploded"}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `exploded`"),
        "{err}"
    );
}

#[test]
fn terminal_kinds() {
    let terminal: Vec<&str> = [
        EventKind::Queued,
        EventKind::Started { attempt: 1 },
        EventKind::progress(0.5, None),
        EventKind::Retrying {
            attempt: 2,
            delay_ms: 1,
        },
        EventKind::Completed,
        EventKind::failed("x", "y"),
        EventKind::TimedOut { after_ms: 1 },
        EventKind::Cancelled { reason: None },
        EventKind::skipped("z"),
    ]
    .iter()
    .filter(|k| k.is_terminal())
    .map(EventKind::name)
    .collect();
    assert_eq!(
        terminal,
        ["completed", "failed", "timed_out", "cancelled", "skipped"]
    );
}
