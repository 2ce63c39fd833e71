//! Dependencies point one way: each library module imports only modules below it in
//! [`LAYERS`]. An upward import fails here, naming the file and the line.

use std::path::Path;

/// The library's modules, lowest first; a module may use any module before it.
const LAYERS: &[&[&str]] = &[
    &[
        "reference",
        "clock",
        "secret",
        "settings",
        "format",
        "private_file",
        "parallel",
        "dirs",
        "net",
        "sample",
        "models",
    ],
    &["config"],
    &["data"],
    &["tools"],
    &["flow"],
    &["context"],
    &["llm"],
    &["memory"],
    &["step_output"],
    &["cache"],
    &["engine"],
    &["history"],
    &["session"],
    &["eval"],
    &["tui"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/architecture.rs"))
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn library_modules_import_only_what_lies_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        // The binary (main.rs, cli/) and the crate root may use anything.
        if ["main", "lib", "cli"].contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("crate::") {
                let used: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if used.is_empty() || used == module {
                    continue;
                }
                if layer(&used) > layer(&module) {
                    upward.push(format!("{}:{}: `{module}` uses `{used}`", relative.display(), n + 1));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports pointing up:\n{}", upward.join("\n"));
}
