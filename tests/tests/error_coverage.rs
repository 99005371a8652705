//! Every named error of the program is expected by some test, or listed in docs/SECURITY.md
//! ("Errors no test expects") with the reason (issue 23). A source check: a test expects an
//! error when its code names it (`expect_margin_error`, `assert_rejected`, `Err(..)` or a table
//! of cases), in `tests/tests/`, the test kit's helpers or the test modules of the program and
//! the apps. The campaign
//! prints the errors it reaches itself (`CM_CAMPAIGN_REASONS`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("target") && !path.ends_with("node_modules") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The variants of `MarginError`, in declaration order.
fn variants() -> Vec<String> {
    let source = fs::read_to_string(root().join("programs/cross_margin/src/error.rs")).unwrap();
    let body = &source[source.find("pub enum MarginError").expect("the enum")..];
    body.lines()
        .skip(1)
        .take_while(|l| l.trim() != "}")
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with("//") && l.ends_with(','))
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(|l| l.trim_end_matches(',').to_string())
        .collect()
}

/// The text of every test: `tests/tests/*.rs` but this file, the test kit's helpers in
/// `tests/src/`, and from the first `#[cfg(test)]` on (or whole `tests.rs` files) in the
/// program and the apps.
fn test_text() -> String {
    let root = root();
    let mut text = String::new();
    for entry in fs::read_dir(root.join("tests/tests")).unwrap().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n != "error_coverage.rs") {
            text += &fs::read_to_string(&path).unwrap();
        }
    }
    // The test kit's helpers (not the campaign, whose lists say what it allows, not expects).
    for entry in fs::read_dir(root.join("tests/src")).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "rs") {
            text += &fs::read_to_string(entry.path()).unwrap();
        }
    }
    let mut files = vec![];
    rust_files(&root.join("programs/cross_margin/src"), &mut files);
    rust_files(&root.join("app"), &mut files);
    for path in files {
        let source = fs::read_to_string(&path).unwrap();
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            text += &source;
        } else if let Some(at) = source.find("#[cfg(test)]") {
            text += &source[at..];
        }
    }
    text
}

/// The names listed under docs/SECURITY.md's "Errors no test expects" heading (`- \`Name\``).
fn listed() -> BTreeSet<String> {
    let doc = fs::read_to_string(root().join("docs/SECURITY.md")).unwrap();
    let at = doc.find("#### Errors no test expects").expect("the section");
    doc[at..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split('`').next())
        .map(String::from)
        .collect()
}

#[test]
fn every_margin_error_is_expected_by_a_test_or_listed() {
    let (variants, text, listed) = (variants(), test_text(), listed());
    assert!(variants.len() > 100, "parsed only {} variants", variants.len());
    let expected = |v: &String| text.contains(&format!("MarginError::{v}"));
    let missing: Vec<_> =
        variants.iter().filter(|v| !expected(v) && !listed.contains(*v)).collect();
    assert!(missing.is_empty(), "no test expects {missing:?}, nor does docs/SECURITY.md list them");
    let stale: Vec<_> = listed.iter().filter(|v| !variants.contains(v) || expected(v)).collect();
    assert!(
        stale.is_empty(),
        "docs/SECURITY.md lists {stale:?}, which a test now expects (or gone)"
    );
}
