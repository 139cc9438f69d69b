//! Escaping user-supplied text before it reaches a terminal.
//!
//! A spec value may hold control characters (an ESC sequence retitles or recolours a
//! terminal) or bidirectional overrides (which reorder what a reader sees). Every message that
//! quotes a user value passes it through [`escape_control`], which writes such characters as
//! `\u{1b}`; everything else is kept as is.

use std::borrow::Cow;

/// True for characters that must not reach a terminal raw: C0 and C1 controls (newline and
/// tab included), DEL, and the Unicode bidirectional embedding, override and isolate marks.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [`is_unsafe`] character written as a `\u{..}` escape.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi_marks_only() {
        assert_eq!(escape_control("plain é ✓"), "plain é ✓");
        assert_eq!(
            escape_control("a\u{1b}]0;pwned\u{7}b"),
            "a\\u{1b}]0;pwned\\u{7}b"
        );
        assert_eq!(escape_control("x\ny\tz"), "x\\u{a}y\\u{9}z");
        assert_eq!(escape_control("\u{202e}abc"), "\\u{202e}abc");
        assert_eq!(escape_control("\u{9b}31m"), "\\u{9b}31m");
    }
}
