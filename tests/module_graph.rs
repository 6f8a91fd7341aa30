//! No import circle between the files of any crate: each crate's files, read as the modules
//! they are, with an edge from a file to every module file it names (`use` paths, inline
//! `crate::`/`super::`/`self::` paths, and a child module's name), re-exports followed to
//! the file that defines the item. A circle makes every file in it part of every other
//! (none can be read, tested or moved alone), so the test fails naming each circle and the
//! edges that close it. Test code (`#[cfg(test)]` modules) is left out: tests may reach
//! anywhere.
//!
//! A small reader of Rust text rather than a parser crate: comments, strings and
//! character literals are blanked first, so only code is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type ModulePath = Vec<String>;

/// One crate's files: module path → the file's code (comments, strings and test modules
/// blanked) and its path relative to `src/`.
struct CrateFiles {
    code: BTreeMap<ModulePath, String>,
    relative: BTreeMap<ModulePath, String>,
}

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every crate directory under `crates/` that has sources, in name order.
fn crate_dirs() -> Vec<PathBuf> {
    let mut crates: Vec<PathBuf> = fs::read_dir(workspace().join("crates"))
        .expect("crates/ lists")
        .map(|entry| entry.expect("crates/ entry").path())
        .filter(|path| path.join("src").is_dir())
        .collect();
    crates.sort();
    crates
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut circles = Vec::new();
    let mut edges_read = 0;
    for krate in crate_dirs() {
        let src = krate.join("src");
        let files = read_crate(&src);
        let edges = module_edges(&files);
        edges_read += edges.values().map(BTreeSet::len).sum::<usize>();
        for circle in strongly_connected(&edges) {
            let crate_name = src
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy());
            let mut text = format!("{}: ", crate_name.unwrap_or_default());
            for module in &circle {
                let inside: Vec<&str> = edges[module]
                    .iter()
                    .filter(|to| circle.contains(*to))
                    .map(|to| files.relative[to].as_str())
                    .collect();
                text.push_str(&format!(
                    "\n  {} -> {}",
                    files.relative[module],
                    inside.join(", ")
                ));
            }
            circles.push(text);
        }
    }
    // A reader that read nothing would find no circle: the workspace has hundreds of edges.
    assert!(edges_read > 200, "only {edges_read} imports read");
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

/// The checker itself finds a circle, follows a re-export, and ignores comments, strings
/// and test modules.
#[test]
fn the_reader_sees_what_code_names_and_nothing_else() {
    let files = crate_of(&[
        ("lib.rs", "mod a; mod b; mod c; pub use c::Thing;"),
        (
            "a.rs",
            "use crate::b::f; // crate::c::x in a comment\nfn g() { \"crate::c\"; }",
        ),
        ("b.rs", "pub fn f() { crate::Thing::new(); }"),
        (
            "c.rs",
            "pub struct Thing; #[cfg(test)]\nmod tests { use crate::a::g; }",
        ),
    ]);
    let edges = module_edges(&files);
    let name = |path: &[&str]| path.iter().map(|s| s.to_string()).collect::<ModulePath>();
    assert_eq!(edges[&name(&["a"])], BTreeSet::from([name(&["b"])]));
    assert_eq!(edges[&name(&["b"])], BTreeSet::from([name(&["c"])]));
    assert!(edges[&name(&["c"])].is_empty());
    assert!(strongly_connected(&edges).is_empty());

    let circular = crate_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a/mod.rs", "mod inner; use inner::X; pub struct Y;"),
        ("a/inner.rs", "use super::Y; pub struct X;"),
        ("b.rs", ""),
    ]);
    let circles = strongly_connected(&module_edges(&circular));
    assert_eq!(
        circles,
        vec![BTreeSet::from([name(&["a"]), name(&["a", "inner"])])]
    );
}

fn crate_of(files: &[(&str, &str)]) -> CrateFiles {
    let mut crate_files = CrateFiles {
        code: BTreeMap::new(),
        relative: BTreeMap::new(),
    };
    for (relative, text) in files {
        let module = module_path(relative);
        crate_files
            .code
            .insert(module.clone(), without_tests(&blank_non_code(text)));
        crate_files.relative.insert(module, relative.to_string());
    }
    crate_files
}

fn read_crate(src: &Path) -> CrateFiles {
    let mut paths = Vec::new();
    collect_rs(src, &mut paths);
    let mut files = CrateFiles {
        code: BTreeMap::new(),
        relative: BTreeMap::new(),
    };
    for path in paths {
        let relative = path
            .strip_prefix(src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = fs::read_to_string(&path).expect("source reads");
        let module = module_path(&relative);
        files
            .code
            .insert(module.clone(), without_tests(&blank_non_code(&text)));
        files.relative.insert(module, relative);
    }
    // A file declared under `#[cfg(test)]` (`mod tests;`) is test code as a whole.
    let test_only: Vec<ModulePath> = files
        .code
        .keys()
        .filter(|module| {
            let Some((last, parent)) = module.split_last() else {
                return false;
            };
            files
                .code
                .get(parent)
                .is_some_and(|code| declared_for_tests(code, last))
        })
        .cloned()
        .collect();
    for module in test_only {
        files.code.remove(&module);
        files.relative.remove(&module);
    }
    files
}

fn collect_rs(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source folder lists") {
        let path = entry.expect("source entry").path();
        if path.is_dir() {
            collect_rs(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `lib.rs`/`main.rs` → the root, `a/mod.rs` and `a.rs` → `a`, `a/b.rs` → `a::b`.
fn module_path(relative: &str) -> ModulePath {
    let mut parts: Vec<String> = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main")
        || parts.last().is_some_and(|p| p == "mod")
    {
        parts.pop();
    }
    parts
}

/// The text with comments, string and character literals replaced by spaces (lines kept).
fn blank_non_code(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !is_ident(chars.get(i.wrapping_sub(1)).copied())
        {
            // A raw string: r"…", r#"…"#.
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                blank(&mut out, chars[j]);
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&inner) = chars.get(i) {
                    blank(&mut out, inner);
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{1F600}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Whether `code` declares `mod name;` under `#[cfg(test)]`.
fn declared_for_tests(code: &str, name: &str) -> bool {
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        rest = &rest[at + "#[cfg(test)]".len()..];
        let words: Vec<&str> = rest.split_whitespace().take(3).collect();
        let declared = match words.as_slice() {
            ["mod", declared, ..] | [_, "mod", declared] => *declared,
            _ => continue,
        };
        if declared == format!("{name};") {
            return true;
        }
    }
    false
}

/// The code without `#[cfg(test)]` inline modules.
fn without_tests(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let after = &out[at..];
        let Some(open) = after.find(['{', ';']) else {
            break;
        };
        let head = &after[..open];
        if !head.contains("mod ") || after.as_bytes()[open] == b';' {
            out.replace_range(at..at + "#[cfg(test)]".len(), "");
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (index, byte) in after.bytes().enumerate().skip(open) {
            match byte {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = index + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(at..at + end, "");
    }
    out
}

/// What one file names: every path it uses, absolute from the crate root, and the items
/// it re-exports (name → where from).
struct Names {
    paths: Vec<ModulePath>,
    exports: BTreeMap<String, ModulePath>,
}

fn names_of(module: &ModulePath, code: &str, files: &CrateFiles) -> Names {
    let mut names = Names {
        paths: Vec::new(),
        exports: BTreeMap::new(),
    };
    let children: BTreeSet<&str> = files
        .code
        .keys()
        .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
        .filter_map(|m| m.last().map(String::as_str))
        .collect();
    let absolute = |segments: &[String]| -> Option<ModulePath> {
        let first = segments.first()?;
        let mut path = match first.as_str() {
            "crate" | "$crate" => Vec::new(),
            "self" => module.clone(),
            "super" => {
                let mut base = module.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            child if children.contains(child) => {
                let mut base = module.clone();
                base.push(child.to_string());
                base
            }
            _ => return None,
        };
        path.extend(segments[1..].iter().cloned());
        Some(path)
    };

    for (exported, tree) in use_statements(code) {
        for (segments, alias) in expand_use_tree(&tree) {
            let Some(path) = absolute(&segments) else {
                continue;
            };
            if exported {
                if let Some(name) = alias.or_else(|| path.last().cloned()) {
                    names.exports.insert(name, path.clone());
                }
            }
            names.paths.push(path);
        }
    }
    for segments in inline_paths(code) {
        if let Some(path) = absolute(&segments) {
            names.paths.push(path);
        }
    }
    names
}

/// Each `use …;` of the code: whether it re-exports (`pub`, `pub(crate)`, …), and its tree.
fn use_statements(code: &str) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("use ").map(|a| a + from) {
        from = at + 4;
        if is_ident(code[..at].chars().next_back()) {
            continue;
        }
        let Some(end) = code[at..].find(';').map(|e| e + at) else {
            break;
        };
        found.push((is_public(&code[..at]), code[at + 4..end].to_string()));
        from = end;
    }
    found
}

/// Whether the code before an item ends with a visibility (`pub`, `pub(crate)`, …).
fn is_public(before: &str) -> bool {
    let before = before.trim_end();
    if before.ends_with("pub") {
        return true;
    }
    let Some(open) = before.rfind("pub(") else {
        return false;
    };
    let restriction = &before[open + 3..];
    restriction.ends_with(')') && !restriction.contains([';', '{', '}'])
}

/// `a::{b, c::{d as e, self}}` → `a::b`, `a::c::d` (alias `e`), `a::c`.
fn expand_use_tree(tree: &str) -> Vec<(ModulePath, Option<String>)> {
    let compact: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    expand_into(&compact, &[], &mut out);
    out
}

fn expand_into(tree: &str, prefix: &[String], out: &mut Vec<(ModulePath, Option<String>)>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let mut base = prefix.to_vec();
        base.extend(head);
        let close = tree.rfind('}').unwrap_or(tree.len());
        let body = &tree[open + 1..close.max(open + 1)];
        let mut depth = 0;
        let mut start = 0;
        for (index, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_into(&body[start..index], &base, out);
                    start = index + 1;
                }
                _ => {}
            }
        }
        expand_into(&body[start..], &base, out);
        return;
    }
    if tree.is_empty() {
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((path, alias)) => (path, Some(alias.trim().to_string())),
        None => (tree, None),
    };
    let mut segments = prefix.to_vec();
    for segment in path.split("::").map(str::trim).filter(|s| !s.is_empty()) {
        if segment != "self" || segments.is_empty() {
            segments.push(segment.to_string());
        }
    }
    if segments.last().is_some_and(|s| s == "*") {
        segments.pop();
    }
    out.push((segments, alias));
}

/// Paths written in code: an identifier followed by `::` and more identifiers.
fn inline_paths(code: &str) -> Vec<ModulePath> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = (chars[i].is_alphabetic() || chars[i] == '_' || chars[i] == '$')
            && !is_ident(i.checked_sub(1).map(|p| chars[p]));
        let after_colons = i >= 2 && chars[i - 1] == ':' && chars[i - 2] == ':';
        if !starts_word || after_colons {
            i += 1;
            continue;
        }
        let mut segments = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && (is_ident(Some(chars[j])) || (j == start && chars[j] == '$')) {
                j += 1;
            }
            segments.push(chars[start..j].iter().collect::<String>());
            if chars.get(j) == Some(&':')
                && chars.get(j + 1) == Some(&':')
                && is_ident(chars.get(j + 2).copied())
            {
                j += 2;
            } else {
                break;
            }
        }
        if segments.len() > 1 {
            found.push(segments);
        }
        i = j.max(i + 1);
    }
    found
}

/// For each file, the module files it names (itself left out).
fn module_edges(files: &CrateFiles) -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
    let names: BTreeMap<&ModulePath, Names> = files
        .code
        .iter()
        .map(|(module, code)| (module, names_of(module, code, files)))
        .collect();
    let resolve = |path: &ModulePath| -> Option<ModulePath> {
        let mut path = path.clone();
        for _ in 0..16 {
            let module = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|m| files.code.contains_key(m))?;
            let item = path.get(module.len());
            match item.and_then(|item| names[&module].exports.get(item)) {
                Some(origin) if origin != &path => {
                    let mut followed = origin.clone();
                    followed.extend(path[module.len() + 1..].iter().cloned());
                    path = followed;
                }
                _ => return Some(module),
            }
        }
        None
    };
    files
        .code
        .keys()
        .map(|module| {
            let targets = names[module]
                .paths
                .iter()
                .filter_map(&resolve)
                .filter(|target| target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// The circles of the graph (Tarjan's strongly connected components of more than one file).
fn strongly_connected(
    edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>,
) -> Vec<BTreeSet<ModulePath>> {
    struct Walk<'g> {
        edges: &'g BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'g ModulePath, usize>,
        low: BTreeMap<&'g ModulePath, usize>,
        stack: Vec<&'g ModulePath>,
        on_stack: BTreeSet<&'g ModulePath>,
        circles: Vec<BTreeSet<ModulePath>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g ModulePath) {
            let number = self.index.len();
            self.index.insert(node, number);
            self.low.insert(node, number);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in &self.edges[node] {
                let Some((next, _)) = self.edges.get_key_value(next) else {
                    continue;
                };
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.insert(member.clone());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.circles.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        circles: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.circles
}

/// No source file over 500 lines of code outside its tests, unless its opening comment
/// says why (`Over 500 lines: …`): a long file usually does two jobs.
#[test]
fn no_source_file_is_over_500_lines_outside_tests_without_a_reason() {
    let mut long = Vec::new();
    let mut read = 0;
    for krate in crate_dirs() {
        let src = krate.join("src");
        let mut paths = Vec::new();
        collect_rs(&src, &mut paths);
        for path in paths {
            // A file of tests alone (`mod tests;`) is test code.
            if path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = fs::read_to_string(&path).expect("source reads");
            read += 1;
            let code_lines = text
                .lines()
                .take_while(|line| !line.starts_with("#[cfg(test)]"))
                .count();
            let opening: String = text
                .lines()
                .take_while(|line| line.starts_with("//!"))
                .collect();
            if code_lines > 500 && !opening.contains("Over 500 lines:") {
                long.push(format!("{} ({code_lines} lines)", path.display()));
            }
        }
    }
    assert!(read > 100, "only {read} source files read");
    assert!(
        long.is_empty(),
        "files over 500 lines:\n{}",
        long.join("\n")
    );
}

/// docs/architecture.md's module index lists every source file of every crate with the
/// first sentence of its opening comment, so the index cannot fall behind the code.
/// `EVENTMAP_BLESS=1 cargo test -p eventmap-tests --test module_graph` rewrites it.
#[test]
fn the_architecture_page_lists_every_module() {
    const START: &str = "<!-- module index: written by tests/module_graph.rs -->\n";
    const END: &str = "<!-- end of module index -->";
    let workspace = workspace();
    let page_path = workspace.join("docs/architecture.md");
    let page = fs::read_to_string(&page_path).expect("docs/architecture.md");
    let index = module_index();
    let (Some(start), Some(end)) = (page.find(START), page.find(END)) else {
        panic!("docs/architecture.md has no module index markers");
    };
    let current = &page[start + START.len()..end];
    if current == index {
        return;
    }
    if std::env::var_os("EVENTMAP_BLESS").is_some() {
        let rewritten = format!("{}{START}{index}{}", &page[..start], &page[end..]);
        fs::write(&page_path, rewritten).expect("docs/architecture.md written");
        return;
    }
    panic!(
        "docs/architecture.md's module index is not the code's: run \
         `EVENTMAP_BLESS=1 cargo test -p eventmap-tests --test module_graph`, then read the diff"
    );
}

/// Per crate, a table of its source files and what each does.
fn module_index() -> String {
    let mut index = String::new();
    for krate in crate_dirs() {
        let name = krate.file_name().map(|n| n.to_string_lossy().to_string());
        index.push_str(&format!(
            "\n### `crates/{}`\n\n| file | what it does |\n|---|---|\n",
            name.unwrap_or_default()
        ));
        let src = krate.join("src");
        let mut paths = Vec::new();
        collect_rs(&src, &mut paths);
        paths.sort();
        for path in paths {
            let relative = path
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = fs::read_to_string(&path).expect("source reads");
            index.push_str(&format!("| `{relative}` | {} |\n", first_sentence(&text)));
        }
    }
    index.push('\n');
    index
}

/// The first sentence of a file's opening `//!` comment, on one line.
fn first_sentence(text: &str) -> String {
    let paragraph: Vec<&str> = text
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .map(|line| line.trim_start_matches("//!").trim())
        .take_while(|line| !line.is_empty())
        .collect();
    let joined = paragraph.join(" ");
    let end = joined
        .match_indices(". ")
        .map(|(at, _)| at + 1)
        .find(|&at| !joined[..at].ends_with("e.g.") && !joined[..at].ends_with("i.e."))
        .unwrap_or(joined.len());
    let sentence = joined[..end].replace('|', "\\|");
    if sentence.is_empty() {
        "(no opening comment)".to_string()
    } else {
        sentence
    }
}

/// docs/architecture.md's crate table names every dependency each crate's `Cargo.toml`
/// lists under `[dependencies]`.
#[test]
fn the_crate_table_names_every_dependency() {
    let workspace = workspace();
    let page = fs::read_to_string(workspace.join("docs/architecture.md")).expect("page");
    let mut manifests: Vec<(String, PathBuf)> = crate_dirs()
        .into_iter()
        .map(|path| {
            let name = format!(
                "crates/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            (name, path.join("Cargo.toml"))
        })
        .collect();
    manifests.push(("tests/".to_string(), workspace.join("tests/Cargo.toml")));
    let mut missing = Vec::new();
    for (name, manifest) in manifests {
        let row = page
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}`")))
            .unwrap_or_else(|| panic!("the crate table has no row for {name}"));
        let listed = row.rsplit('|').nth(1).unwrap_or_default();
        let listed: BTreeSet<&str> = listed
            .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .collect();
        let toml = fs::read_to_string(&manifest).expect("manifest");
        let dependencies = toml
            .split("\n[dependencies]\n")
            .nth(1)
            .map(|rest| rest.split("\n[").next().unwrap_or_default())
            .unwrap_or_default();
        for line in dependencies.lines() {
            let dependency = line
                .split(['=', '.', ' '])
                .next()
                .unwrap_or_default()
                .trim();
            if !dependency.is_empty()
                && !dependency.starts_with('#')
                && !listed.contains(dependency)
            {
                missing.push(format!("{name}: {dependency}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the crate table misses:\n{}",
        missing.join("\n")
    );
}
