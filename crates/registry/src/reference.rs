//! Image references (`registry/repository:tag@digest`) parsed without `oci-spec`'s parser.
//!
//! `oci_spec::distribution::Reference::from_str` compiles its grammar as a Unicode regex
//! (`\w` in the tag is every Unicode word character, repeated up to 128 times): about 20 MB
//! of heap on the first parse, kept for the whole process — most of `up`'s and `plan`'s peak
//! heap (measured with heaptrack, see docs/performance.md). The grammar is Docker's
//! (`distribution/reference`, Go, where `\w` is ASCII); here the same expression is compiled
//! ASCII-only (a few kilobytes) and the [`Reference`] is built from its parts, with the same
//! defaults (Docker Hub, `library/`, `latest`) and the same errors ([`ParseError`]).

use std::sync::OnceLock;

use oci_client::{ParseError, Reference};
use regex::{Regex, RegexBuilder};

/// `oci-spec`'s `REFERENCE_REGEXP` (name, tag, digest captured), matched ASCII-only.
const REFERENCE: &str = r"^((?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?/)?[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?)(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}))?$";

/// Longest repository name.
const NAME_MAX: usize = 255;
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
const OFFICIAL: &str = "library";
const DEFAULT_TAG: &str = "latest";

/// The compiled grammar; `None` if it does not compile (it does: a unit test pins it).
fn grammar() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| RegexBuilder::new(REFERENCE).unicode(false).build().ok())
        .as_ref()
}

/// Parses `s` as `oci-spec` would, into the same [`Reference`].
///
/// # Errors
/// The [`ParseError`] `oci-spec` gives for the same input.
pub(crate) fn parse(s: &str) -> Result<Reference, ParseError> {
    if s.is_empty() {
        return Err(ParseError::NameEmpty);
    }
    // A non-ASCII character cannot match the grammar.
    if !s.is_ascii() {
        return Err(ParseError::ReferenceInvalidFormat);
    }
    let captures = grammar()
        .and_then(|re| re.captures(s))
        .ok_or(ParseError::ReferenceInvalidFormat)?;
    let name = captures.get(1).map_or("", |m| m.as_str());
    let tag = captures.get(2).map(|m| m.as_str().to_string());
    let digest = captures.get(3).map(|m| m.as_str().to_string());
    let (registry, repository) = split_domain(name);
    if repository.len() > NAME_MAX {
        return Err(ParseError::NameTooLong);
    }
    if let Some(digest) = &digest {
        let expected = match digest.split_once(':') {
            None => return Err(ParseError::DigestInvalidFormat),
            Some(("sha256", hex)) => (hex, 64),
            Some(("sha384", hex)) => (hex, 96),
            Some(("sha512", hex)) => (hex, 128),
            Some(_) => return Err(ParseError::DigestUnsupported),
        };
        if expected.0.len() != expected.1 {
            return Err(ParseError::DigestInvalidLength);
        }
    }
    Ok(match (tag, digest) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag, digest)
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest),
        (tag, None) => Reference::with_tag(
            registry,
            repository,
            tag.unwrap_or_else(|| DEFAULT_TAG.to_string()),
        ),
    })
}

/// Docker's `splitDockerDomain`: the first component is a registry when it has a `.` or a
/// `:` or is `localhost`; otherwise Docker Hub, where a single component is `library/`'s.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((left, right)) if left.contains('.') || left.contains(':') || left == "localhost" => {
            (left.to_string(), right.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if domain == DOCKER_HUB_LEGACY {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !rest.contains('/') {
        rest = format!("{OFFICIAL}/{rest}");
    }
    (domain, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    /// Every input parses to what `oci-spec`'s own parser gives (the oracle), or fails with
    /// the same error.
    #[test]
    fn same_as_oci_spec() {
        let with_digest = format!("127.0.0.1:5000/up/airflow:1@{DIGEST}");
        let digest_only = format!("apache/airflow@{DIGEST}");
        let cases = [
            "busybox",
            "test.com:tag",
            "test.com:5000",
            "test.com/repo:tag",
            "test:5000/repo",
            "test:5000/repo:tag",
            "localhost/repo",
            "index.docker.io/airflow",
            "apache/airflow:3.1.0",
            "apache/airflow:3.1.0-python3.12",
            "127.0.0.1:5000/up/airflow:1",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/airflow:3.3.2",
            "registry.k8s.io/git-sync/git-sync:v4.4.0",
            with_digest.as_str(),
            digest_only.as_str(),
            "",
            "Uppercase/repo",
            "repo:",
            "repo@sha256:abc",
            "repo@md5:0123456789abcdef0123456789abcdef",
            "repo:tag with space",
            "répo:tag",
            ":tag",
        ];
        for input in cases {
            let ours = parse(input);
            let theirs = input.parse::<Reference>();
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.whole(), b.whole(), "{input}");
                    assert_eq!(a.registry(), b.registry(), "{input}");
                    assert_eq!(a.repository(), b.repository(), "{input}");
                    assert_eq!(a.tag(), b.tag(), "{input}");
                    assert_eq!(a.digest(), b.digest(), "{input}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{input}"),
                _ => panic!("{input}: ours {ours:?}, oci-spec {theirs:?}"),
            }
        }
    }

    /// A tag is ASCII in Docker's and the OCI distribution spec's grammar; `oci-spec`
    /// accepts any Unicode word character there, this parser does not.
    #[test]
    fn a_non_ascii_tag_is_refused() {
        assert_eq!(parse("repo:tåg"), Err(ParseError::ReferenceInvalidFormat));
    }

    #[test]
    fn the_grammar_compiles() {
        assert!(grammar().is_some());
    }
}
