//! `transforms:`: the mapping's plug-in files. Each public `fn` of a listed `.rhai` file
//! becomes a transform, registered before any key is compiled so that `transform:` lists
//! and expressions can use it.

use std::path::Path;
use std::sync::Arc;

use super::cx::Cx;
use crate::codes::Code;
use crate::diagnostics::Location;
use crate::script::engine::{SandboxLimits, ScriptEngine};
use crate::script::plugin::{PluginFile, PluginTransform};
use crate::transforms::Registry;
use crate::yaml::Node;

/// Loads, compiles and registers the plug-in files `node` lists (paths relative to the
/// directory of the mapping file). Returns what they define, in file order.
pub(super) fn load(cx: &mut Cx<'_>, node: &Node, limits: &SandboxLimits) -> Vec<PluginTransform> {
    let listed = cx.string_list(node, "`transforms`");
    if listed.is_empty() {
        return Vec::new();
    }
    // Plug-ins call the host's and built-in transforms, never each other across files:
    // their engine is built from the registry as the host gave it.
    let engine = Arc::new(ScriptEngine::new(
        cx.base_registry,
        cx.param_values.clone(),
        cx.script_tables.clone(),
        limits,
    ));
    let base_dir = Path::new(&*cx.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut defined: Vec<PluginTransform> = Vec::new();
    for (path, location) in listed {
        let shown: Arc<str> = Arc::from(base_dir.join(&path).display().to_string());
        let text = match std::fs::read_to_string(&*shown) {
            Ok(text) => text,
            Err(err) => {
                cx.error(
                    Code::Plugin,
                    &location,
                    format!("cannot read plug-in file `{shown}`: {err}"),
                );
                continue;
            }
        };
        let ast = match engine.compile_file(&text) {
            Ok(ast) => ast,
            Err((position, message)) => {
                let at = Location::new(
                    shown.clone(),
                    position.line().unwrap_or(1) as u32,
                    position.position().unwrap_or(1) as u32,
                );
                cx.error(Code::Plugin, &at, message);
                continue;
            }
        };
        let mut positions = fn_positions(&text);
        let mut found = Vec::new();
        for function in ast.iter_functions() {
            if function.access == rhai::FnAccess::Private {
                continue; // a helper of the file, not a transform
            }
            // A closure (`|c| c > 0`) is compiled to an anonymous function of the file:
            // part of the function that holds it, never a transform.
            if function.name.starts_with("anon$") {
                continue;
            }
            // Each position is used once, so two definitions of one name (overloads by
            // arity) are reported at their own lines.
            let (line, column) = positions
                .iter()
                .position(|(name, ..)| name == function.name)
                .map(|i| positions.remove(i))
                .map_or((1, 1), |(_, line, column)| (line, column));
            found.push(PluginTransform {
                name: function.name.to_string(),
                params: function.params.iter().map(|p| p.to_string()).collect(),
                doc: doc_text(&function.comments),
                location: Location::new(shown.clone(), line, column),
            });
        }
        // Rhai keeps functions by hash: list them in the order they are written.
        found.sort_by_key(|p| (p.location.line, p.location.column));
        let file = Arc::new(PluginFile {
            engine: engine.clone(),
            ast,
            file: shown.clone(),
        });
        for plugin in found {
            if register(cx, &defined, &plugin, &file) {
                defined.push(plugin);
            }
        }
    }
    defined
}

/// Registers one plug-in transform, or reports why it cannot be: it takes no value, or
/// its name is taken (naming both places).
fn register(
    cx: &mut Cx<'_>,
    defined: &[PluginTransform],
    plugin: &PluginTransform,
    file: &Arc<PluginFile>,
) -> bool {
    let at = &plugin.location;
    if plugin.params.is_empty() {
        cx.error(Code::Plugin,
            at,
            format!(
                "plug-in `{}` takes no parameters: a transform's first parameter is the value it transforms (make a helper `private fn`)",
                plugin.name
            ),
        );
        return false;
    }
    if let Some(earlier) = defined.iter().find(|d| d.name == plugin.name) {
        cx.error(
            Code::Plugin,
            at,
            format!(
                "plug-in transform `{}` is already defined at {}",
                plugin.name, earlier.location
            ),
        );
        return false;
    }
    if cx.base_registry.get(&plugin.name).is_some() {
        let owner = if Registry::with_builtins().get(&plugin.name).is_some() {
            "a built-in transform"
        } else {
            "a transform the host registered"
        };
        cx.error(
            Code::Plugin,
            at,
            format!(
                "plug-in transform `{}` clashes with {owner} of that name; rename the plug-in",
                plugin.name
            ),
        );
        return false;
    }
    if !crate::transforms::is_identifier(&plugin.name) {
        cx.error(
            Code::Plugin,
            at,
            format!("`{}` is not a transform name", plugin.name),
        );
        return false;
    }
    match cx.registry.add(plugin.transform(file.clone())) {
        Ok(()) => true,
        Err(err) => {
            cx.error(Code::Plugin, at, err.to_string());
            false
        }
    }
}

/// Where each `fn NAME(` starts (the position of NAME), found by reading the text: Rhai's
/// metadata does not carry positions.
fn fn_positions(text: &str) -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let rest = trimmed.strip_prefix("private ").unwrap_or(trimmed);
        let Some(after_fn) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name_start = after_fn.len() - after_fn.trim_start().len();
        let name: String = after_fn
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let prefix = line.len() - after_fn.len() + name_start;
        let column = line[..prefix].chars().count() as u32 + 1;
        out.push((name, index as u32 + 1, column));
    }
    out
}

/// A doc comment without its `///` or `/** */` leaders.
fn doc_text(comments: &[&str]) -> String {
    comments
        .iter()
        .flat_map(|c| c.lines())
        .map(|line| {
            let line = line.trim();
            let line = line
                .strip_prefix("///")
                .or_else(|| line.strip_prefix("/**"))
                .unwrap_or(line);
            let line = line.strip_suffix("*/").unwrap_or(line);
            line.strip_prefix('*').unwrap_or(line).trim()
        })
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_name_each_function() {
        let text = "/// doc\nfn first(v) { v }\n  private fn helper() { 1 }\nlet x = \"fn no\";\n";
        assert_eq!(
            fn_positions(text),
            [("first".to_string(), 2, 4), ("helper".to_string(), 3, 14)]
        );
    }

    #[test]
    fn doc_comments_lose_their_leaders() {
        assert_eq!(
            doc_text(&["/// Line one.\n/// Line two."]),
            "Line one.\nLine two."
        );
        assert_eq!(doc_text(&["/** Block\n * more */"]), "Block\nmore");
    }
}
