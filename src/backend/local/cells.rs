//! Which KV cells the model thread's prompts occupy, when prompts share prefixes.
//!
//! In llama.cpp's unified KV cache a cell belongs to a set of sequences; copying a sequence's
//! range to another adds the other to the same cells, and a cell is freed once no sequence
//! holds it. Each prompt evaluation writes one run of cells (a `Span`: positions
//! `start..end`, under an id of its own); a prompt evaluated on a reused prefix holds the
//! first part of its source's spans and one new span. A cell is in use while any holder (a
//! kept prompt, a job still decoding) reaches it, so a span uses the cells from its start to
//! the furthest end any holder of it reaches.

use std::collections::HashMap;

/// Cells one prompt evaluation wrote: positions `start..end`, under evaluation `seg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub seg: u64,
    pub start: u32,
    pub end: u32,
}

/// The spans of `spans` (a prompt's, in position order) below position `p`.
pub(super) fn clip(spans: &[Span], p: u32) -> Vec<Span> {
    spans
        .iter()
        .filter(|s| s.start < p)
        .map(|s| Span {
            end: s.end.min(p),
            ..*s
        })
        .collect()
}

/// Cells in use by all `holders` together (each a prompt's spans).
pub(super) fn used<'a>(holders: impl IntoIterator<Item = &'a [Span]>) -> u32 {
    let mut reach: HashMap<u64, (u32, u32)> = HashMap::new();
    for s in holders.into_iter().flatten() {
        let r = reach.entry(s.seg).or_insert((s.start, s.end));
        r.1 = r.1.max(s.end);
    }
    reach.values().map(|(start, end)| end - start).sum()
}

/// How many leading items `a` and `b` share.
pub(super) fn common_prefix<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Of the kept prompts `kept`, the one sharing the longest prefix with `tokens`, and how many
/// of its cells to reuse: all of an identical prompt (its logits are kept too), else at most
/// all but the last token, whose logits must be computed afresh. `None`: nothing to reuse.
pub(super) fn best_reuse<'a, T: PartialEq + 'a>(
    kept: impl IntoIterator<Item = &'a [T]>,
    tokens: &[T],
) -> Option<(usize, usize)> {
    let (at, shared, same) = kept
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let n = common_prefix(k, tokens);
            (i, n, n == k.len() && n == tokens.len())
        })
        // Longest first; of equals, an identical prompt, then the most recently used (first).
        .max_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)).then(b.0.cmp(&a.0)))?;
    let reuse = if same {
        shared
    } else {
        shared.min(tokens.len().saturating_sub(1))
    };
    (reuse > 0).then_some((at, reuse))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(seg: u64, start: u32, end: u32) -> Span {
        Span { seg, start, end }
    }

    #[test]
    fn shared_prefixes_are_counted_once() {
        // A 100-token prompt; a second reusing its first 80 and adding 30 of its own.
        let a = vec![span(1, 0, 100)];
        let b = [clip(&a, 80), vec![span(2, 80, 110)]].concat();
        assert_eq!(b, vec![span(1, 0, 80), span(2, 80, 110)]);
        assert_eq!(used([a.as_slice()]), 100);
        assert_eq!(used([a.as_slice(), b.as_slice()]), 130);
        // `a` forgotten: its cells past 80 are freed, the shared ones stay with `b`.
        assert_eq!(used([b.as_slice()]), 110);
        // A third built on `b`'s first 90: two spans of `b`, one new.
        let c = [clip(&b, 90), vec![span(3, 90, 95)]].concat();
        assert_eq!(used([b.as_slice(), c.as_slice()]), 115);
        assert_eq!(used([c.as_slice()]), 95);
        assert_eq!(used(std::iter::empty()), 0);
    }

    #[test]
    fn reuse_takes_the_longest_prefix_and_recomputes_the_last_token() {
        let kept: Vec<Vec<u8>> = vec![b"abcdef".to_vec(), b"abcxyz".to_vec(), b"q".to_vec()];
        let of = |t: &[u8]| best_reuse(kept.iter().map(Vec::as_slice), t);
        assert_eq!(of(b"abcdeg"), Some((0, 5)));
        assert_eq!(of(b"abcxy!"), Some((1, 5)));
        // Identical: every cell and the kept logits.
        assert_eq!(of(b"abcdef"), Some((0, 6)));
        // A strict prefix of a kept prompt: its last token is evaluated again for its logits.
        assert_eq!(of(b"abcd"), Some((0, 3)));
        assert_eq!(of(b"zzz"), None);
        assert_eq!(
            of(b"a"),
            None,
            "one token: nothing before the last to reuse"
        );
        // Of two equally long matches, the first (the most recently used).
        let twins: Vec<Vec<u8>> = vec![b"abX".to_vec(), b"abY".to_vec()];
        assert_eq!(
            best_reuse(twins.iter().map(Vec::as_slice), b"abZ"),
            Some((0, 2))
        );
        // An identical prompt wins over a longer one sharing as much.
        let both: Vec<Vec<u8>> = vec![b"abcd".to_vec(), b"abc".to_vec()];
        assert_eq!(
            best_reuse(both.iter().map(Vec::as_slice), b"abc"),
            Some((1, 3))
        );
    }
}
