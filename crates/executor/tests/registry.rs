#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! The registry: names, schemas, listing and restriction.

use serde_json::json;
use volley_executor::testing::ScriptedTool;
use volley_executor::{Registry, RegistryError, ToolSpec};

#[test]
fn registration_refuses_bad_names_duplicates_and_bad_schemas() {
    let mut registry = Registry::new();
    registry.register(ScriptedTool::new("search")).unwrap();
    for (tool, expected) in [
        (
            ScriptedTool::new("search"),
            RegistryError::Duplicate {
                name: "search".into(),
            },
        ),
        (
            ScriptedTool::new("has space"),
            RegistryError::InvalidName {
                name: "has space".into(),
            },
        ),
        (
            ScriptedTool::new(""),
            RegistryError::InvalidName {
                name: String::new(),
            },
        ),
    ] {
        assert_eq!(registry.register(tool).unwrap_err(), expected);
    }
    let err = registry
        .register(ScriptedTool::new("bad_schema").schema(json!({"type": 12})))
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::InvalidSchema { name, .. } if name == "bad_schema"),
        "{err}"
    );
    assert_eq!(registry.len(), 1);
}

#[test]
fn the_list_is_what_a_model_needs_and_restrictions_copy() {
    let mut registry = Registry::new();
    let schema = json!({"type": "object", "properties": {"q": {"type": "string"}}});
    registry
        .register(ScriptedTool::new("search").schema(schema.clone()))
        .unwrap()
        .register(ScriptedTool::new("write_file"))
        .unwrap()
        .register(ScriptedTool::new("read_file"))
        .unwrap();
    assert_eq!(
        registry.list()[0],
        ToolSpec {
            name: "search".into(),
            description: "scripted tool `search`".into(),
            input_schema: schema,
        }
    );
    assert_eq!(
        registry.filtered(&["read_file", "search", "nope"]).names(),
        ["search", "read_file"]
    );
    assert_eq!(
        registry.without("write_file").names(),
        ["search", "read_file"]
    );
    assert_eq!(registry.names().len(), 3, "restrictions are copies");
    assert!(registry.get("search").is_some() && registry.get("nope").is_none());
    assert_eq!(registry.closest("writefile"), ["write_file"]);
    let json = serde_json::to_value(registry.list()).unwrap();
    assert_eq!(json[1]["name"], "write_file");
}
