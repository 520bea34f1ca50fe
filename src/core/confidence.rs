//! How sure the model was of a path, token by token (DeepConf, Fu et al. 2025).
//!
//! A token's confidence is the negative mean log-probability of the top-k candidates at that
//! step (high when the model put nearly all its mass on one token). A path's confidence is its
//! bottom-10% group confidence: the mean over windows of `WINDOW` consecutive tokens, and of
//! those window means the lowest tenth (at least one) averaged, so a stretch where the model
//! hesitated pulls the path down even when the rest of it was fluent.

/// Tokens per window.
pub const WINDOW: usize = 16;
/// Share of the lowest windows averaged.
const BOTTOM: f64 = 0.1;
/// Candidates per token the confidence is taken over.
pub const TOP_K: usize = 5;

/// A token's confidence from the log-probabilities of its top candidates (`None` with fewer
/// than two: the chosen token alone says nothing of the alternatives).
pub fn token_confidence(top_logprobs: &[f64]) -> Option<f64> {
    let k = top_logprobs.len().min(TOP_K);
    (k >= 2).then(|| -top_logprobs[..k].iter().sum::<f64>() / k as f64)
}

/// Token confidences as they arrive; the path's confidence at the end.
#[derive(Debug, Clone, Default)]
pub struct Confidence {
    tokens: Vec<f32>,
}

impl Confidence {
    pub fn push(&mut self, c: f64) {
        self.tokens.push(c as f32);
    }

    /// The bottom-10% group confidence (`None` without tokens).
    pub fn finish(&self) -> Option<f64> {
        if self.tokens.is_empty() {
            return None;
        }
        let w = WINDOW.min(self.tokens.len());
        let mut sum: f64 = self.tokens[..w].iter().map(|&c| f64::from(c)).sum();
        let mut groups = vec![sum / w as f64];
        for i in w..self.tokens.len() {
            sum += f64::from(self.tokens[i]) - f64::from(self.tokens[i - w]);
            groups.push(sum / w as f64);
        }
        groups.sort_by(f64::total_cmp);
        let keep = ((groups.len() as f64 * BOTTOM).ceil() as usize).max(1);
        Some(groups[..keep].iter().sum::<f64>() / keep as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peaked_distribution_is_confident_and_a_flat_one_is_not() {
        let sure = token_confidence(&[-0.01, -8.0, -9.0, -10.0, -11.0]).unwrap();
        let unsure = token_confidence(&[-1.5, -1.6, -1.6, -1.7, -1.8]).unwrap();
        assert!(sure > unsure, "{sure} {unsure}");
        assert!((sure - 38.01 / 5.0).abs() < 1e-9);
        assert_eq!(token_confidence(&[-0.1]), None);
        // Only the top five count.
        assert_eq!(
            token_confidence(&[-1.0, -1.0, -1.0, -1.0, -1.0, -50.0]),
            Some(1.0)
        );
    }

    #[test]
    fn one_hesitant_stretch_lowers_the_path() {
        let mut fluent = Confidence::default();
        let mut hesitant = Confidence::default();
        for i in 0..100 {
            fluent.push(8.0);
            hesitant.push(if (40..56).contains(&i) { 1.0 } else { 8.0 });
        }
        assert_eq!(fluent.finish(), Some(8.0));
        let h = hesitant.finish().unwrap();
        // The lowest windows sit on the hesitant stretch.
        assert!(h < 2.0, "{h}");
        assert_eq!(Confidence::default().finish(), None);
        // Fewer tokens than a window: their mean.
        let mut short = Confidence::default();
        for c in [2.0, 4.0] {
            short.push(c);
        }
        assert_eq!(short.finish(), Some(3.0));
    }
}
