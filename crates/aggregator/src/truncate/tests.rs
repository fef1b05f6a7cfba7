use serde_json::json;

use super::*;

#[test]
fn texts_are_cut_to_the_limit_with_a_marker() {
    // (text, limit, expected)
    let cases: &[(&str, usize, &str)] = &[
        ("short", 60, "short"),
        ("exactly 10", 10, "exactly 10"),
        (
            "0123456789012345678901234567890123456789012345678901234567890123456789",
            60,
            "0123456789012345678901234567\n[truncated: cut 42 of 70 bytes]",
        ),
        // A limit smaller than the marker: the marker alone.
        ("0123456789", 5, "\n[truncated: cut 10 of 10 bytes]"),
        ("", 0, ""),
    ];
    for &(text, limit, expected) in cases {
        let cut = truncate(text, limit);
        assert_eq!(cut, expected, "{text:?} at {limit}");
        if expected.len() <= limit {
            assert!(cut.len() <= limit, "{cut:?} is over {limit}");
        }
    }
}

#[test]
fn cuts_fall_on_character_boundaries() {
    // 3-byte characters: whatever the limit, the kept part is whole characters.
    let text = "€".repeat(40);
    for limit in 40..80 {
        let cut = truncate(&text, limit);
        assert!(cut.len() <= limit, "limit {limit}: {} bytes", cut.len());
        let (kept, marker) = cut.split_once('\n').unwrap();
        assert!(kept.chars().all(|c| c == '€'));
        assert_eq!(
            marker,
            format!("[truncated: cut {} of 120 bytes]", 120 - kept.len())
        );
    }
}

#[test]
fn json_is_compact_text_and_cut_like_its_full_text() {
    let value = json!({"date": "2025-05-25", "busy": ["09:00-10:00"], "n": 1.5, "ok": true});
    let full = serde_json::to_string(&value).unwrap();
    assert_eq!(
        json_text(&value, 1_000),
        r#"{"date":"2025-05-25","busy":["09:00-10:00"],"n":1.5,"ok":true}"#
    );
    for limit in [0, 10, 40, 50, 60, full.len() - 1, full.len()] {
        assert_eq!(
            json_text(&value, limit),
            truncate(&full, limit),
            "limit {limit}"
        );
    }
    // A string is its own text, unquoted.
    assert_eq!(json_text(&json!("It is sunny."), 100), "It is sunny.");
    assert_eq!(json_text(&json!(null), 100), "null");
}

#[test]
fn lengths_are_counted_up_to_just_past_the_limit() {
    let value = json!({"text": "x".repeat(1_000)});
    let full = serde_json::to_string(&value).unwrap().len();
    assert_eq!(json_len_within(&value, 10_000), full);
    assert!(json_len_within(&value, 100) > 100);
    assert!(json_len_within(&value, 100) < full);
}
