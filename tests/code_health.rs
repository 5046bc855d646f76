//! Checks of the source's shape that anyone can run: no module imports back from a module that
//! imports it (directly or round a longer circle), and no function is longer than one can read
//! at once, flat `match`es aside. They read `src/` as text; nothing is compiled or run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest function body allowed, in lines (signature and closing brace included).
const MAX_FUNCTION_LINES: usize = 80;

/// A module's path below its crate's root (`["host", "wire"]`); the root itself is empty.
type ModulePath = Vec<String>;

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            source_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The module a file holds: `src/host/wire.rs` → `host::wire`, `src/host/mod.rs` → `host`.
fn module_of(src: &Path, file: &Path) -> ModulePath {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: ModulePath = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The text before the file's inline test module, if it has one.
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests {")
        .map_or(text, |at| &text[..at])
}

/// Every `use` statement's tree, as written (`super::wire::{Connection, Silence}`).
fn use_trees(text: &str) -> Vec<String> {
    let mut trees = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let line_start = rest[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = rest[line_start..at].trim();
        let statement_start = before.is_empty()
            || before == "pub"
            || (before.starts_with("pub(") && before.ends_with(')'));
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if statement_start {
            trees.push(after[..end].split_whitespace().collect::<Vec<_>>().join(""));
        }
        rest = &after[end.min(after.len())..];
    }
    trees
}

/// Expands `a::{b, c::{d}}` into `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let head = &tree[..open];
    let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (index, ch) in body.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(|part| expand(&format!("{head}{part}")))
        .collect()
}

/// The module a used path lands in, if it is one of this crate's: the longest known prefix.
fn target_of(path: &str, module: &ModulePath, known: &BTreeSet<ModulePath>) -> Option<ModulePath> {
    let path = path.split(" as ").next().unwrap_or(path);
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base = match segments.first().copied() {
        Some("crate") => Vec::new(),
        Some("self") => module.clone(),
        Some("super") => module.clone(),
        Some(first) => {
            let mut child = module.clone();
            child.push(first.to_owned());
            if !known.contains(&child) {
                return None;
            }
            segments.insert(0, "self");
            module.clone()
        }
        None => return None,
    };
    let mut rest = &segments[1..];
    if segments[0] == "super" {
        base.pop();
        while rest.first() == Some(&"super") {
            base.pop();
            rest = &rest[1..];
        }
    }
    let mut full = base;
    full.extend(rest.iter().map(|segment| (*segment).to_owned()));
    (0..=full.len())
        .rev()
        .map(|len| full[..len].to_vec())
        .find(|prefix| known.contains(prefix))
}

/// Which crate a module belongs to: the binary's (`main.rs` and `cli/`) or the library's.
fn crate_of(file: &Path, src: &Path) -> &'static str {
    let relative = file.strip_prefix(src).unwrap_or(file);
    if relative.starts_with("main.rs") || relative.starts_with("cli") {
        "bin"
    } else {
        "lib"
    }
}

/// Each module's imports of other modules of the same crate.
fn import_graph(
    src: &Path,
) -> std::io::Result<BTreeMap<(String, ModulePath), BTreeSet<ModulePath>>> {
    let mut files = Vec::new();
    source_files(src, &mut files)?;
    let mut known: BTreeMap<&'static str, BTreeSet<ModulePath>> = BTreeMap::new();
    for file in &files {
        known
            .entry(crate_of(file, src))
            .or_default()
            .insert(module_of(src, file));
    }
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let krate = crate_of(file, src);
        let text = std::fs::read_to_string(file)?;
        let targets: BTreeSet<ModulePath> = use_trees(without_tests(&text))
            .iter()
            .flat_map(|tree| expand(tree))
            .filter_map(|path| target_of(&path, &module, &known[krate]))
            .filter(|target| *target != module)
            .collect();
        graph.insert((krate.to_owned(), module), targets);
    }
    Ok(graph)
}

/// The import circles: for each module, the shortest way back to itself, if there is one.
fn circles(graph: &BTreeMap<(String, ModulePath), BTreeSet<ModulePath>>) -> Vec<String> {
    let mut found = Vec::new();
    for ((krate, start), _) in graph.iter() {
        let mut paths: Vec<Vec<ModulePath>> = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = (!paths.is_empty()).then(|| paths.remove(0)) {
            let Some(last) = path.last() else { continue };
            let key = (krate.clone(), last.clone());
            for next in graph.get(&key).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                    found.push(format!("{} -> {}", names.join(" -> "), start.join("::")));
                    paths.clear();
                    break;
                }
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    paths.push(longer);
                }
            }
        }
    }
    found
}

#[test]
fn no_module_imports_back_from_a_module_that_imports_it() -> std::io::Result<()> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src)?;
    assert!(
        graph.len() > 40,
        "the source tree was not read: {} modules",
        graph.len()
    );
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
    Ok(())
}

#[test]
fn an_import_circle_is_found() {
    let module = |name: &str| -> ModulePath { name.split("::").map(str::to_owned).collect() };
    let mut graph = BTreeMap::new();
    let lib = "lib".to_owned();
    graph.insert((lib.clone(), module("a")), BTreeSet::from([module("a::b")]));
    graph.insert((lib.clone(), module("a::b")), BTreeSet::from([module("a")]));
    graph.insert((lib, module("c")), BTreeSet::from([module("a")]));
    assert_eq!(circles(&graph), ["a -> a::b -> a", "a::b -> a -> a::b"]);
    let known = BTreeSet::from([module("host"), module("host::wire"), module("net")]);
    let host = module("host");
    let paths = expand("super::wire::{Connection,x::{Y}}");
    assert_eq!(paths, ["super::wire::Connection", "super::wire::x::Y"]);
    assert_eq!(
        target_of("super::wire::Connection", &module("host::session"), &known),
        Some(module("host::wire"))
    );
    assert_eq!(
        target_of("wire::Silence", &host, &known),
        Some(module("host::wire"))
    );
    assert_eq!(
        target_of("crate::net::LineReader", &host, &known),
        Some(module("net"))
    );
    assert_eq!(target_of("std::io", &host, &known), None);
}

/// A function's length in lines, and whether its body is one `match` (a flat table of cases).
struct Function {
    name: String,
    line: usize,
    lines: usize,
    one_match: bool,
}

/// The functions of one file, found by their `fn` line and the `}` at the same indentation.
fn functions(text: &str) -> Vec<Function> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let declaration = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("const ");
        let Some(rest) = declaration.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let closing = format!("{indent}}}");
        let Some(end) = (index..lines.len()).find(|&at| lines[at] == closing) else {
            continue;
        };
        let body_start = (index..end)
            .find(|&at| lines[at].trim_end().ends_with('{'))
            .map_or(index, |at| at + 1);
        let body: Vec<&str> = lines[body_start..end]
            .iter()
            .filter(|line| !line.trim().is_empty() && !line.trim().starts_with("//"))
            .copied()
            .collect();
        let one_match = flat_match(&body, &format!("{indent}    "));
        found.push(Function {
            name,
            line: index + 1,
            lines: end - index + 1,
            one_match,
        });
    }
    found
}

/// True if a body is mostly one `match` that ends it: a few lines of set-up at most, then a
/// table of cases.
fn flat_match(body: &[&str], indent: &str) -> bool {
    let Some(start) = body.iter().position(|line| {
        line.strip_prefix(indent)
            .is_some_and(|rest| rest.starts_with("match "))
    }) else {
        return false;
    };
    let ends_it = body
        .last()
        .is_some_and(|last| *last == format!("{indent}}}"));
    ends_it && start * 4 <= body.len()
}

#[test]
fn no_function_is_longer_than_one_can_read_at_once() -> std::io::Result<()> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files)?;
    let mut counted = 0;
    let mut too_long = Vec::new();
    for file in &files {
        for function in functions(&std::fs::read_to_string(file)?) {
            counted += 1;
            if function.lines > MAX_FUNCTION_LINES && !function.one_match {
                too_long.push(format!(
                    "{}:{} {} ({} lines)",
                    file.strip_prefix(&src).unwrap_or(file).display(),
                    function.line,
                    function.name,
                    function.lines
                ));
            }
        }
    }
    assert!(counted > 500, "only {counted} functions were found");
    assert!(
        too_long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines:\n{}",
        too_long.join("\n")
    );
    Ok(())
}

#[test]
fn long_functions_are_measured_and_flat_matches_recognised() {
    let long_body = "    let x = 1;\n".repeat(90);
    let text = format!(
        "fn short() {{\n    1\n}}\n\npub(super) fn long() {{\n{long_body}}}\n\n\
         fn table(x: u8) -> u8 {{\n    let y = x;\n    match y {{\n{}    }}\n}}\n",
        "        0 => 1,\n".repeat(90)
    );
    let found = functions(&text);
    let summary: Vec<(&str, usize, bool)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.lines, f.one_match))
        .collect();
    assert_eq!(
        summary,
        [
            ("short", 3, false),
            ("long", 92, false),
            ("table", 95, true)
        ]
    );
}
