//! The winner's share of a vote with its interval, and whether it moved between two runs beyond
//! sampling noise. A run's N paths are N draws: 3 of 5 is 60% [23, 88], so a run with 2 of 5
//! says little against it. The share's interval is Wilson's over the paths that voted; the
//! change between two independent runs is Newcombe's hybrid score interval for the difference
//! of two proportions (his method 10, `stats::newcombe_unpaired`): the change is beyond
//! sampling noise when that interval leaves out zero.

use serde::Serialize;

use super::stats::{self, Interval};
use super::vote::Tally;

/// One answer's share of a run's vote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub votes: u32,
    /// Paths that voted (the no-answer bucket included).
    pub voted: u32,
    pub value: f64,
    /// Wilson's 95% interval.
    pub interval: Interval,
}

impl Share {
    /// `answer`'s share of `tally` (0 votes when it has none; `None` when nothing voted).
    pub fn of(tally: &Tally, answer: &str) -> Option<Share> {
        let votes = tally.entry(Some(answer)).map_or(0, |e| e.votes);
        let interval = stats::wilson(u64::from(votes), u64::from(tally.voted), stats::LEVEL)?;
        Some(Share {
            votes,
            voted: tally.voted,
            value: f64::from(votes) / f64::from(tally.voted),
            interval,
        })
    }

    /// "60% [23, 88]".
    pub fn describe(&self) -> String {
        format!(
            "{:.0}% [{:.0}, {:.0}]",
            self.value * 100.0,
            self.interval.low * 100.0,
            self.interval.high * 100.0
        )
    }
}

impl Tally {
    /// The winner's share with its interval (`None` without a winner).
    pub fn winner_share(&self) -> Option<Share> {
        Share::of(self, self.winner.as_deref()?)
    }
}

/// How one answer's share changed from one run to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareShift {
    /// The answer followed: the earlier run's winner (else the later one's).
    pub answer: String,
    /// Whether it wins both runs.
    pub still_winner: bool,
    pub before: Share,
    pub after: Share,
    /// `after − before`, with Newcombe's interval.
    pub diff: f64,
    pub interval: Interval,
    /// The interval leaves out zero.
    pub beyond_noise: bool,
}

/// How the earlier run's winner fared in the later run (`None` when neither run has a winner
/// or a run has no vote).
pub fn shift(before: &Tally, after: &Tally) -> Option<ShareShift> {
    let answer = before.winner.as_deref().or(after.winner.as_deref())?;
    let (b, a) = (Share::of(before, answer)?, Share::of(after, answer)?);
    let interval = stats::newcombe_unpaired(
        u64::from(b.votes),
        u64::from(b.voted),
        u64::from(a.votes),
        u64::from(a.voted),
        stats::LEVEL,
    )?;
    Some(ShareShift {
        answer: answer.to_string(),
        still_winner: before.winner == after.winner,
        diff: a.value - b.value,
        beyond_noise: !interval.contains(0.0),
        before: b,
        after: a,
        interval,
    })
}

impl ShareShift {
    /// "the winner's share moved from 60% [23, 88] to 40% [12, 77]: within sampling noise
    /// (Δ −20 points [−61, +28])"; when the answer lost, "the earlier winner 18's share …".
    pub fn describe(&self) -> String {
        let whose = if self.still_winner {
            "the winner's share".to_string()
        } else {
            format!(
                "the earlier winner {}'s share",
                super::display::visible(&self.answer)
            )
        };
        let moved = if self.diff == 0.0 {
            format!("stayed at {}", self.before.describe())
        } else {
            format!(
                "moved from {} to {}",
                self.before.describe(),
                self.after.describe()
            )
        };
        format!(
            "{whose} {moved}: {} (Δ {} points [{}, {}])",
            if self.beyond_noise {
                "beyond sampling noise"
            } else {
                "within sampling noise"
            },
            whole_points(self.diff),
            whole_points(self.interval.low),
            whole_points(self.interval.high)
        )
    }
}

/// A difference in whole points with its sign: "+20", "−61", "0".
fn whole_points(x: f64) -> String {
    match (x * 100.0).round() {
        v if v > 0.0 => format!("+{v:.0}"),
        v if v < 0.0 => format!("−{:.0}", -v),
        _ => "0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(answers: &[Option<&str>]) -> Tally {
        Tally::of_answers(answers)
    }

    #[test]
    fn the_winners_share_has_wilsons_interval_over_the_paths_that_voted() {
        let t = tally(&[Some("18"), Some("18"), Some("18"), Some("22"), None]);
        let s = t.winner_share().unwrap();
        assert_eq!((s.votes, s.voted, s.value), (3, 5, 0.6));
        // Wilson 95% for 3 of 5: [0.2307, 0.8824].
        assert!((s.interval.low - 0.2307).abs() < 1e-3, "{s:?}");
        assert!((s.interval.high - 0.8824).abs() < 1e-3, "{s:?}");
        assert_eq!(s.describe(), "60% [23, 88]");
        assert_eq!(tally(&[None, None]).winner_share(), None);
    }

    #[test]
    fn a_share_that_moves_on_a_few_paths_is_within_noise() {
        let before = tally(&[Some("18"), Some("18"), Some("18"), Some("7"), Some("9")]);
        let after = tally(&[Some("18"), Some("18"), Some("7"), Some("9"), Some("3")]);
        let s = shift(&before, &after).unwrap();
        assert!(s.still_winner && !s.beyond_noise);
        assert!((s.diff + 0.2).abs() < 1e-12);
        let line = s.describe();
        assert!(
            line.starts_with(
                "the winner's share moved from 60% [23, 88] to 40% [12, 77]: within sampling noise"
            ),
            "{line}"
        );
    }

    #[test]
    fn a_share_that_collapses_on_many_paths_is_beyond_noise() {
        let mut before = vec![Some("18"); 36];
        before.extend([Some("7"); 4]);
        let mut after = vec![Some("18"); 8];
        after.extend([Some("22"); 32]);
        let s = shift(&tally(&before), &tally(&after)).unwrap();
        assert!(s.beyond_noise && !s.still_winner);
        assert!(s.interval.high < 0.0);
        let line = s.describe();
        assert!(
            line.starts_with("the earlier winner 18's share moved from 90%"),
            "{line}"
        );
        assert!(line.contains("beyond sampling noise"), "{line}");
        let same = shift(&tally(&before), &tally(&before)).unwrap();
        assert!(same.describe().contains("stayed at 90%"));
        assert_eq!(shift(&tally(&[None]), &tally(&[None])), None);
    }
}
