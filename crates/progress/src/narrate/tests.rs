//! Phrasings, table-driven: start sentences by waves, heartbeats, outcomes.

use std::sync::Arc;

use serde_json::json;
use volley_planner::{Call, Plan, Planner};

use super::*;
use crate::snapshot::StatusCounts;

/// The phrases the issue speaks with.
fn narrator() -> Narrator {
    Narrator::builder()
        .phrase("check_calendar", ToolPhrase::new("check your calendar"))
        .phrase("search_contacts", ToolPhrase::new("search your contacts"))
        .phrase(
            "get_weather",
            ToolPhrase::new("get the weather").with_failure("reach the weather service"),
        )
        .phrase("find_contact", ToolPhrase::new("look up the contact"))
        .phrase("check_crm", ToolPhrase::new("check your CRM records"))
        .phrase("send_invite", ToolPhrase::new("send the invite"))
        .build()
}

/// A plan of `(tool, dependencies by id)`; ids are the tools' names (with `#n` for repeats).
fn plan_of(calls: &[(&str, &[&str])]) -> Plan {
    Plan::new(
        calls
            .iter()
            .map(|(tool, deps)| {
                let mut call = Call::new(*tool, json!({}));
                call.depends_on = deps.iter().map(|d| (*d).to_owned()).collect();
                call
            })
            .collect(),
    )
}

#[test]
fn start_sentences_follow_the_waves() {
    let narrator = narrator();
    for (calls, expected) in [
        (&[][..], ""),
        (&[("get_weather", &[][..])][..], "Let me get the weather."),
        (
            &[("check_calendar", &[][..]), ("get_weather", &[])][..],
            "Let me check your calendar and get the weather at the same time.",
        ),
        (
            &[
                ("check_calendar", &[][..]),
                ("search_contacts", &[]),
                ("get_weather", &[]),
            ][..],
            "Let me check your calendar, search your contacts and get the weather at the same time.",
        ),
        (
            &[
                ("find_contact", &[][..]),
                ("send_invite", &["find_contact"]),
            ][..],
            "I'll look up the contact, then send the invite.",
        ),
        (
            &[
                ("find_contact", &[][..]),
                ("check_calendar", &["find_contact"]),
                ("check_crm", &["find_contact"]),
                ("send_invite", &["check_calendar", "check_crm"]),
            ][..],
            "I'll look up the contact, then check your calendar and CRM records, then send the invite.",
        ),
        (
            &[
                ("find_contact", &[][..]),
                ("get_weather", &[]),
                ("check_calendar", &["find_contact"]),
            ][..],
            "I'll look up the contact and get the weather, then check your calendar.",
        ),
        // Repeats are counted; names without a phrase are derived.
        (
            &[
                ("web_search", &[][..]),
                ("web_search", &[]),
                ("web_search", &[]),
            ][..],
            "Let me use the web search tool 3 times at the same time.",
        ),
        (
            &[
                ("search_web", &[][..]),
                ("search_web", &[]),
                ("get_weather", &[]),
            ][..],
            "Let me search the web twice and get the weather at the same time.",
        ),
        // Shared verbs merge; the outer list then takes a comma before its link.
        (
            &[
                ("check_calendar", &[][..]),
                ("get_weather", &[]),
                ("check_crm", &[]),
            ][..],
            "Let me check your calendar and CRM records, and get the weather at the same time.",
        ),
        // Long lists are cut.
        (
            &[
                ("a_tool", &[][..]),
                ("b_tool", &[]),
                ("c_tool", &[]),
                ("d_tool", &[]),
                ("e_tool", &[]),
            ][..],
            "Let me use the a tool, b tool and c tool, and 2 other things at the same time.",
        ),
    ] {
        let plan = plan_of(calls);
        let dag = Planner::new().plan(&plan).unwrap();
        assert_eq!(narrator.start(&plan, &dag), expected, "{calls:?}");
    }
}

#[test]
fn long_plans_name_their_first_steps() {
    let plan = plan_of(&[
        ("step_one", &[][..]),
        ("step_two", &["step_one"]),
        ("step_three", &["step_two"]),
        ("step_four", &["step_three"]),
        ("step_five", &["step_four"]),
    ]);
    let dag = Planner::new().plan(&plan).unwrap();
    let narrator = Narrator::builder().max_steps(3).build();
    assert_eq!(
        narrator.start(&plan, &dag),
        "I'll use the step one tool, then use the step two tool, then 3 other things."
    );
}

#[test]
fn heartbeats_name_the_long_calls() {
    let narrator = narrator();
    for (tools, expected) in [
        (&[][..], ""),
        (&["get_weather"][..], "Still getting the weather…"),
        (
            &["get_weather", "search_contacts"][..],
            "Still getting the weather and searching your contacts…",
        ),
        (
            &["get_weather", "search_contacts", "find_contact"][..],
            "Still getting the weather, searching your contacts and looking up the contact…",
        ),
        (&["run_sql_query"][..], "Still running the SQL query…"),
    ] {
        assert_eq!(
            narrator.heartbeat(tools.iter().copied()),
            expected,
            "{tools:?}"
        );
    }
}

/// A snapshot of finished calls `(tool, status)`.
fn finished(calls: &[(&str, CallStatus)]) -> BatchSnapshot {
    let mut counts = StatusCounts::default();
    let calls: Vec<CallSnapshot> = calls
        .iter()
        .map(|&(tool, status)| {
            *counts.slot(status) += 1;
            CallSnapshot {
                id: Arc::from(tool),
                tool: Arc::from(tool),
                status,
                started_ms: Some(0),
                ended_ms: status.is_terminal().then_some(100),
                fraction: 1.0,
                step: None,
                attempts: 1,
                estimate_ms: 100,
                error: None,
                message: None,
            }
        })
        .collect();
    BatchSnapshot {
        seq: 0,
        elapsed_ms: 100,
        counts,
        running: vec![],
        fraction: 1.0,
        eta_ms: 0,
        finished: true,
        calls,
        tools: vec![],
    }
}

#[test]
fn outcomes_with_mixed_successes_and_failures() {
    use CallStatus::*;
    let narrator = narrator();
    let summaries = |call: &CallSnapshot| match &*call.tool {
        "check_calendar" => Some("your calendar is clear".to_owned()),
        "search_contacts" => Some("John is in your contacts".to_owned()),
        _ => None,
    };
    for (calls, with_summaries, expected) in [
        (&[("get_weather", Completed)][..], false, "All done."),
        (
            &[("get_weather", Completed), ("check_calendar", Completed)][..],
            false,
            "All done.",
        ),
        (
            &[("get_weather", Completed), ("check_calendar", Completed)][..],
            true,
            "All done: your calendar is clear.",
        ),
        (
            &[
                ("check_calendar", Completed),
                ("search_contacts", Completed),
            ][..],
            true,
            "All done: your calendar is clear and John is in your contacts.",
        ),
        // A skip by a false condition is no failure.
        (
            &[("get_weather", Completed), ("send_invite", Skipped)][..],
            false,
            "All done.",
        ),
        (
            &[("get_weather", Failed), ("check_calendar", Completed)][..],
            true,
            "I couldn't reach the weather service, but your calendar is clear.",
        ),
        (
            &[("get_weather", TimedOut), ("check_calendar", Completed)][..],
            false,
            "I couldn't reach the weather service, but everything else is done.",
        ),
        (
            &[("get_weather", Failed)][..],
            false,
            "I couldn't reach the weather service.",
        ),
        (
            &[("get_weather", Failed), ("check_calendar", Failed)][..],
            false,
            "I couldn't reach the weather service or check your calendar.",
        ),
        (
            &[
                ("get_weather", Failed),
                ("check_calendar", Failed),
                ("search_contacts", TimedOut),
            ][..],
            false,
            "I couldn't reach the weather service, check your calendar or search your contacts.",
        ),
        (
            &[
                ("find_contact", Failed),
                ("check_calendar", Skipped),
                ("send_invite", Skipped),
            ][..],
            false,
            "I couldn't look up the contact, so I didn't check your calendar or send the invite.",
        ),
        (
            &[
                ("find_contact", Failed),
                ("send_invite", Skipped),
                ("search_contacts", Completed),
            ][..],
            true,
            "I couldn't look up the contact, so I didn't send the invite, but John is in your contacts.",
        ),
        (
            &[("check_calendar", Completed), ("send_invite", Cancelled)][..],
            false,
            "I stopped before I could send the invite, but everything else is done.",
        ),
        (
            &[("get_weather", Failed), ("send_invite", Cancelled)][..],
            false,
            "I couldn't reach the weather service, I stopped before I could send the invite.",
        ),
        // Repeated failures of one tool are said once.
        (
            &[("get_weather", Failed), ("get_weather", Failed)][..],
            false,
            "I couldn't reach the weather service.",
        ),
        // Calls still running are left out.
        (
            &[("get_weather", Running), ("check_calendar", Completed)][..],
            false,
            "All done.",
        ),
    ] {
        let snapshot = finished(calls);
        let got = if with_summaries {
            narrator.outcome_with(&snapshot, summaries)
        } else {
            narrator.outcome(&snapshot)
        };
        assert_eq!(got, expected, "{calls:?}");
    }
}

#[test]
fn templates_can_be_replaced_for_another_language() {
    fn derive(tool: &str) -> ToolPhrase {
        ToolPhrase::new(format!("utiliser {tool}")).with_ongoing(format!("j'utilise {tool}"))
    }
    let book = Phrasebook::builder()
        .start_one("Je vais {action}.")
        .start_together("Je vais {actions} en même temps.")
        .start_steps("Je vais {steps}.")
        .then(", puis ")
        .heartbeat("Toujours en cours : {ongoing}…")
        .all_done("C'est fait.")
        .failed("Je n'ai pas pu {failed}")
        .but_rest("mais le reste est fait")
        .and("et")
        .or("ni")
        .twice("deux fois")
        .times("{count} fois")
        .others("{count} autres choses")
        .derive(derive)
        .build()
        .unwrap();
    let narrator = Narrator::builder()
        .phrasebook(book)
        .phrase(
            "check_calendar",
            ToolPhrase::new("consulter votre agenda").with_ongoing("je consulte votre agenda"),
        )
        .build();
    let plan = plan_of(&[
        ("check_calendar", &[][..]),
        ("meteo", &[]),
        ("envoyer", &["check_calendar"]),
    ]);
    let dag = Planner::new().plan(&plan).unwrap();
    assert_eq!(
        narrator.start(&plan, &dag),
        "Je vais consulter votre agenda et utiliser meteo, puis utiliser envoyer."
    );
    assert_eq!(
        narrator.heartbeat(["check_calendar", "meteo"]),
        "Toujours en cours : je consulte votre agenda et j'utilise meteo…"
    );
    assert_eq!(
        narrator.outcome(&finished(&[
            ("meteo", CallStatus::Failed),
            ("check_calendar", CallStatus::Completed)
        ])),
        "Je n'ai pas pu utiliser meteo, mais le reste est fait."
    );
    assert_eq!(
        narrator.outcome(&finished(&[("meteo", CallStatus::Completed)])),
        "C'est fait."
    );
}

/// (now, calls running, the agent spoke at, the heartbeat due, when to look next)
type Beat<'a> = (
    u64,
    Vec<CallSnapshot>,
    Option<u64>,
    Option<&'a str>,
    Option<u64>,
);

#[test]
fn heartbeats_are_due_after_the_threshold_and_a_silence() {
    let narrator = narrator();
    let running = |tool: &str, started: u64| CallSnapshot {
        id: Arc::from(tool),
        tool: Arc::from(tool),
        status: CallStatus::Running,
        started_ms: Some(started),
        ended_ms: None,
        fraction: 0.0,
        step: None,
        attempts: 1,
        estimate_ms: 100,
        error: None,
        message: None,
    };
    let at = |now: u64, calls: Vec<CallSnapshot>| {
        let mut snapshot = finished(&[]);
        snapshot.elapsed_ms = now;
        snapshot.finished = false;
        snapshot.calls = calls;
        snapshot
    };
    let mut heartbeats = Heartbeats::new();
    heartbeats.after_ms(2_000).every_ms(3_000);
    let weather = || running("get_weather", 0);
    let contacts = || running("search_contacts", 1_500);
    let script: Vec<Beat<'_>> = vec![
        (0, vec![weather()], None, None, Some(2_000)),
        (1_999, vec![weather()], None, None, Some(2_000)),
        (
            2_000,
            vec![weather(), contacts()],
            None,
            Some("Still getting the weather…"),
            Some(5_000),
        ),
        (4_999, vec![weather(), contacts()], None, None, Some(5_000)),
        (
            5_000,
            vec![weather(), contacts()],
            None,
            Some("Still getting the weather and searching your contacts…"),
            Some(8_000),
        ),
        // The agent said something else at 7,000: the next heartbeat waits until 10,000.
        (7_500, vec![contacts()], Some(7_000), None, Some(10_000)),
        (
            10_000,
            vec![contacts()],
            None,
            Some("Still searching your contacts…"),
            Some(13_000),
        ),
        // Nothing runs: nothing to say, no need to look again.
        (20_000, vec![], None, None, None),
    ];
    for (now, calls, spoke, expected, next) in script {
        if let Some(t) = spoke {
            heartbeats.spoke(t);
        }
        let snapshot = at(now, calls);
        let beat = heartbeats.due(&snapshot, &narrator);
        assert_eq!(beat.as_ref().map(|b| b.text.as_str()), expected, "at {now}");
        if let Some(beat) = beat {
            assert_eq!(beat.at_ms, now);
            assert!(!beat.calls.is_empty());
        }
        assert_eq!(heartbeats.next_due_ms(&snapshot), next, "next after {now}");
    }
}
