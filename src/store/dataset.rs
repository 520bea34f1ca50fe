//! Labelled datasets for evaluation: JSONL (`input`, `target`, optional `id` and `choices`),
//! CSV with a header (the same columns; `choices` and several targets separated by `|`), and
//! BIG-bench `task.json` (`examples` with `target` or `target_scores`). A target may list
//! several accepted answers. Broken lines are reported with their line number and skipped,
//! or stop the load with `strict`.

use std::path::Path;

use serde_json::Value;

use super::template::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    /// The question as asked (options appended as "(A) … (B) …" when the item has choices).
    pub input: String,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub items: Vec<Item>,
    /// Lines that could not be read, as "file:line: why".
    pub problems: Vec<String>,
}

fn letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// The query of an item with options: the input, then "Options: (A) … (B) …".
fn with_choices(input: &str, choices: &[String]) -> String {
    if choices.is_empty() {
        return input.to_string();
    }
    let opts: Vec<String> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| format!("({}) {c}", letter(i)))
        .collect();
    format!("{input}\nOptions: {}", opts.join(" "))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Why a JSON object is no item (a problem of the dataset, at its line or example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum NotAnItem {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no `input`")]
    NoInput,
    #[error("empty `input`")]
    EmptyInput,
    #[error("`target` must be a string, a number or a list of them")]
    TargetType,
    #[error("no `target` (or `target_scores`)")]
    NoTarget,
    #[error("`target` is empty")]
    EmptyTarget,
}

/// One JSON object as an item (JSONL lines and BIG-bench examples share this).
fn item_of(obj: &Value, fallback_id: usize) -> Result<Item, NotAnItem> {
    let o = obj.as_object().ok_or(NotAnItem::NotAnObject)?;
    let input = o.get("input").and_then(scalar).ok_or(NotAnItem::NoInput)?;
    if input.trim().is_empty() {
        return Err(NotAnItem::EmptyInput);
    }
    let mut choices: Vec<String> = o.get("choices").and_then(strings).unwrap_or_default();
    let targets = if let Some(t) = o.get("target") {
        strings(t).ok_or(NotAnItem::TargetType)?
    } else if let Some(Value::Object(scores)) = o.get("target_scores") {
        // BIG-bench multiple choice: the options are the keys, the best-scored ones are right.
        choices = scores.keys().cloned().collect();
        let best = scores
            .values()
            .filter_map(Value::as_f64)
            .fold(f64::NEG_INFINITY, f64::max);
        scores
            .iter()
            .filter(|(_, s)| s.as_f64() == Some(best))
            .map(|(k, _)| k.clone())
            .collect()
    } else {
        return Err(NotAnItem::NoTarget);
    };
    let targets: Vec<String> = targets
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .collect();
    if targets.is_empty() {
        return Err(NotAnItem::EmptyTarget);
    }
    let id = o
        .get("id")
        .and_then(scalar)
        .unwrap_or_else(|| fallback_id.to_string());
    Ok(Item {
        id,
        input: with_choices(&input, &choices),
        targets,
    })
}

/// Where a dataset named in the lab lives: the path as typed when it is there (relative to the
/// current directory), else the same relative path under the data directory's `datasets`
/// folder, else under the project promptlab was built from (its shipped `assets/`).
pub fn locate(typed: &Path) -> std::path::PathBuf {
    if typed.is_absolute() || typed.exists() {
        return typed.to_path_buf();
    }
    let mut candidates = Vec::new();
    if let Some(d) = super::data_dir() {
        candidates.push(d.join("datasets").join(typed));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(typed));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| typed.to_path_buf())
}

/// The dataset the lab's forms offer first: the shipped arithmetic sample, wherever it is.
pub fn default_dataset() -> std::path::PathBuf {
    let shipped = Path::new("assets/arith-mini.jsonl");
    let found = locate(shipped);
    if found.is_file() {
        found
    } else {
        shipped.to_path_buf()
    }
}

/// The datasets shipped beside promptlab (`assets/*.jsonl`, from the current directory or the
/// project promptlab was built from), sorted; none when neither folder is there.
pub fn shipped_datasets() -> Vec<std::path::PathBuf> {
    let here = Path::new("assets");
    let dir = if here.is_dir() {
        here.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
    };
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    found.sort();
    found
}

/// What could not be read, each at its place: collected, or the load's error with `strict`.
struct Problems<'a> {
    name: &'a str,
    strict: bool,
    list: Vec<String>,
}

impl Problems<'_> {
    /// The error at `line` (`0`: the file as a whole).
    fn fail(&self, line: usize, message: String) -> StoreError {
        StoreError::Parse {
            path: match line {
                0 => self.name.to_string(),
                n => format!("{}:{n}", self.name),
            },
            message,
        }
    }

    fn add(&mut self, line: usize, message: String) -> Result<(), StoreError> {
        if self.strict {
            return Err(self.fail(line, message));
        }
        self.list.push(match line {
            0 => format!("{}: {message}", self.name),
            n => format!("{}:{n}: {message}", self.name),
        });
        Ok(())
    }
}

/// Items each with the line it starts on (`0` where a file has no lines to speak of).
type Placed = Vec<(usize, Item)>;

pub fn load_dataset(path: &Path, strict: bool) -> Result<Dataset, StoreError> {
    let name = path.display().to_string();
    let text = super::read_text(path).map_err(|source| StoreError::Io {
        path: name.clone(),
        source,
    })?;
    let mut problems = Problems {
        name: &name,
        strict,
        list: Vec::new(),
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let items = match ext.as_str() {
        "json" => task_items(&text, &mut problems)?,
        "csv" => csv_items(&text, &mut problems)?,
        _ => jsonl_items(&text, &mut problems)?,
    };
    // Ids name items in exports and drill-downs: a repeated id is reported at its line (and
    // refused with --strict); later items with it are skipped.
    let mut seen = std::collections::HashMap::new();
    let mut unique = Vec::with_capacity(items.len());
    for (i, (line, it)) in items.into_iter().enumerate() {
        if let Some(&first) = seen.get(&it.id) {
            let first = match first {
                (0, k) => format!("item {k}"),
                (l, _) => format!("line {l}"),
            };
            let what = match line {
                0 => format!("item {}: ", i + 1),
                _ => String::new(),
            };
            problems.add(
                line,
                format!("{what}duplicate id `{}` (first on {first}; skipped)", it.id),
            )?;
        } else {
            seen.insert(it.id.clone(), (line, i + 1));
            unique.push(it);
        }
    }
    if unique.is_empty() {
        return Err(problems.fail(0, "no usable items".into()));
    }
    let problems = problems.list;
    Ok(Dataset {
        name,
        items: unique,
        problems,
    })
}

/// A BIG-bench `task.json`'s examples.
fn task_items(text: &str, problems: &mut Problems<'_>) -> Result<Placed, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(|e| problems.fail(e.line(), json_why(&e)))?;
    let examples = v
        .get("examples")
        .and_then(Value::as_array)
        .ok_or_else(|| problems.fail(1, "a BIG-bench task.json needs `examples`".into()))?;
    let mut items = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        match item_of(ex, i + 1) {
            Ok(it) => items.push((0, it)),
            Err(e) => problems.add(0, format!("example {}: {e}", i + 1))?,
        }
    }
    Ok(items)
}

/// A CSV with a header naming `input` and `target` (and optionally `id`, `choices`).
fn csv_items(text: &str, problems: &mut Problems<'_>) -> Result<Placed, StoreError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| problems.fail(1, e.to_string()))?
        .clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(n))
    };
    let (Some(ci), Some(ct)) = (col("input"), col("target")) else {
        return Err(problems.fail(1, "the header needs `input` and `target` columns".into()));
    };
    let (cid, cch) = (col("id"), col("choices"));
    let mut items = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = rec
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 2, |p| p.line() as usize);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.add(line, e.to_string())?;
                continue;
            }
        };
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let (Some(input), Some(target)) = (get(Some(ci)), get(Some(ct))) else {
            problems.add(line, "empty `input` or `target`".into())?;
            continue;
        };
        let split = |s: &str| {
            s.split('|')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
        };
        let choices = get(cch).map(split).unwrap_or_default();
        items.push((
            line,
            Item {
                id: get(cid).map_or_else(|| (i + 1).to_string(), str::to_string),
                input: with_choices(input, &choices),
                targets: split(target),
            },
        ));
    }
    Ok(items)
}

/// JSONL: one object a line, blank lines skipped.
fn jsonl_items(text: &str, problems: &mut Problems<'_>) -> Result<Placed, StoreError> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line).map(|v| item_of(&v, items.len() + 1)) {
            Ok(Ok(it)) => items.push((i + 1, it)),
            Ok(Err(not)) => problems.add(i + 1, not.to_string())?,
            Err(e) => problems.add(i + 1, json_why(&e))?,
        }
    }
    Ok(items)
}

/// Why JSON text could not be read, in words ("nested too deeply" for serde's recursion
/// limit).
fn json_why(e: &serde_json::Error) -> String {
    let said = e.to_string();
    if said.starts_with("recursion limit exceeded") {
        format!("nested too deeply: more than 128 levels of arrays or objects ({said})")
    } else {
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn jsonl_with_ids_lists_and_a_bad_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "d.jsonl",
            "{\"id\": 7, \"input\": \"1+1?\", \"target\": 2}\n\n{\"input\": \"city?\", \"target\": [\"NYC\", \"New York\"]}\nnot json\n{\"input\": \"c?\", \"target\": \"b\", \"choices\": [\"x\", \"y\"]}\n",
        );
        let ds = load_dataset(&p, false).unwrap();
        assert_eq!(ds.items.len(), 3);
        assert_eq!(
            ds.items[0],
            Item {
                id: "7".into(),
                input: "1+1?".into(),
                targets: vec!["2".into()]
            }
        );
        assert_eq!(ds.items[1].targets, vec!["NYC", "New York"]);
        assert_eq!(ds.items[2].input, "c?\nOptions: (A) x (B) y");
        assert_eq!(ds.problems.len(), 1);
        assert!(ds.problems[0].contains("d.jsonl:4:"), "{:?}", ds.problems);
        let err = load_dataset(&p, true).unwrap_err().to_string();
        assert!(err.contains("d.jsonl:4"), "{err}");
    }

    #[test]
    fn csv_with_header_and_quotes() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "d.csv",
            "id,input,target\na,\"He said \"\"hi\"\", twice\",5\nb,,3\nc,q,1|one\n",
        );
        let ds = load_dataset(&p, false).unwrap();
        assert_eq!(ds.items.len(), 2);
        assert_eq!(ds.items[0].input, "He said \"hi\", twice");
        assert_eq!(ds.items[1].targets, vec!["1", "one"]);
        assert_eq!(ds.problems.len(), 1);
        assert!(ds.problems[0].contains("d.csv:3"), "{:?}", ds.problems);
    }

    #[test]
    fn bigbench_task_json() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            &d,
            "task.json",
            r#"{"name": "t", "examples": [
            {"input": "2+2?", "target": "4"},
            {"input": "Sky?", "target_scores": {"blue": 1, "green": 0}}
        ]}"#,
        );
        let ds = load_dataset(&p, false).unwrap();
        assert_eq!(ds.items[0].targets, vec!["4"]);
        assert_eq!(ds.items[1].input, "Sky?\nOptions: (A) blue (B) green");
        assert_eq!(ds.items[1].targets, vec!["blue"]);
    }

    #[test]
    fn each_refusal_says_where_and_why() {
        let d = tempfile::tempdir().unwrap();
        let nested = format!(
            "{{\"input\": \"x\", \"target\": 1, \"meta\": {}{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let p = write(
            &d,
            "d.jsonl",
            &format!(
                "{{\"id\": \"a\", \"input\": \"1+1?\", \"target\": 2}}\n{{\"input\": \" \", \"target\": 1}}\n{{\"input\": \"q\", \"target\": \"\"}}\n{nested}\n\n{{\"id\": \"a\", \"input\": \"2+2?\", \"target\": 4}}\n"
            ),
        );
        let ds = load_dataset(&p, false).unwrap();
        assert_eq!(ds.items.len(), 1);
        let at = |line: usize| {
            ds.problems
                .iter()
                .find(|p| p.contains(&format!("d.jsonl:{line}: ")))
                .cloned()
                .unwrap_or_else(|| panic!("nothing at line {line}: {:?}", ds.problems))
        };
        assert!(at(2).contains("empty `input`"), "{}", at(2));
        assert!(at(3).contains("`target` is empty"), "{}", at(3));
        assert!(at(4).contains("nested too deeply"), "{}", at(4));
        assert!(
            at(6).contains("duplicate id `a` (first on line 1;"),
            "{}",
            at(6)
        );
        assert_eq!(ds.problems.len(), 4, "{:?}", ds.problems);
        let strict = load_dataset(&p, true).unwrap_err().to_string();
        assert!(strict.contains("d.jsonl:2"), "{strict}");
    }

    #[test]
    fn a_byte_order_mark_and_duplicate_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        std::fs::write(
            &p,
            "\u{feff}{\"id\":\"a\",\"input\":\"1+1?\",\"target\":\"2\"}\n{\"id\":\"a\",\"input\":\"2+2?\",\"target\":\"4\"}\n{\"id\":\"b\",\"input\":\"3+3?\",\"target\":\"6\"}\n",
        )
        .unwrap();
        let d = load_dataset(&p, false).unwrap();
        assert_eq!(
            d.items.len(),
            2,
            "the first item survives its BOM; the repeat is skipped"
        );
        assert_eq!(d.items[0].input, "1+1?");
        assert!(
            d.problems[0].contains("duplicate id `a`"),
            "{:?}",
            d.problems
        );
        assert!(load_dataset(&p, true).is_err(), "--strict stops");
    }
}
