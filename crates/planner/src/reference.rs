//! `$` references in arguments: parsing, printing and substitution.
//!
//! - `"$ID"` or `"$ID.path.to[0].field"` as a whole string: the upstream value, with its JSON type.
//! - `${ID.path}` inside a longer string: the value as text (strings raw, others compact JSON).
//! - `$N` (digits only): the N-th call of the plan, 1-based, as LLMCompiler plans write it.
//! - `$$`: a literal `$`.

use std::fmt;

use serde_json::Value;

/// Whom a reference points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A call id, or a tool name used by exactly one call.
    Id(String),
    /// The N-th call of the plan, 1-based (`$1` is the first call).
    Position(usize),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Id(id) => f.write_str(id),
            Target::Position(n) => write!(f, "{n}"),
        }
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// `.name`: an object field.
    Key(String),
    /// `[N]`: an array element, 0-based.
    Index(usize),
}

/// A parsed reference such as `$find_contact.emails[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The call it reads.
    pub target: Target,
    /// The field path into that call's output (empty: the whole output).
    pub path: Vec<PathSegment>,
}

/// Whether `c` may appear in an id or a path key.
pub(crate) fn is_id_char(c: char) -> bool {
    !matches!(c, '.' | '$' | '{' | '}' | '[' | ']') && !c.is_whitespace()
}

/// Which ASCII bytes may appear in an id (non-ASCII bytes take the slow path).
static ASCII_ID: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x21; // graphic ASCII: `!` to `~`
    while b <= 0x7E {
        table[b] = !matches!(b as u8, b'.' | b'$' | b'{' | b'}' | b'[' | b']');
        b += 1;
    }
    table
};

/// Checks an id: non-empty, without `.`, `$`, `{`, `}`, `[`, `]` or whitespace.
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("an id must not be empty".into());
    }
    // Fast path for the common all-ASCII id: one table look-up per byte.
    if id.bytes().all(|b| ASCII_ID[b as usize]) {
        return Ok(());
    }
    match id.chars().find(|c| !is_id_char(*c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "id `{id}` contains {}; ids may not contain `.`, `$`, `{{`, `}}`, `[`, `]` or whitespace",
            describe_char(c)
        )),
    }
}

fn describe_char(c: char) -> String {
    if c.is_whitespace() {
        "whitespace".to_owned()
    } else {
        format!("`{c}`")
    }
}

impl Reference {
    /// Parses a whole reference such as `$find_contact.id` (the leading `$` is required).
    pub fn parse(text: &str) -> Result<Reference, String> {
        let body = text
            .strip_prefix('$')
            .ok_or_else(|| format!("`{text}` is not a reference: it must start with `$`"))?;
        parse_body(body).map_err(|problem| format!("malformed reference `{text}`: {problem}"))
    }

    /// Follows the path into `value`, the output of the target call.
    pub fn lookup<'v>(&self, value: &'v Value) -> Result<&'v Value, String> {
        let mut current = value;
        for (i, segment) in self.path.iter().enumerate() {
            let next = match segment {
                PathSegment::Key(key) => current.as_object().and_then(|o| o.get(key)),
                PathSegment::Index(n) => current.as_array().and_then(|a| a.get(*n)),
            };
            current = match next {
                Some(v) => v,
                None => {
                    let prefix = Reference {
                        target: self.target.clone(),
                        path: self.path[..i].to_vec(),
                    };
                    return Err(describe_missing(&prefix, segment, current));
                }
            };
        }
        Ok(current)
    }
}

fn describe_missing(prefix: &Reference, segment: &PathSegment, found: &Value) -> String {
    match (segment, found) {
        (PathSegment::Key(key), Value::Object(map)) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
            format!(
                "`{prefix}` has no field `{key}` (it has: {})",
                keys.join(", ")
            )
        }
        (PathSegment::Index(n), Value::Array(items)) => {
            format!(
                "`{prefix}` has {} elements, so index {n} is out of range",
                items.len()
            )
        }
        (PathSegment::Key(key), other) => {
            format!(
                "`{prefix}` is {}, not an object, so it has no field `{key}`",
                type_name(other)
            )
        }
        (PathSegment::Index(n), other) => {
            format!(
                "`{prefix}` is {}, not an array, so it has no element {n}",
                type_name(other)
            )
        }
    }
}

/// What kind of JSON value this is, with an article, for messages ("an object", "null").
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses what follows the `$`: `ID` then `.key` / `[N]` segments, to the end of `body`.
fn parse_body(body: &str) -> Result<Reference, String> {
    let id_end = body.find(|c: char| !is_id_char(c)).unwrap_or(body.len());
    let id = &body[..id_end];
    if id.is_empty() {
        return Err("an id must follow `$`".into());
    }
    let target = if id.bytes().all(|b| b.is_ascii_digit()) {
        match id.parse::<usize>() {
            Ok(n) if n >= 1 => Target::Position(n),
            _ => {
                return Err(format!(
                    "`${id}` is not a call position (positions start at 1)"
                ));
            }
        }
    } else {
        Target::Id(id.to_owned())
    };
    let mut path = Vec::new();
    let mut rest = &body[id_end..];
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => {
                let key_end = rest[1..]
                    .find(|c: char| !is_id_char(c))
                    .map_or(rest.len(), |p| p + 1);
                let key = &rest[1..key_end];
                if key.is_empty() {
                    return Err("a field name must follow `.`".into());
                }
                path.push(PathSegment::Key(key.to_owned()));
                rest = &rest[key_end..];
            }
            '[' => {
                let close = rest.find(']').ok_or("`[` is never closed")?;
                let inner = &rest[1..close];
                let index = inner
                    .parse::<usize>()
                    .ok()
                    .filter(|_| !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        format!("`[{inner}]` is not an array index (a number such as `[0]`)")
                    })?;
                path.push(PathSegment::Index(index));
                rest = &rest[close + 1..];
            }
            other => {
                return Err(format!(
                    "unexpected {} after `{}` (write `$$` for a literal `$`)",
                    describe_char(other),
                    &body[..body.len() - rest.len()]
                ));
            }
        }
    }
    Ok(Reference { target, path })
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.target)?;
        for segment in &self.path {
            match segment {
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A piece of an interpolated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as is (`$$` already turned into `$`).
    Literal(String),
    /// `${…}`: the referenced value as text.
    Ref(Reference),
}

/// A string argument that is not plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// The whole string is one reference: the value keeps its JSON type.
    Whole(Reference),
    /// Text with `${…}` interpolations and/or `$$` escapes.
    Text(Vec<Piece>),
}

impl Template {
    /// Parses a string argument: `Ok(None)` for plain text with nothing to substitute.
    pub fn parse(s: &str) -> Result<Option<Template>, String> {
        let Some(first_dollar) = s.find('$') else {
            return Ok(None);
        };
        // A whole-string reference: `$` then an id character, to the end of the string.
        if first_dollar == 0 && s[1..].starts_with(is_id_char) {
            return Reference::parse(s).map(|r| Some(Template::Whole(r)));
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = s;
        while let Some(pos) = rest.find('$') {
            literal.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                literal.push('$');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('{') {
                let close = inner.find('}').ok_or_else(|| {
                    format!("`${{` is never closed by `}}` in `{s}` (write `$$` for a literal `$`)")
                })?;
                let reference = parse_body(&inner[..close]).map_err(|problem| {
                    format!("malformed reference `${{{}}}`: {problem}", &inner[..close])
                })?;
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Ref(reference));
                rest = &inner[close + 1..];
            } else {
                // A lone `$` inside longer text (such as "costs $5") stays literal.
                literal.push('$');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Some(Template::Text(pieces)))
    }

    /// The references this template reads, in order.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        let (whole, pieces) = match self {
            Template::Whole(r) => (Some(r), &[][..]),
            Template::Text(pieces) => (None, pieces.as_slice()),
        };
        whole
            .into_iter()
            .chain(pieces.iter().filter_map(|p| match p {
                Piece::Ref(r) => Some(r),
                Piece::Literal(_) => None,
            }))
    }

    /// Substitutes the template; `value_of` gives each reference's value.
    pub fn render<'v, F>(&self, mut value_of: F) -> Result<Value, String>
    where
        F: FnMut(&Reference) -> Result<&'v Value, String>,
    {
        match self {
            Template::Whole(r) => value_of(r).cloned(),
            Template::Text(pieces) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Literal(text) => out.push_str(text),
                        Piece::Ref(r) => match value_of(r)? {
                            Value::String(text) => out.push_str(text),
                            other => out.push_str(&other.to_string()),
                        },
                    }
                }
                Ok(Value::String(out))
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Template::Whole(r) => write!(f, "{r}"),
            Template::Text(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Literal(text) => f.write_str(&text.replace('$', "$$"))?,
                        Piece::Ref(r) => write!(f, "${{{}}}", &r.to_string()[1..])?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// A template found at one place in a call's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgTemplate {
    /// Where in `args` the string sits (keys and indices from the top).
    pub location: Vec<PathSegment>,
    /// What to put there.
    pub template: Template,
}

impl ArgTemplate {
    /// The location as a JSON path below `args`, such as `.contact.emails[0]`.
    pub fn location_path(&self) -> String {
        json_path_suffix(&self.location)
    }
}

/// Formats path segments as `.key[0]`, quoting keys that are not plain identifiers.
pub(crate) fn json_path_suffix(segments: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            PathSegment::Key(key)
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
            {
                out.push('.');
                out.push_str(key);
            }
            PathSegment::Key(key) => {
                out.push('[');
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(']');
            }
            PathSegment::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Finds every template in `args`, depth first in document order. Malformed templates are
/// reported with their location; the scan goes on past them.
pub fn scan_args(args: &Value) -> (Vec<ArgTemplate>, Vec<(Vec<PathSegment>, String)>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut location = Vec::new();
    scan_value(args, &mut location, &mut found, &mut errors);
    (found, errors)
}

fn scan_value(
    value: &Value,
    location: &mut Vec<PathSegment>,
    found: &mut Vec<ArgTemplate>,
    errors: &mut Vec<(Vec<PathSegment>, String)>,
) {
    match value {
        Value::String(s) => match Template::parse(s) {
            Ok(Some(template)) => found.push(ArgTemplate {
                location: location.clone(),
                template,
            }),
            Ok(None) => {}
            Err(problem) => errors.push((location.clone(), problem)),
        },
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                location.push(PathSegment::Index(i));
                scan_value(item, location, found, errors);
                location.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                location.push(PathSegment::Key(key.clone()));
                scan_value(item, location, found, errors);
                location.pop();
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Replaces every template of `templates` in a copy of `args`.
///
/// `value_of` returns the value a reference reads (the upstream output followed along the path);
/// its error (a missing field, say) is returned with the argument's location.
pub fn substitute<'v, F>(
    args: &Value,
    templates: &[ArgTemplate],
    mut value_of: F,
) -> Result<Value, String>
where
    F: FnMut(&Reference) -> Result<&'v Value, String>,
{
    let mut out = args.clone();
    for arg in templates {
        let rendered = arg
            .template
            .render(&mut value_of)
            .map_err(|problem| format!("args{}: {problem}", arg.location_path()))?;
        if let Some(slot) = pointer_mut(&mut out, &arg.location) {
            *slot = rendered;
        }
    }
    Ok(out)
}

fn pointer_mut<'a>(value: &'a mut Value, location: &[PathSegment]) -> Option<&'a mut Value> {
    location
        .iter()
        .try_fold(value, |current, segment| match segment {
            PathSegment::Key(key) => current.as_object_mut()?.get_mut(key),
            PathSegment::Index(n) => current.as_array_mut()?.get_mut(*n),
        })
}

/// Whether a value counts as true for `when`: anything but null, false, 0, "", [] and {}.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A `when` condition: run the call only if the referenced value is truthy (or, with a leading
/// `!`, only if it is not).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// `true` for `"!$ID.path"`: run only if the value is falsy.
    pub negated: bool,
    /// The value tested.
    pub reference: Reference,
}

impl Condition {
    /// Parses `"$ID.path"` or `"!$ID.path"`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let (negated, rest) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if !rest.starts_with('$') {
            return Err(format!(
                "`{text}` is not a condition: write `$ID.path` (or `!$ID.path` to negate)"
            ));
        }
        Ok(Condition {
            negated,
            reference: Reference::parse(rest)?,
        })
    }

    /// Evaluates the condition on the referenced value.
    pub fn holds(&self, value: &Value) -> bool {
        is_truthy(value) != self.negated
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        write!(f, "{}", self.reference)
    }
}

#[cfg(test)]
mod tests;
