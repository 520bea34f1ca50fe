//! Terminal escape sequences taken out of a model's text, so an answer is read from what a
//! terminal would show: `The answer is \x1b[31m18\x1b[0m.` reads "The answer is 18.".
//! (`display::visible` does the opposite job for showing text: it makes escapes visible.)

use std::borrow::Cow;

/// `text` without its escape sequences (ECMA-48): CSI (`ESC [` … final byte, or U+009B),
/// OSC, DCS, SOS, PM and APC strings (`ESC ]` …, ended by BEL or ST; unterminated, to the
/// end), other `ESC` sequences (`ESC ( B`, `ESC 7`), and the controls a terminal does not
/// print (C0 but line breaks, tabs and `\r`; DEL; C1; bidirectional overrides).
pub fn strip(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\u{1b}' || dropped(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => string(&mut chars),
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    // Intermediate bytes, then one final byte.
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                        .is_some()
                    {}
                    chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
                }
                // A two-character sequence (`ESC 7`, `ESC c`); a lone ESC at the end.
                _ => {}
            },
            '\u{9b}' => csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => string(&mut chars),
            c if dropped(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The rest of a CSI: parameter bytes, intermediate bytes, one final byte.
fn csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars
        .next_if(|c| ('\u{30}'..='\u{3f}').contains(c))
        .is_some()
    {}
    while chars
        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// The rest of a control string: up to BEL, `ESC \` or ST (U+009C), or the end.
fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

/// Characters a terminal acts on or hides rather than prints, dropped outright.
fn dropped(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequences_are_taken_out() {
        let cases = [
            ("plain 18.", "plain 18."),
            ("The answer is \x1b[31m18\x1b[0m.", "The answer is 18."),
            ("\x1b[1;38;5;196mbold\x1b[m", "bold"),
            ("\u{9b}31m18\u{9b}0m", "18"),
            ("\x1b]0;title\x07The answer is 7", "The answer is 7"),
            ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ 5", "link 5"),
            ("\x1bPq#0;2\x1b\\ok", "ok"),
            ("\x1b(Bx\x1b7y\x1bcz", "xyz"),
            ("a\u{7}b\u{202e}c\u{2066}d\u{7f}e", "abcde"),
            ("line\nnext\ttab\r", "line\nnext\ttab\r"),
            ("trailing \x1b", "trailing "),
            ("\x1b]0;never ended", ""),
            ("\x1b[", ""),
        ];
        for (text, want) in cases {
            assert_eq!(strip(text), want, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn no_escape_survives_and_nothing_panics(text in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f\\[\\]a-z0-9;]{0,40}") {
            let s = strip(&text);
            let left = s.chars().any(|c| c == '\u{1b}' || dropped(c));
            prop_assert!(!left, "a control survived in {:?}", s);
            prop_assert!(s.len() <= text.len());
        }
    }
}
