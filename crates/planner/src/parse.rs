//! Reading a Volley plan (JSON, version 1) with every problem reported at once.

use serde_json::{Map, Value};

use crate::error::{ErrorKind, PlanError, did_you_mean};
use crate::plan::{
    AccessKey, Call, OnDependencyFailure, Plan, Priority, RetryPolicy, Source, Strategy,
};
use crate::reference::{Condition, validate_id};

const PLAN_FIELDS: &[&str] = &[
    "calls",
    "max_concurrency",
    "deadline_ms",
    "strategy",
    "fail_fast",
    "version",
];
const CALL_FIELDS: &[&str] = &[
    "id",
    "tool",
    "args",
    "depends_on",
    "priority",
    "timeout_ms",
    "estimated_ms",
    "retry",
    "access",
    "when",
    "on_dependency_failure",
    "progress_detail",
];
const RETRY_FIELDS: &[&str] = &["max_attempts", "backoff_ms", "max_backoff_ms"];

/// Parses JSON text, reporting a syntax error with its line and column.
pub(crate) fn parse_json(text: &str) -> Result<Value, PlanError> {
    serde_json::from_str(text).map_err(|e| {
        let what = e.to_string();
        // serde_json appends " at line L column C"; say it our way, once.
        let what = what.split(" at line ").next().unwrap_or(&what).to_owned();
        PlanError::new(
            ErrorKind::Json,
            "",
            format!(
                "invalid JSON at line {}, column {}: {what}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Builds a plan from a parsed Volley plan document. Problems go to `errors`; the returned plan
/// holds every call that could be read (for further checks), ids defaulted.
pub(crate) fn plan_from_value(value: &Value, errors: &mut Vec<PlanError>) -> Plan {
    let mut plan = Plan {
        source: Source::Volley,
        ..Plan::default()
    };
    let Some(object) = value.as_object() else {
        errors.push(PlanError::new(
            ErrorKind::WrongType,
            "",
            format!(
                "a plan is a JSON object with `calls`, not {}",
                crate::reference::type_name(value)
            ),
        ));
        return plan;
    };
    reject_unknown(object, PLAN_FIELDS, "", "plan", errors);
    if let Some(version) = object.get("version")
        && version.as_u64() != Some(1)
    {
        errors.push(PlanError::new(
            ErrorKind::InvalidValue,
            "version",
            format!("unsupported plan version {version}; this Volley reads version 1"),
        ));
    }
    plan.max_concurrency =
        opt_u64(object, "max_concurrency", "max_concurrency", errors).and_then(|n| {
            if n == 0 {
                errors.push(PlanError::new(
                    ErrorKind::InvalidValue,
                    "max_concurrency",
                    "must be at least 1",
                ));
                None
            } else {
                Some(usize::try_from(n).unwrap_or(usize::MAX))
            }
        });
    plan.deadline_ms = opt_u64(object, "deadline_ms", "deadline_ms", errors);
    plan.strategy =
        opt_enum::<Strategy>(object, "strategy", "strategy", errors).unwrap_or_default();
    plan.fail_fast = match object.get("fail_fast") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(wrong_type("fail_fast", "a boolean", other));
            false
        }
    };
    match object.get("calls") {
        None => errors.push(PlanError::new(
            ErrorKind::MissingField,
            "calls",
            "a plan needs `calls`, an array of tool calls (it may be empty)",
        )),
        Some(Value::Array(items)) => {
            let first_call_error = errors.len();
            plan.calls = items
                .iter()
                .enumerate()
                .map(|(i, item)| call_from_value(i, item, errors))
                .collect();
            plan.assign_default_ids();
            // Name calls without an explicit id by their default id in their messages too.
            for error in &mut errors[first_call_error..] {
                if let Some(location) = error.call.as_mut() {
                    let no_id_field = items[location.index].get("id").is_none();
                    if location.id.is_none()
                        && no_id_field
                        && !plan.calls[location.index].tool.is_empty()
                    {
                        location.id = Some(plan.calls[location.index].id.clone());
                    }
                }
            }
        }
        Some(other) => errors.push(wrong_type("calls", "an array", other)),
    }
    plan
}

fn call_from_value(index: usize, value: &Value, errors: &mut Vec<PlanError>) -> Call {
    let base = format!("calls[{index}]");
    let mut call = Call {
        args: crate::plan::empty_args(),
        ..Call::default()
    };
    let Some(object) = value.as_object() else {
        errors.push(
            wrong_type(&base, "an object with `tool` and `args`", value).at_call(index, None),
        );
        return call;
    };
    // The id names the call in every later message, so read it first.
    let id = match object.get("id") {
        None => None,
        Some(Value::String(id)) => {
            if let Err(problem) = validate_id(id) {
                errors.push(
                    PlanError::new(ErrorKind::InvalidId, format!("{base}.id"), problem)
                        .at_call(index, None),
                );
                None
            } else {
                Some(id.clone())
            }
        }
        Some(other) => {
            errors.push(wrong_type(&format!("{base}.id"), "a string", other).at_call(index, None));
            None
        }
    };
    let at = |e: PlanError| e.at_call(index, id.as_deref());
    let mut local = Vec::new();
    reject_unknown(object, CALL_FIELDS, &base, "call", &mut local);
    match object.get("tool") {
        Some(Value::String(tool)) if !tool.is_empty() => call.tool = tool.clone(),
        Some(Value::String(_)) => local.push(PlanError::new(
            ErrorKind::InvalidValue,
            format!("{base}.tool"),
            "the tool name is empty",
        )),
        Some(other) => local.push(wrong_type(&format!("{base}.tool"), "a string", other)),
        None => local.push(PlanError::new(
            ErrorKind::MissingField,
            format!("{base}.tool"),
            "a call needs `tool`",
        )),
    }
    match object.get("args") {
        None | Some(Value::Null) => {}
        Some(args @ Value::Object(_)) => call.args = args.clone(),
        Some(other) => local.push(wrong_type(&format!("{base}.args"), "an object", other)),
    }
    match object.get("depends_on") {
        None => {}
        Some(Value::Array(items)) => {
            for (j, item) in items.iter().enumerate() {
                match item {
                    Value::String(dep) => call
                        .depends_on
                        .push(dep.strip_prefix('$').unwrap_or(dep).to_owned()),
                    other => local.push(wrong_type(
                        &format!("{base}.depends_on[{j}]"),
                        "a call id",
                        other,
                    )),
                }
            }
        }
        // A single id is accepted as a one-element list.
        Some(Value::String(dep)) => call
            .depends_on
            .push(dep.strip_prefix('$').unwrap_or(dep).to_owned()),
        Some(other) => local.push(wrong_type(
            &format!("{base}.depends_on"),
            "an array of call ids",
            other,
        )),
    }
    call.priority =
        opt_enum::<Priority>(object, "priority", &format!("{base}.priority"), &mut local)
            .unwrap_or_default();
    call.on_dependency_failure = opt_enum::<OnDependencyFailure>(
        object,
        "on_dependency_failure",
        &format!("{base}.on_dependency_failure"),
        &mut local,
    )
    .unwrap_or_default();
    match object.get("progress_detail") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => call.progress_detail = *b,
        Some(other) => local.push(wrong_type(
            &format!("{base}.progress_detail"),
            "a boolean",
            other,
        )),
    }
    call.timeout_ms = opt_u64(
        object,
        "timeout_ms",
        &format!("{base}.timeout_ms"),
        &mut local,
    );
    if call.timeout_ms == Some(0) {
        local.push(PlanError::new(
            ErrorKind::InvalidValue,
            format!("{base}.timeout_ms"),
            "must be at least 1",
        ));
    }
    call.estimated_ms = opt_u64(
        object,
        "estimated_ms",
        &format!("{base}.estimated_ms"),
        &mut local,
    );
    call.retry = object
        .get("retry")
        .and_then(|v| retry_from_value(&format!("{base}.retry"), v, &mut local));
    match object.get("access") {
        None => {}
        Some(Value::Array(items)) => {
            for (j, item) in items.iter().enumerate() {
                let path = format!("{base}.access[{j}]");
                match item.as_str().map(str::parse::<AccessKey>) {
                    Some(Ok(key)) => call.access.push(key),
                    Some(Err(problem)) => {
                        local.push(PlanError::new(ErrorKind::InvalidValue, path, problem))
                    }
                    None => local.push(wrong_type(
                        &path,
                        "a string such as `read:config.json`",
                        item,
                    )),
                }
            }
        }
        Some(other) => local.push(wrong_type(
            &format!("{base}.access"),
            "an array of access keys",
            other,
        )),
    }
    match object.get("when") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => match Condition::parse(text) {
            Ok(condition) => call.when = Some(condition),
            Err(problem) => local.push(PlanError::new(
                ErrorKind::MalformedReference,
                format!("{base}.when"),
                problem,
            )),
        },
        Some(other) => local.push(wrong_type(
            &format!("{base}.when"),
            "a condition such as `$ID.path`",
            other,
        )),
    }
    errors.extend(local.into_iter().map(at));
    call.id = id.unwrap_or_default();
    call
}

fn retry_from_value(path: &str, value: &Value, errors: &mut Vec<PlanError>) -> Option<RetryPolicy> {
    let Some(object) = value.as_object() else {
        errors.push(wrong_type(
            path,
            "an object `{max_attempts, backoff_ms, max_backoff_ms}`",
            value,
        ));
        return None;
    };
    reject_unknown(object, RETRY_FIELDS, path, "retry policy", errors);
    let default = RetryPolicy::default();
    let max_attempts = opt_u64(
        object,
        "max_attempts",
        &format!("{path}.max_attempts"),
        errors,
    );
    let policy = RetryPolicy {
        max_attempts: match max_attempts {
            None => default.max_attempts,
            Some(0) => {
                errors.push(PlanError::new(
                    ErrorKind::InvalidValue,
                    format!("{path}.max_attempts"),
                    "must be at least 1 (the first attempt counts)",
                ));
                1
            }
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        },
        backoff_ms: opt_u64(object, "backoff_ms", &format!("{path}.backoff_ms"), errors)
            .unwrap_or(default.backoff_ms),
        max_backoff_ms: opt_u64(
            object,
            "max_backoff_ms",
            &format!("{path}.max_backoff_ms"),
            errors,
        )
        .unwrap_or(default.max_backoff_ms),
    };
    if policy.max_backoff_ms < policy.backoff_ms {
        errors.push(PlanError::new(
            ErrorKind::InvalidValue,
            format!("{path}.max_backoff_ms"),
            format!(
                "max_backoff_ms ({}) is smaller than backoff_ms ({})",
                policy.max_backoff_ms, policy.backoff_ms
            ),
        ));
    }
    Some(policy)
}

fn reject_unknown(
    object: &Map<String, Value>,
    known: &[&str],
    base: &str,
    what: &str,
    errors: &mut Vec<PlanError>,
) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            let path = if base.is_empty() {
                key.clone()
            } else {
                format!("{base}.{key}")
            };
            let hint = did_you_mean(key, known.iter().copied());
            let list = if hint.is_empty() {
                format!("; known fields: {}", known.join(", "))
            } else {
                hint
            };
            errors.push(PlanError::new(
                ErrorKind::UnknownField,
                path,
                format!("unknown {what} field `{key}`{list}"),
            ));
        }
    }
}

fn opt_u64(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut Vec<PlanError>,
) -> Option<u64> {
    match object.get(key)? {
        Value::Null => None,
        Value::Number(n) if n.is_u64() => n.as_u64(),
        other => {
            errors.push(wrong_type(path, "a whole number of 0 or more", other));
            None
        }
    }
}

fn opt_enum<T: std::str::FromStr<Err = String>>(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut Vec<PlanError>,
) -> Option<T> {
    match object.get(key)? {
        Value::Null => None,
        Value::String(text) => match text.parse() {
            Ok(v) => Some(v),
            Err(problem) => {
                errors.push(PlanError::new(ErrorKind::InvalidValue, path, problem));
                None
            }
        },
        other => {
            errors.push(wrong_type(path, "a string", other));
            None
        }
    }
}

pub(crate) fn wrong_type(path: &str, expected: &str, found: &Value) -> PlanError {
    let shown = match found {
        Value::String(s) => format!("the string {:?}", s),
        Value::Number(n) => format!("the number {n}"),
        other => crate::reference::type_name(other).to_owned(),
    };
    PlanError::new(
        ErrorKind::WrongType,
        path,
        format!("expected {expected}, found {shown}"),
    )
}
