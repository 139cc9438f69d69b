//! Rule `airflow-version-supported`: the spec's Airflow version lies in the range the task
//! definition renderer (`crates/airflow`) was checked against.
//!
//! Every environment variable, command and health check the renderer emits was checked
//! against the installed package of each release in the range (see `docs/airflow.md`); the
//! newest, [`DEFAULT_AIRFLOW_VERSION`], is also started for real in CI
//! (`scripts/airflow-check/`). A version outside the range may have renamed or removed a
//! configuration key or CLI command, so it is refused rather than deployed on hope.
//! A version that is not 3.x at all is reported by rule `airflow-version` instead.

use super::Findings;
use crate::spec::{DEFAULT_AIRFLOW_VERSION, Spec};

/// Oldest supported Airflow release `(major, minor, patch)`, inclusive.
pub const MIN_SUPPORTED: (u32, u32, u32) = (3, 1, 0);
/// First release line that is not supported any more `(major, minor)`: 3.4 is unreleased and
/// unchecked.
pub const FIRST_UNSUPPORTED_MINOR: (u32, u32) = (3, 4);

/// The supported range as people write it: `>= 3.1.0, < 3.4` .
pub fn supported_range() -> String {
    let (a, b, c) = MIN_SUPPORTED;
    let (x, y) = FIRST_UNSUPPORTED_MINOR;
    format!(">= {a}.{b}.{c}, < {x}.{y}")
}

/// `3.3.2` -> `(3, 3, 2)`; a missing patch is 0. Pre-release or local suffixes
/// (`3.3.0rc1`, `3.3.2+build`) are not versions the renderer was checked against: `None`.
pub fn parse(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.trim().split('.');
    let number = |p: Option<&str>| -> Option<u32> {
        let p = p?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    let patch = match parts.next() {
        Some(p) => number(Some(p))?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// True when the renderer supports `version`.
pub fn is_supported(version: &str) -> bool {
    parse(version).is_some_and(|(major, minor, patch)| {
        (major, minor, patch) >= MIN_SUPPORTED && (major, minor) < FIRST_UNSUPPORTED_MINOR
    })
}

/// Adds an error when `image.airflow_version` is 3.x but outside the supported range.
pub(super) fn check(spec: &Spec, f: &mut Findings) {
    let version = spec.image.airflow_version.trim();
    if !version.starts_with("3.") || is_supported(version) {
        return;
    }
    f.error(
        "airflow-version-supported",
        "image.airflow_version",
        format!(
            "Airflow '{version}' is outside the supported range {}",
            supported_range()
        ),
        format!(
            "use a release in {} (the default is {DEFAULT_AIRFLOW_VERSION}); set image.tag to an image of that version",
            supported_range()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_numbers_only() {
        assert_eq!(parse("3.3.2"), Some((3, 3, 2)));
        assert_eq!(parse("3.2"), Some((3, 2, 0)));
        assert_eq!(parse("3.3.0rc1"), None);
        assert_eq!(parse("3.3.2.1"), None);
        assert_eq!(parse("3..1"), None);
        assert_eq!(parse("latest"), None);
    }

    #[test]
    fn range_is_3_1_0_to_3_3_x() {
        for ok in [
            "3.1.0",
            "3.1.8",
            "3.2.2",
            "3.3.0",
            "3.3.2",
            DEFAULT_AIRFLOW_VERSION,
        ] {
            assert!(is_supported(ok), "{ok}");
        }
        for bad in [
            "3.0.6", "3.0.0", "3.4.0", "4.0.0", "2.10.5", "3.3.0rc1", "3.x",
        ] {
            assert!(!is_supported(bad), "{bad}");
        }
        assert_eq!(supported_range(), ">= 3.1.0, < 3.4");
    }

    #[test]
    fn finding_names_the_range() {
        let mut spec = Spec::minimal("demo", "us-east-1");
        for (version, expected) in [("3.0.6", true), ("3.4.0", true), ("3.3.2", false)] {
            spec.image.airflow_version = version.into();
            let mut f = Findings(Vec::new());
            check(&spec, &mut f);
            assert_eq!(f.0.len(), usize::from(expected), "{version}: {:?}", f.0);
            if let Some(finding) = f.0.first() {
                assert_eq!(finding.rule, "airflow-version-supported");
                assert_eq!(finding.path, "image.airflow_version");
                assert!(finding.message.contains(">= 3.1.0, < 3.4"), "{finding}");
                assert!(finding.message.contains(version), "{finding}");
            }
        }
        // Not 3.x at all: rule `airflow-version` reports it, this one stays quiet.
        spec.image.airflow_version = "2.10.5".into();
        let mut f = Findings(Vec::new());
        check(&spec, &mut f);
        assert!(f.0.is_empty());
    }
}
