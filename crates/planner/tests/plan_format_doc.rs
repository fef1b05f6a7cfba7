#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test

//! Every example of `docs/plan-format.md` is a test: a `json plan` block must produce the
//! `json summary` that follows it, and a `json invalid` block exactly the `text errors` that
//! follow it.

use volley_planner::{InputFormat, Planner, parse_and_plan, render::Summary};

struct Block {
    info: String,
    body: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                current = Some(Block {
                    info: info.trim().to_owned(),
                    body: String::new(),
                    line: n + 1,
                })
            }
            (Some(_), Some("")) => out.extend(current.take()),
            (Some(block), _) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "an unclosed code block");
    out
}

#[test]
fn every_example_in_plan_format_md_holds() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plan-format.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let blocks = blocks(&doc);
    let mut checked = 0;
    let mut i = 0;
    while i < blocks.len() {
        let block = &blocks[i];
        let next = blocks.get(i + 1);
        match block.info.as_str() {
            "json plan" => {
                let expected = next
                    .filter(|b| b.info == "json summary")
                    .unwrap_or_else(|| {
                        panic!(
                            "line {}: a `json plan` block must be followed by a `json summary`",
                            block.line
                        )
                    });
                let (plan, dag) = parse_and_plan(&block.body, InputFormat::Auto, &Planner::new())
                    .unwrap_or_else(|e| {
                        panic!("line {}: the example is invalid:\n{e}", block.line)
                    });
                let actual = serde_json::to_value(Summary::new(&plan, &dag)).unwrap();
                let expected: serde_json::Value = serde_json::from_str(&expected.body).unwrap();
                assert_eq!(
                    actual, expected,
                    "summary of the plan at line {}",
                    block.line
                );
                checked += 1;
                i += 2;
            }
            "json invalid" => {
                let expected = next.filter(|b| b.info == "text errors").unwrap_or_else(|| {
                    panic!(
                        "line {}: a `json invalid` block must be followed by `text errors`",
                        block.line
                    )
                });
                let errors = parse_and_plan(&block.body, InputFormat::Auto, &Planner::new())
                    .err()
                    .unwrap_or_else(|| panic!("line {}: the example is valid", block.line));
                let actual: Vec<String> = errors.iter().map(ToString::to_string).collect();
                let expected: Vec<&str> = expected.body.lines().collect();
                assert_eq!(
                    actual, expected,
                    "errors of the plan at line {}",
                    block.line
                );
                checked += 1;
                i += 2;
            }
            other if other.starts_with("json") => {
                panic!(
                    "line {}: a `{other}` block is not checked; use `json plan` or `json invalid`",
                    block.line
                )
            }
            _ => i += 1,
        }
    }
    assert!(checked >= 10, "only {checked} examples found");
}
