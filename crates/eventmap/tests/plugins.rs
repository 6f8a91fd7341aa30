//! Plug-in transforms: `.rhai` files a mapping lists under `transforms:`.

use std::path::{Path, PathBuf};

use eventmap::{Code, CompileOptions, EventContext, LoadError, Mapping, Outcome};
use serde_json::json;

const NOW: EventContext = EventContext { now_ms: 0 };

/// A fresh directory holding `files`; the mapping is loaded from it so that plug-in
/// paths resolve relative to the mapping, as they do for a user.
fn dir_with(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventmap-plugins-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn load(dir: &Path) -> Result<Mapping, String> {
    Mapping::from_file(dir.join("m.yaml"), &CompileOptions::default()).map_err(|e| e.to_string())
}

const PLUGIN: &str = r#"
/// Basket size bucket: "small" under 3 items, else "large".
/// Used by data.bucket.
fn bucket(items) {
    if items.len() < 3 { "small" } else { "large" }
}

/// Price with a markup in percent, in minor units of USD.
fn marked_up(price, percent) {
    minor_units(price * (100.0 + percent) / 100.0, "USD")
}

private fn helper() { 1 }

/// Fails on purpose for negative input.
fn checked(x) {
    if x < 0 {
        throw "negative input";
    }
    x
}
"#;

const MAPPING: &str = r#"
transforms: [plugins/basket.rhai]
default:
  keys:
    bucket: { from: properties.products, transform: bucket }
    marked: { from: properties.price, transform: { marked_up: 10 } }
    from_expr:
      expr: marked_up(p, 50) + 1
      inputs: { p: properties.price }
    checked: { from: properties.n, transform: checked }
"#;

#[test]
fn plugin_functions_are_transforms_and_expression_functions() {
    let dir = dir_with(
        "ok",
        &[("m.yaml", MAPPING), ("plugins/basket.rhai", PLUGIN)],
    );
    let mapping = load(&dir).expect("compiles");
    let event = json!({"properties": {"products": [1, 2, 3, 4], "price": 2.0, "n": 5}});
    let Outcome::Mapped(out) = mapping.map(&event, &NOW) else {
        panic!("not mapped");
    };
    assert_eq!(
        out,
        json!({"bucket": "large", "marked": 220, "from_expr": 301, "checked": 5})
    );

    // The listing shows each public function with its doc comment and place.
    let listed: Vec<_> = mapping
        .plugin_transforms()
        .iter()
        .map(|p| (p.name.as_str(), p.location.line, p.params.len()))
        .collect();
    assert_eq!(
        listed,
        [("bucket", 4, 1), ("marked_up", 9, 2), ("checked", 16, 1)]
    );
    assert_eq!(
        mapping.plugin_transforms()[0].doc,
        "Basket size bucket: \"small\" under 3 items, else \"large\".\nUsed by data.bucket."
    );
}

#[test]
fn a_failing_plugin_fails_only_its_event_naming_the_transform_and_line() {
    let dir = dir_with(
        "fail",
        &[("m.yaml", MAPPING), ("plugins/basket.rhai", PLUGIN)],
    );
    let mapping = load(&dir).expect("compiles");
    let bad = json!({"properties": {"n": -1, "price": 1.0}});
    let Outcome::Failed(errors) = mapping.map(&bad, &NOW) else {
        panic!("should fail");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "checked");
    let plugin_file = dir.join("plugins/basket.rhai").display().to_string();
    assert_eq!(
        errors[0].message,
        format!("checked: {plugin_file}:18:9: negative input")
    );
    // The next event maps.
    assert!(matches!(
        mapping.map(&json!({"properties": {"n": 1, "price": 1.0}}), &NOW),
        Outcome::Mapped(_)
    ));
}

#[test]
fn errors_in_plugin_files_are_located_in_the_file() {
    let dir = dir_with(
        "syntax",
        &[
            (
                "m.yaml",
                "transforms: [bad.rhai]\ndefault: { keys: { a: { from: a } } }\n",
            ),
            (
                "bad.rhai",
                "fn ok(v) { v }\n\nfn broken(v) {\n  v +* 2\n}\n",
            ),
        ],
    );
    let err = load(&dir).unwrap_err();
    let file = dir.join("bad.rhai").display().to_string();
    assert!(err.starts_with(&format!("{file}:4:")), "{err}");
    assert!(err.contains("Rhai syntax"), "{err}");
}

#[test]
fn clashes_with_builtins_and_other_plugins_name_both_places() {
    let dir = dir_with(
        "clash",
        &[
            (
                "m.yaml",
                "transforms: [a.rhai, b.rhai, missing.rhai]\ndefault: { keys: { x: { from: a } } }\n",
            ),
            ("a.rhai", "fn upper(v) { v }\nfn common(v) { v }\nfn nothing() { 1 }\n"),
            ("b.rhai", "\n  fn common(v) { v + 1 }\nfn twice(v) { v }\nfn twice(v, w) { w }\n"),
        ],
    );
    let a = dir.join("a.rhai").display().to_string();
    let b = dir.join("b.rhai").display().to_string();
    let m = dir.join("m.yaml").display().to_string();
    let diagnostics = match Mapping::from_file(dir.join("m.yaml"), &CompileOptions::default()) {
        Err(LoadError::Compile(err)) => err.diagnostics,
        other => panic!("expected compile errors, got {other:?}"),
    };
    let all = diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    // Every one is a plug-in error (E0116), at its own place.
    let found = |place: &str, says: &str| {
        diagnostics.iter().any(|d| {
            d.code == Code::Plugin && d.location.to_string() == place && d.message.contains(says)
        })
    };
    assert!(
        found(
            &format!("{a}:1:4"),
            "`upper` clashes with a built-in transform"
        ),
        "{all}"
    );
    assert!(
        found(
            &format!("{b}:2:6"),
            &format!("`common` is already defined at {a}:2:4")
        ),
        "{all}"
    );
    // Two definitions of one name are reported at their own lines.
    let (first, second) = (format!("{b}:3:4"), format!("{b}:4:4"));
    assert!(
        found(&second, &format!("`twice` is already defined at {first}"))
            || found(&first, &format!("`twice` is already defined at {second}")),
        "{all}"
    );
    assert!(
        found(&format!("{a}:3:4"), "`nothing` takes no parameters"),
        "{all}"
    );
    assert!(
        found(&format!("{m}:1:30"), "cannot read plug-in file"),
        "{all}"
    );
}

#[test]
fn plugins_run_under_the_sandbox_limits() {
    let dir = dir_with(
        "sandbox",
        &[
            (
                "m.yaml",
                "transforms: [loop.rhai]\ndefault: { keys: { x: { from: a, transform: spin } } }\n",
            ),
            ("loop.rhai", "fn spin(v) {\n  loop { v += 1; }\n}\n"),
        ],
    );
    let mapping = load(&dir).expect("compiles");
    let Outcome::Failed(errors) = mapping.map(&json!({"a": 1}), &NOW) else {
        panic!("should fail");
    };
    assert!(
        errors[0].message.contains("operation limit"),
        "{}",
        errors[0].message
    );
}

#[test]
fn closures_in_a_plugin_file_are_ordinary_rhai_not_transforms() {
    let dir = dir_with(
        "closures",
        &[
            (
                "plugins/c.rhai",
                "/// Every item priced above zero.\nfn all_positive(items) {\n    items.all(|c| c.price > 0)\n}\n\n/// Items priced above the limit given.\nfn count_above(items, limit) {\n    items.filter(|c| c.price > limit).len()\n}\n",
            ),
            (
                "m.yaml",
                "version: 1\ntransforms: [plugins/c.rhai]\ndefault:\n  keys:\n    ok: { from: products, transform: all_positive }\n    big: { from: products, transform: { count_above: 5 } }\n",
            ),
        ],
    );
    let mapping = load(&dir).expect("a file with closures compiles");
    let names: Vec<&str> = mapping
        .plugin_transforms()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["all_positive", "count_above"]);
    let event = json!({"type": "track", "products": [{"price": 3}, {"price": 9}]});
    match mapping.map(&event, &NOW) {
        Outcome::Mapped(out) => assert_eq!(out, json!({"ok": true, "big": 1})),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expressions_and_plugins_read_the_mappings_tables() {
    let dir = dir_with(
        "tables",
        &[
            (
                "plugins/t.rhai",
                "/// The CAPI type of an event name, from the mapping's table.\nfn capi_type(name) {\n    lookup(name, table(\"kinds\"), \"ignore_case\") ?? \"custom\"\n}\n",
            ),
            (
                "m.yaml",
                "version: 1\ntransforms: [plugins/t.rhai]\ntables:\n  kinds: { Order Completed: order_created }\ndefault:\n  keys:\n    by_plugin: { from: event, transform: capi_type }\n    by_expr: { expr: 'lookup(e, table(\"kinds\"))', inputs: { e: event } }\n",
            ),
        ],
    );
    let mapping = load(&dir).expect("compiles");
    let event = json!({"type": "track", "event": "order_completed"});
    match mapping.map(&event, &NOW) {
        Outcome::Mapped(out) => assert_eq!(out, json!({"by_plugin": "order_created"})),
        other => panic!("{other:?}"),
    }
    let event = json!({"type": "track", "event": "Order Completed"});
    match mapping.map(&event, &NOW) {
        Outcome::Mapped(out) => {
            assert_eq!(
                out,
                json!({"by_plugin": "order_created", "by_expr": "order_created"})
            )
        }
        other => panic!("{other:?}"),
    }
    // A table that does not exist: at its place in the expression.
    let dir = dir_with(
        "tables-unknown",
        &[(
            "m.yaml",
            "version: 1\ntables:\n  kinds: { a: b }\ndefault:\n  keys:\n    x: { expr: 'lookup(e, table(\"kind\"))', inputs: { e: event } }\n",
        )],
    );
    let err = load(&dir).err().unwrap_or_default();
    assert!(err.contains(":6:"), "{err}");
    assert!(
        err.contains("unknown table `kind` (did you mean `kinds`?)"),
        "{err}"
    );
}
