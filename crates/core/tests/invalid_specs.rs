//! The corpus of broken specs (`tests/fixtures/invalid-specs/*.toml`): each file names the
//! rule it breaks on its first line (`# expect: RULE`) and marks the line the finding must
//! point at with `# <-`. Every case must fail with that rule, as an error, at that line; no
//! message may carry a control character.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use orchestrate_core::escape::is_unsafe;
use orchestrate_core::spec::load::{LoadError, Origin, parse_with_env};
use orchestrate_core::validate::{Severity, validate};

/// One broken spec.
struct Case {
    file: PathBuf,
    rule: String,
    line: usize,
    text: String,
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/invalid-specs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("fixture reads");
            let rule = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| {
                    panic!("{}: first line must be `# expect: RULE`", file.display())
                })
                .trim()
                .to_string();
            let marked: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.ends_with("# <-"))
                .map(|(i, _)| i + 1)
                .collect();
            assert_eq!(
                marked.len(),
                1,
                "{}: mark exactly one line with `# <-`",
                file.display()
            );
            Case {
                file,
                rule,
                line: marked[0],
                text,
            }
        })
        .collect()
}

fn clean(text: &str) -> bool {
    !text.chars().any(|c| is_unsafe(c) && c != '\n')
}

#[test]
fn every_broken_spec_fails_with_its_rule_at_its_line() {
    let cases = corpus();
    assert!(cases.len() >= 60, "the corpus holds {} cases", cases.len());
    let rules: BTreeSet<&str> = cases.iter().map(|c| c.rule.as_str()).collect();
    assert!(rules.len() >= 45, "the corpus covers {} rules", rules.len());
    for case in &cases {
        let name = case.file.display();
        let path = Path::new("orchestrate.toml");
        match parse_with_env(path, case.text.clone(), &BTreeMap::new()) {
            Err(LoadError::Parse {
                origin,
                message,
                fix,
            }) => {
                assert_eq!(case.rule, "spec-schema", "{name}: parse error {message}");
                match origin {
                    Origin::File { line, .. } => assert_eq!(line, case.line, "{name}: {message}"),
                    other => panic!("{name}: parse error at {other}"),
                }
                assert!(clean(&message) && clean(&fix), "{name}: {message}");
            }
            Err(other) => panic!("{name}: {other}"),
            Ok(loaded) => {
                let findings = validate(&loaded.spec);
                for f in &findings {
                    assert!(
                        clean(&f.to_string()),
                        "{name}: raw control character in {f}"
                    );
                }
                let at: Vec<(String, Option<usize>)> = findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| {
                        let line = match loaded.origin(&f.path) {
                            Origin::File { line, .. } => Some(line),
                            _ => None,
                        };
                        (f.rule.to_string(), line)
                    })
                    .collect();
                assert!(
                    at.contains(&(case.rule.clone(), Some(case.line))),
                    "{name}: expected [rule: {}] at line {}, got {at:?}",
                    case.rule,
                    case.line
                );
                let finding = findings
                    .iter()
                    .find(|f| f.rule == case.rule)
                    .expect("found above");
                assert!(
                    !finding.fix.is_empty() && !finding.message.is_empty(),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn a_value_in_the_wrong_place_is_not_quoted_back() {
    let text = "[deployment]\nname = \"demo\"\nregion = \"us-east-1\"\n[components.worker]\nmemory = \"hunter2-secret\"\n";
    let err = parse_with_env(Path::new("o.toml"), text.into(), &BTreeMap::new())
        .expect_err("a string is not a memory size");
    let shown = err.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("o.toml:5:"), "{shown}");
    assert!(shown.contains("invalid type"), "{shown}");
}

#[test]
fn control_characters_in_keys_are_escaped_in_parse_errors() {
    let text =
        "[deployment]\nname = \"demo\"\nregion = \"us-east-1\"\n\"\\u001b]0;pwned\\u0007\" = 1\n";
    let err = parse_with_env(Path::new("o.toml"), text.into(), &BTreeMap::new())
        .expect_err("unknown key");
    let shown = err.to_string();
    assert!(clean(&shown), "{shown:?}");
    assert!(shown.contains("\\u{1b}"), "{shown}");
}
