//! Compiling a broken mapping reports every error at its file:line:col.

use eventmap::{CompileOptions, Mapping};

fn errors(yaml: &str) -> Vec<String> {
    match Mapping::compile(yaml, "broken.yaml", &CompileOptions::default()) {
        Ok(_) => panic!("mapping compiled but should not have"),
        Err(err) => err.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn assert_has(errors: &[String], expected: &str) {
    assert!(
        errors.iter().any(|e| e == expected),
        "missing diagnostic:\n  {expected}\ngot:\n  {}",
        errors.join("\n  ")
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
    assert_has(&errors, "broken.yaml:5:26: unknown key `requred` in output key `id` (did you mean `required`?); expected one of: from, const, param, expr, each, keys, inputs, transform, default, required, when, on_error, type, description, except");
    assert_has(
        &errors,
        "broken.yaml:6:55: unknown transform `sha265_email` (did you mean `sha256_email`?)",
    );
    assert_has(
        &errors,
        "broken.yaml:7:31: empty segment in input path `context..page.url`",
    );
    assert_has(&errors, "broken.yaml:9:3: output key `data.type` conflicts with `data` (line 8): a key cannot hold both a value and nested keys");
    assert_has(
        &errors,
        "broken.yaml:10:22: output key `oppref` has both `from` and `const`; keep one source",
    );
    assert_has(&errors, "broken.yaml:11:14: output key `user.city` needs a rule mapping, found a string: write `{ from: context.city }` to read an input path or `{ const: context.city }` for a constant");
    assert_has(&errors, "broken.yaml:12:38: unknown parameter `send_user_dta` (did you mean `send_user_data`?); declare it under `params:`");
    assert_has(&errors, "broken.yaml:13:1: unknown key `evnets` in the mapping file (did you mean `events`?); expected one of: version, name, description, destination, params, filters, global, events, default, test_mode, validate, tables, transforms, let");
    assert_has(&errors, "broken.yaml:16:44: unknown call type `trak` (did you mean `track`?); expected one of: track, page, screen, identify, group, alias");
    assert_has(&errors, "broken.yaml:24:21: expression uses `currency`, which is not one of its inputs (declare it under `inputs:`)");
    assert_has(&errors, "broken.yaml:26:21: event name `order_completed` is already matched by event `order` (line 15)");
    // The `;` at line 20, column 31, inside the block scalar.
    assert_has(&errors, "broken.yaml:20:31: Rhai syntax: Unexpected ';'");
    assert_eq!(errors.len(), 12, "{errors:#?}");
    // Errors come sorted by position, each once.
    let mut sorted = errors.clone();
    sorted.sort_by_key(|e| {
        let mut parts = e.split(':').skip(1);
        let line: u32 = parts.next().unwrap().parse().unwrap();
        let col: u32 = parts.next().unwrap().parse().unwrap();
        (line, col)
    });
    assert_eq!(errors, sorted);
}

#[test]
fn yaml_syntax_errors_are_located() {
    let errors = errors("global:\n  id: { from: messageId\n  x: 1\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("broken.yaml:3:"), "{}", errors[0]);
    assert!(errors[0].contains("YAML syntax"), "{}", errors[0]);
}

#[test]
fn duplicate_output_keys_are_reported() {
    let errors = errors("events:\n  a:\n    keys:\n      id: { from: x }\n      id: { from: y }\n");
    assert!(errors[0].starts_with("broken.yaml:5:7:"), "{errors:?}");
    assert!(errors[0].contains("duplicate"), "{errors:?}");
}

#[test]
fn transform_arity_and_shape_are_checked() {
    let errors = errors(
        "events:\n  a:\n    keys:\n      x: { from: a, transform: { minor_units: [USD, EUR] } }\n      y: { from: a, transform: [trim, 5] }\n",
    );
    assert_has(
        &errors,
        "broken.yaml:4:34: transform `minor_units` takes 1 argument(s), given 2",
    );
    assert_has(
        &errors,
        "broken.yaml:5:39: a transform is a name or `{ name: argument }`, found a number",
    );
}

#[test]
fn missing_sources_and_sections_are_reported() {
    let errors = errors("global:\n  id: { required: true }\n");
    assert_has(&errors, "broken.yaml:2:3: output key `id` has no source: give one of `from`, `const`, `param`, `expr` or `each`");
    assert_has(
        &errors,
        "broken.yaml:1:1: the mapping has no `events` and no `default`: no event would be mapped",
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
    assert_eq!(
        err.diagnostics[0].to_string(),
        "p.yaml:2:3: parameter `api_key` is required but has no value: set it with `--param api_key=VALUE` or the environment variable EVENTMAP_PARAM_API_KEY"
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
    assert_eq!(
        err.diagnostics[0].to_string(),
        "p.yaml:2:3: parameter `send_user_dat` was given a value, but the mapping declares no such parameter (did you mean `send_user_data`?)"
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
