//! Turning a path's token bytes into streamed text with stops matched on text, not tokens:
//! a base model writes "\n\nQ:" after a few-shot answer, and Gemma encodes "\n\n" as one token,
//! so a stop can begin or end inside a token. Text that might be the start of a stop is held
//! back until the next token decides; UTF-8 split across tokens is decoded correctly.

use encoding_rs::{Decoder, UTF_8};

pub struct TextSink {
    decoder: Decoder,
    text: String,
    emitted: usize,
    stops: Vec<String>,
    max_stop: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// New text to stream (may be empty while text is held back).
    Text(String),
    /// A stop string was reached: the last text before it; the path is done.
    Stopped(String),
}

impl TextSink {
    pub fn new(stops: &[String]) -> Self {
        let stops: Vec<String> = stops.iter().filter(|s| !s.is_empty()).cloned().collect();
        let max_stop = stops.iter().map(String::len).max().unwrap_or(0);
        TextSink {
            decoder: UTF_8.new_decoder_without_bom_handling(),
            text: String::new(),
            emitted: 0,
            stops,
            max_stop,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Pushed {
        let before = self.text.len();
        self.text.reserve(
            self.decoder
                .max_utf8_buffer_length(bytes.len())
                .unwrap_or(bytes.len() * 3),
        );
        let _ = self.decoder.decode_to_string(bytes, &mut self.text, false);
        if self.text.len() == before {
            return Pushed::Text(String::new());
        }
        let mut from = self.emitted.saturating_sub(self.max_stop);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let hit = self
            .stops
            .iter()
            .filter_map(|s| self.text[from..].find(s.as_str()).map(|p| from + p))
            .min();
        if let Some(at) = hit {
            let at = at.max(self.emitted);
            let out = self.text[self.emitted..at].to_string();
            self.text.truncate(at);
            self.emitted = at;
            return Pushed::Stopped(out);
        }
        let hold = self.held_suffix();
        let end = self.text.len() - hold;
        let out = self.text[self.emitted..end].to_string();
        self.emitted = end;
        Pushed::Text(out)
    }

    /// The text held back when the path ends without a stop.
    pub fn finish(&mut self) -> String {
        let out = self.text[self.emitted..].to_string();
        self.emitted = self.text.len();
        out
    }

    /// Length of the longest suffix of the unemitted text that is a proper prefix of a stop.
    fn held_suffix(&self) -> usize {
        let pending = &self.text[self.emitted..];
        let mut best = 0;
        for stop in &self.stops {
            for len in (1..stop.len().min(pending.len() + 1)).rev() {
                if len <= best {
                    break;
                }
                if stop.is_char_boundary(len) && pending.ends_with(&stop[..len]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stops() -> Vec<String> {
        vec!["\n\n".into(), "\nQ:".into()]
    }

    #[test]
    fn stop_inside_one_token_is_cut() {
        let mut s = TextSink::new(&stops());
        assert_eq!(
            s.push(b" The answer is 18."),
            Pushed::Text(" The answer is 18.".into())
        );
        assert_eq!(s.push(b"\n\n"), Pushed::Stopped(String::new()));
    }

    #[test]
    fn partial_stop_is_held_then_released() {
        let mut s = TextSink::new(&stops());
        assert_eq!(s.push(b"18\n"), Pushed::Text("18".into()));
        assert_eq!(s.push(b"So"), Pushed::Text("\nSo".into()));
        assert_eq!(s.push(b"\nQ"), Pushed::Text(String::new()));
        assert_eq!(s.push(b": next"), Pushed::Stopped(String::new()));
    }

    #[test]
    fn utf8_split_across_tokens() {
        let mut s = TextSink::new(&[]);
        let bytes = "é".as_bytes();
        assert_eq!(s.push(&bytes[..1]), Pushed::Text(String::new()));
        assert_eq!(s.push(&bytes[1..]), Pushed::Text("é".into()));
    }

    #[test]
    fn finish_releases_held_text() {
        let mut s = TextSink::new(&stops());
        assert_eq!(s.push(b"x\n"), Pushed::Text("x".into()));
        assert_eq!(s.finish(), "\n");
    }

    proptest! {
        #[test]
        fn streamed_text_equals_text_cut_at_first_stop(pieces in proptest::collection::vec("[ab\nQ:]{0,4}", 0..30)) {
            let all: String = pieces.concat();
            let want = crate::backend::cut_at_stop(&all, &stops()).0.to_string();
            let mut s = TextSink::new(&stops());
            let mut got = String::new();
            let mut stopped = false;
            for p in &pieces {
                match s.push(p.as_bytes()) {
                    Pushed::Text(t) => got.push_str(&t),
                    Pushed::Stopped(t) => { got.push_str(&t); stopped = true; break; }
                }
            }
            if !stopped {
                got.push_str(&s.finish());
            }
            prop_assert_eq!(got, want);
        }
    }
}
