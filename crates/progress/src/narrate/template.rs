//! Sentence templates with `{placeholder}`s, checked when the phrasebook is built.

use crate::error::ProgressError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(String),
}

/// A parsed template: text and named slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, which may use the placeholders `allowed` and must use `required`.
    /// `{{` and `}}` stand for literal braces.
    pub(crate) fn parse(
        name: &'static str,
        text: &str,
        allowed: &[&'static str],
        required: Option<&'static str>,
    ) -> Result<Template, ProgressError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find(['{', '}']) {
            literal.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if let Some(after) = tail.strip_prefix('}') {
                literal.push('}');
                rest = after;
            } else {
                let Some(close) = tail.find('}') else {
                    return Err(ProgressError::UnclosedBrace {
                        template: name,
                        text: text.to_owned(),
                    });
                };
                let slot = &tail[1..close];
                if !allowed.contains(&slot) {
                    return Err(ProgressError::UnknownPlaceholder {
                        template: name,
                        placeholder: slot.to_owned(),
                        allowed: if allowed.is_empty() {
                            "none".to_owned()
                        } else {
                            allowed
                                .iter()
                                .map(|a| format!("`{{{a}}}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    });
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Slot(slot.to_owned()));
                rest = &tail[close + 1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        if let Some(required) = required
            && !pieces
                .iter()
                .any(|p| matches!(p, Piece::Slot(s) if s == required))
        {
            return Err(ProgressError::MissingPlaceholder {
                template: name,
                placeholder: required,
                text: text.to_owned(),
            });
        }
        Ok(Template { pieces })
    }

    /// A template of plain text, no slot.
    pub(crate) fn literal(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Text(text.to_owned())],
        }
    }

    /// The template with every slot filled by `value` (one value: each template has one slot).
    pub(crate) fn fill(&self, value: &str) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Slot(_) => out.push_str(value),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fills_and_checks() {
        for (text, value, expected) in [
            ("Let me {actions}.", "go", Ok("Let me go.".to_owned())),
            ("{actions}", "go", Ok("go".to_owned())),
            ("{{literal}} {actions}", "go", Ok("{literal} go".to_owned())),
            ("a } b {actions}", "go", Ok("a } b go".to_owned())),
            (
                "Let me {action}.",
                "go",
                Err(
                    "template `t` uses `{action}`, which it does not know; it may use `{actions}`"
                        .to_owned(),
                ),
            ),
            (
                "Let me go.",
                "go",
                Err("template `t` must contain `{actions}`: \"Let me go.\"".to_owned()),
            ),
            (
                "Let me {actions",
                "go",
                Err("template `t` has an unclosed `{`: \"Let me {actions\"".to_owned()),
            ),
        ] {
            let got = Template::parse("t", text, &["actions"], Some("actions"))
                .map(|t| t.fill(value))
                .map_err(|e| e.to_string());
            assert_eq!(got, expected, "{text:?}");
        }
        let err = Template::parse("done", "All {x}.", &[], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template `done` uses `{x}`, which it does not know; it may use none"
        );
    }
}
