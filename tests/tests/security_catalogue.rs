//! docs/SECURITY.md's adversarial catalogue is kept honest: every row names a test that exists
//! in `tests/tests/<file>.rs` and asserts a specific error (and so, through the kit, that the
//! rejection changed nothing); there are at least 60; and every test asserting an error is in
//! the table.

use std::collections::BTreeSet;
use std::path::Path;

const ASSERTIONS: [&str; 4] =
    ["assert_rejected", "expect_margin_error", "expect_anchor_error", "expect_custom_code"];

/// Every `#[test]` function of a test file that asserts an error, by name.
fn negative_tests(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let lines = source.lines();
    let mut current: Option<String> = None;
    let mut is_test = false;
    for line in lines {
        if line.starts_with("#[test]") {
            is_test = true;
            continue;
        }
        if line.starts_with("#[ignore]") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("fn ") {
            current = is_test.then(|| rest.split('(').next().unwrap().to_string());
            is_test = false;
        }
        if let Some(name) = &current {
            if ASSERTIONS.iter().any(|a| line.contains(a)) {
                found.insert(name.clone());
            }
        }
    }
    found
}

#[test]
fn the_adversarial_catalogue_matches_the_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/SECURITY.md")).unwrap();
    let catalogue = doc.split("## Adversarial catalogue").nth(1).expect("the catalogue section");
    let rows: Vec<(String, String)> = catalogue
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| {
            let (name, class) = l.split_once("` |").expect("| `file::test` | class |");
            (name.to_string(), class.trim_end_matches('|').trim().to_string())
        })
        .collect();

    let mut suite = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("tests")).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_stem().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        for name in negative_tests(&source) {
            suite.insert(format!("{file}::{name}"));
        }
    }

    let mut listed = BTreeSet::new();
    for (name, class) in &rows {
        assert!(!class.is_empty(), "{name} has no attack class");
        assert!(suite.contains(name), "{name} is not a test that asserts an error");
        assert!(listed.insert(name.clone()), "{name} is listed twice");
    }
    let unlisted: Vec<_> = suite.difference(&listed).collect();
    println!(
        "adversarial catalogue: {} negative tests listed; {} in the suite; not listed: {unlisted:?}",
        listed.len(),
        suite.len()
    );
    assert!(listed.len() >= 60, "only {} negative tests", listed.len());
    assert!(unlisted.is_empty(), "negative tests missing from docs/SECURITY.md: {unlisted:?}");
}
