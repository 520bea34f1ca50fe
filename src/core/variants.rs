//! Variants of a template for side-by-side evaluation: `KEY=V1,V2` flags, their grid (every
//! combination), and applying one combination to a template.

use thiserror::Error;

use super::settings::Key;
use super::spec::error::SpecError;
use super::spec::template::Template;

/// What is wrong with a `--vary` flag.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum VaryError {
    #[error("--vary {0}: expected KEY=V1,V2")]
    Form(String),
    #[error("--vary: unknown key `{key}` (one of {keys})")]
    UnknownKey { key: String, keys: String },
    #[error("--vary {0}: a quote is not closed")]
    OpenQuote(String),
    #[error("--vary {0}: no values")]
    NoValues(String),
    #[error("--vary {flag}: `{value}` is given twice")]
    GivenTwice { flag: String, value: String },
    #[error("--vary: `{0}` is varied twice; give its values in one flag")]
    VariedTwice(String),
    #[error("--vary {key}={value}: {source}")]
    Apply {
        key: String,
        value: String,
        source: SpecError,
    },
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<VaryError> for String {
    fn from(e: VaryError) -> String {
        e.to_string()
    }
}

/// The keys `--vary` takes: the settings table's, and the backend's `model` and `lora`.
fn keys() -> Vec<&'static str> {
    Key::ALL
        .into_iter()
        .filter(|k| k.varies())
        .map(Key::name)
        .chain(["model", "lora"])
        .collect()
}

/// `KEY=V1,V2` flags as (key, values), in the order given.
pub fn parse_vary(flags: &[String]) -> Result<Vec<(String, Vec<String>)>, VaryError> {
    flags
        .iter()
        .map(|f| {
            let (k, vs) = f
                .split_once('=')
                .ok_or_else(|| VaryError::Form(f.clone()))?;
            let k = k.trim().replace('-', "_");
            if !keys().contains(&k.as_str()) {
                return Err(VaryError::UnknownKey {
                    key: k,
                    keys: keys().join(", "),
                });
            }
            let values = split_values(vs).ok_or_else(|| VaryError::OpenQuote(f.clone()))?;
            if values.is_empty() {
                return Err(VaryError::NoValues(f.clone()));
            }
            if let Some(v) = values
                .iter()
                .enumerate()
                .find_map(|(i, v)| values[..i].contains(v).then_some(v))
            {
                return Err(VaryError::GivenTwice {
                    flag: f.clone(),
                    value: v.clone(),
                });
            }
            Ok((k, values))
        })
        .collect::<Result<Vec<_>, VaryError>>()
        .and_then(|vary| {
            match vary
                .iter()
                .enumerate()
                .find(|(i, (k, _))| vary[..*i].iter().any(|(k2, _)| k2 == k))
            {
                Some((_, (k, _))) => Err(VaryError::VariedTwice(k.clone())),
                None => Ok(vary),
            }
        })
}

/// Comma-separated values; a value in double quotes may hold commas
/// (`instruction="Be brief, be right.",none`). `None` when a quote is not closed.
fn split_values(vs: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in vs.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                let v = cur.trim().to_string();
                if !v.is_empty() || was_quoted {
                    out.push(v);
                }
                cur.clear();
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    let v = cur.trim().to_string();
    if !v.is_empty() || was_quoted {
        out.push(v);
    }
    Some(out)
}

/// Every combination of the varied values.
pub fn grid(vary: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![vec![]];
    for (k, vs) in vary {
        out = out
            .into_iter()
            .flat_map(|combo| {
                vs.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.push((k.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

pub fn apply(t: &mut Template, key: &str, value: &str) -> Result<(), VaryError> {
    let bad = |source| VaryError::Apply {
        key: key.to_string(),
        value: value.to_string(),
        source,
    };
    // "model" and "lora" pick the backend.
    if let Some(k) = Key::named(key).filter(|k| k.varies()) {
        k.set(t, value).map_err(bad)?;
    }
    t.validate().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_the_cartesian_product() {
        let v = parse_vary(&["strategy=direct,cot".into(), "n=1,5,10".into()]).unwrap();
        let g = grid(&v);
        assert_eq!(g.len(), 6);
        assert_eq!(
            g[0],
            vec![
                ("strategy".into(), "direct".into()),
                ("n".into(), "1".into())
            ]
        );
        assert!(parse_vary(&["colour=red".into()]).is_err());
        assert!(parse_vary(&["n".into()]).is_err());
        assert!(
            parse_vary(&["n=1,1".into()]).is_err(),
            "a duplicate variant"
        );
        assert!(parse_vary(&["n=1".into(), "n=2".into()]).is_err());
        let v = parse_vary(&[r#"instruction="Be brief, be right.",none"#.into()]).unwrap();
        assert_eq!(v[0].1, ["Be brief, be right.", "none"]);
        assert!(parse_vary(&[r#"instruction="open"#.into()]).is_err());
    }

    #[test]
    fn vary_values_are_checked() {
        let (fresh, _) = crate::store::template::resolve("gsm8k-cot").unwrap();
        assert!(apply(&mut fresh.clone(), "n", "0").is_err());
        let mut t = fresh.clone();
        apply(&mut t, "shots", "2").unwrap();
        assert_eq!(t.active_examples().count(), 2);
        assert!(apply(&mut t, "shots", "99").is_err());
        assert!(apply(&mut t, "strategy", "sideways").is_err());
        apply(&mut t, "strict", "true").unwrap();
        assert!(t.answer.strict);
        assert!(apply(&mut t, "strict", "yes").is_err());
        assert!(
            apply(&mut t.clone(), "calibrate", "content-free").is_err(),
            "a number answer has no options to score"
        );
        apply(&mut t, "select", "knn:2").unwrap();
        assert_eq!(crate::core::template::Select::knn(t.select), Some(2));
        apply(&mut t, "select", "knn").unwrap();
        assert_eq!(crate::core::template::Select::knn(t.select), Some(2));
        apply(&mut t, "select", "fixed").unwrap();
        assert_eq!(t.select, None);
        assert!(apply(&mut t, "select", "knn:0").is_err());
    }
}
