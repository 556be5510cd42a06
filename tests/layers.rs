//! The module layers of `docs/architecture.md`, checked: a module may use modules of its own
//! layer or below, never one above. Reads the source text (every `crate::<module>` path), so a
//! new upward import fails here before it becomes a cycle.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Layers from the bottom up. A module not listed fails the test (add it where it belongs).
const LAYERS: &[&[&str]] = &[
    // Leaf types and byte-exact formats: no knowledge of anything else.
    &[
        "credentials",
        "gofmt",
        "log",
        "random",
        "which",
        "prompt",
        "browser",
    ],
    // Parsing the config, the secret stores (and the in-memory one of the unit tests), MFA
    // sources, AWS clients.
    &[
        "config",
        "keyring",
        "agent",
        "test_keyring",
        "mfa",
        "aws",
        "iam",
    ],
    // Typed views over a keyring.
    &["store"],
    // The credential chain and its providers.
    &["creds"],
    // What delivers credentials: the child process, the local servers, the command cores.
    &["process", "server", "ops"],
    // The command line.
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/creds/sso.rs` -> `creds`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::<name>` the text refers to (also inside `use crate::{a, b::c}` groups).
fn referenced(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "{}: module {module} is in no layer",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in referenced(&text) {
            // Macros exported at the crate root (`crate::debug!`).
            if used == module || used == "debug" {
                continue;
            }
            match layer_of(&used) {
                Some(l) if l <= own => {}
                Some(_) => problems.push(format!(
                    "{}: {module} uses crate::{used}, which is in a higher layer",
                    file.display()
                )),
                None => problems.push(format!("{}: crate::{used} is in no layer", file.display())),
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_grouped_imports() {
    let found = referenced("use crate::{creds::chain, store};\nlet x = crate::aws::f();");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["aws", "creds", "store"]
    );
}
