//! What a variant's answers cost beside their accuracy, the same figures in every face's
//! evaluation table and in `--json`: the prompt tokens a query sends (every sample and call of
//! an item: a specialist needs no examples), the time an item takes, and for a specialist what
//! making it took (`Making`: training time and the adapter file's size, which
//! `engine::cost::making` reads from the store's records).

use serde::Serialize;

use crate::core::record::PathRecord;

/// Column names of `Cost::cells`.
pub const COSTS: [&str; 4] = ["prompt/q", "s/item", "training", "adapter"];

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Prompt tokens of an item's samples and calls together, averaged over the items sampled.
    pub prompt_tokens_per_query: f64,
    /// The variant's wall time over its items.
    pub seconds_per_item: f64,
    /// How long making the specialist took (an adapter or a server's fine-tuned model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training_seconds: Option<f64>,
    /// The adapter file's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter_bytes: Option<u64>,
}

/// What the store knows of how a specialist was made.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Making {
    pub training_seconds: Option<f64>,
    pub adapter_bytes: Option<u64>,
}

impl Cost {
    /// From each item's paths (none: an item never sampled) and the variant's wall time.
    pub fn of<'a, P>(per_item: impl IntoIterator<Item = P>, elapsed_ms: u64, making: Making) -> Cost
    where
        P: IntoIterator<Item = &'a PathRecord>,
    {
        let (mut all, mut items, mut prompt) = (0usize, 0usize, 0u64);
        for paths in per_item {
            all += 1;
            let (n, tokens) = paths.into_iter().fold((0usize, 0u64), |(n, t), p| {
                (n + 1, t + u64::from(p.usage().prompt_tokens))
            });
            if n > 0 {
                items += 1;
                prompt += tokens;
            }
        }
        Cost {
            prompt_tokens_per_query: if items == 0 {
                0.0
            } else {
                prompt as f64 / items as f64
            },
            seconds_per_item: elapsed_ms as f64 / 1000.0 / all.max(1) as f64,
            training_seconds: making.training_seconds,
            adapter_bytes: making.adapter_bytes,
        }
    }

    /// The cells of `COSTS` ("-" where a figure does not apply).
    pub fn cells(&self) -> [String; 4] {
        [
            format!("{:.0}", self.prompt_tokens_per_query),
            format!("{:.2}s", self.seconds_per_item),
            self.training_seconds.map_or("-".into(), duration),
            self.adapter_bytes
                .map_or("-".into(), crate::core::display::megabytes),
        ]
    }
}

/// "42s", "3m05s", "2h10m".
fn duration(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Stage;
    use crate::core::record::StageRecord;

    fn item(prompts: &[u32]) -> Vec<PathRecord> {
        prompts
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                let mut p = PathRecord::new(k);
                p.stages = vec![StageRecord {
                    prompt_tokens: t,
                    completion_tokens: 3,
                    ..StageRecord::new(Stage::Answer, "1")
                }];
                p
            })
            .collect()
    }

    fn of(items: &[Vec<PathRecord>], making: Making) -> Cost {
        Cost::of(items.iter().map(|i| i.iter()), 6000, making)
    }

    #[test]
    fn a_query_costs_all_its_samples_prompts_and_unsampled_items_do_not_count() {
        // Two items of two samples (100 + 100, 40 + 60 prompt tokens), one never sampled.
        let items = [item(&[100, 100]), item(&[40, 60]), item(&[])];
        let c = of(&items, Making::default());
        assert_eq!(c.prompt_tokens_per_query, 150.0);
        assert_eq!(c.seconds_per_item, 2.0);
        assert_eq!(c.cells(), ["150", "2.00s", "-", "-"].map(String::from));
        let made = of(
            &items,
            Making {
                training_seconds: Some(185.0),
                adapter_bytes: Some(3_200_000),
            },
        );
        assert_eq!(
            made.cells()[2..],
            ["3m05s".to_string(), "3.2 MB".to_string()]
        );
        assert_eq!(of(&[], Making::default()).prompt_tokens_per_query, 0.0);
        assert_eq!(duration(7300.0), "2h01m");
    }
}
