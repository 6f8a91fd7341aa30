//! Compiling a broken mapping reports every error at its file:line:col, each with its
//! code (docs/errors.md). The tests hold the code, the place and the suggestion, not the
//! wording, so messages can improve without breaking them.

use eventmap::{Code, CompileOptions, Diagnostic, Mapping};

fn errors(yaml: &str) -> Vec<Diagnostic> {
    match Mapping::compile(yaml, "broken.yaml", &CompileOptions::default()) {
        Ok(_) => panic!("mapping compiled but should not have"),
        Err(err) => err.diagnostics,
    }
}

/// A diagnostic of `code` at `place` (`FILE:LINE:COL`) whose message contains `says`.
fn assert_has(errors: &[Diagnostic], code: Code, place: &str, says: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.code == code && e.location.to_string() == place && e.message.contains(says)),
        "missing diagnostic {code} at {place} saying {says:?}; got:\n  {}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

const BROKEN: &str = r#"version: 1
params:
  send_user_data: { default: true }
global:
  id: { from: messageId, requred: true }
  user.email_sha256: { from: traits.email, transform: sha265_email }
  source_url: { from: context..page.url }
  data: { const: {} }
  data.type: { const: contents }
  oppref: { from: x, const: y }
  user.city: context.city
  when_key: { const: 1, when: 'param("send_user_dta")' }
evnets: {}
events:
  order:
    match: { event: Order Completed, type: trak }
    keys:
      data.amount:
        expr: |
          let total = price * ;
          total
        inputs: { price: properties.price }
      data.currency:
        expr: upper(currency)
  purchase:
    match: { event: order_completed }
    keys:
      type: { const: order_created }
default:
  skip: nothing to do
"#;

#[test]
fn every_error_is_collected_with_its_location() {
    let errors = errors(BROKEN);
    use Code::*;
    let expected = [
        (
            UnknownField,
            "broken.yaml:5:26",
            "(did you mean `required`?)",
        ),
        (
            UnknownTransform,
            "broken.yaml:6:55",
            "(did you mean `sha256_email`?)",
        ),
        (InputPath, "broken.yaml:7:31", "empty segment"),
        (
            KeyConflict,
            "broken.yaml:9:3",
            "conflicts with `data` (line 8)",
        ),
        (KeySource, "broken.yaml:10:22", "both `from` and `const`"),
        (
            KeySource,
            "broken.yaml:11:14",
            "write `{ from: context.city }`",
        ),
        (
            UnknownParameter,
            "broken.yaml:12:38",
            "(did you mean `send_user_data`?)",
        ),
        (UnknownField, "broken.yaml:13:1", "(did you mean `events`?)"),
        (EventMatch, "broken.yaml:16:44", "(did you mean `track`?)"),
        // The `;` at line 20, column 31, inside the block scalar.
        (Expression, "broken.yaml:20:31", "Unexpected ';'"),
        (Expression, "broken.yaml:24:21", "`currency`"),
        (
            EventMatch,
            "broken.yaml:26:21",
            "already matched by event `order` (line 15)",
        ),
    ];
    for (code, place, says) in expected {
        assert_has(&errors, code, place, says);
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    // Errors come sorted by position, each once.
    let places: Vec<(u32, u32)> = errors
        .iter()
        .map(|e| (e.location.line, e.location.column))
        .collect();
    let mut sorted = places.clone();
    sorted.sort();
    assert_eq!(places, sorted);
    // Each is printed `FILE:LINE:COL: message [CODE]`.
    assert!(errors[0]
        .to_string()
        .starts_with("broken.yaml:5:26: unknown key `requred`"));
    assert!(errors[0].to_string().ends_with(" [E0101]"), "{}", errors[0]);
}

#[test]
fn yaml_syntax_errors_are_located() {
    let errors = errors("global:\n  id: { from: messageId\n  x: 1\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, Code::YamlSyntax, "{}", errors[0]);
    assert_eq!(errors[0].location.line, 3, "{}", errors[0]);
}

#[test]
fn duplicate_output_keys_are_reported() {
    let errors = errors("events:\n  a:\n    keys:\n      id: { from: x }\n      id: { from: y }\n");
    assert_has(&errors, Code::YamlSyntax, "broken.yaml:5:7", "duplicate");
}

#[test]
fn transform_arity_and_shape_are_checked() {
    let errors = errors(
        "events:\n  a:\n    keys:\n      x: { from: a, transform: { minor_units: [USD, EUR] } }\n      y: { from: a, transform: [trim, 5] }\n",
    );
    assert_has(
        &errors,
        Code::TransformArguments,
        "broken.yaml:4:34",
        "given 2",
    );
    assert_has(
        &errors,
        Code::TransformArguments,
        "broken.yaml:5:39",
        "found a number",
    );
}

#[test]
fn missing_sources_and_sections_are_reported() {
    let errors = errors("global:\n  id: { required: true }\n");
    assert_has(
        &errors,
        Code::KeySource,
        "broken.yaml:2:3",
        "`id` has no source",
    );
    assert_has(
        &errors,
        Code::EventMatch,
        "broken.yaml:1:1",
        "no `events` and no `default`",
    );
}

#[test]
fn required_parameters_without_value_are_reported() {
    let yaml = "params:\n  api_key: { default: \"${EVENTMAP_TEST_SURELY_UNSET}\", required: true }\ndefault: { skip: x }\n";
    let options = CompileOptions {
        env: std::sync::Arc::new(|_| None),
        ..CompileOptions::default()
    };
    let err = Mapping::compile(yaml, "p.yaml", &options).unwrap_err();
    assert_has(
        &err.diagnostics,
        Code::ParameterValue,
        "p.yaml:2:3",
        "`--param api_key=VALUE` or the environment variable EVENTMAP_PARAM_API_KEY",
    );
}

#[test]
fn unknown_given_parameters_are_reported() {
    let yaml = "params:\n  send_user_data: true\ndefault: { skip: x }\n";
    let mut options = CompileOptions::default();
    options
        .params
        .insert("send_user_dat".into(), "false".into());
    let err = Mapping::compile(yaml, "p.yaml", &options).unwrap_err();
    assert_has(
        &err.diagnostics,
        Code::UnknownParameter,
        "p.yaml:2:3",
        "(did you mean `send_user_data`?)",
    );
    let mut options = CompileOptions::default();
    options
        .params
        .insert("send_user_data".into(), "perhaps".into());
    let err = Mapping::compile(yaml, "p.yaml", &options).unwrap_err();
    assert!(
        err.diagnostics[0]
            .message
            .contains("expected true or false"),
        "{err}"
    );
}

#[test]
fn the_bundled_mappings_compile() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            Mapping::from_file(&path, &CompileOptions::default())
                .unwrap_or_else(|e| panic!("{} does not compile:\n{e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 1, "no mapping found in {dir}");
}
