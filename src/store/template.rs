//! Template files: YAML in `templates/` (or any path), loaded with strict keys and errors that
//! name file, line and column. The shipped templates are compiled in, so `--template gsm8k-cot`
//! works from any directory; a file of the same name in a template directory takes precedence.

use std::path::{Path, PathBuf};

pub use super::error::StoreError;
use crate::core::spec::SpecError;

use super::atomic::write_atomic;
use crate::core::template::Template;

/// The templates shipped in `templates/`, compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("gsm8k-cot", include_str!("../../templates/gsm8k-cot.yaml")),
    (
        "gsm8k-direct",
        include_str!("../../templates/gsm8k-direct.yaml"),
    ),
    (
        "zero-shot-cot",
        include_str!("../../templates/zero-shot-cot.yaml"),
    ),
    ("sentiment", include_str!("../../templates/sentiment.yaml")),
    ("sports", include_str!("../../templates/sports.yaml")),
    ("sums", include_str!("../../templates/sums.yaml")),
    ("trivia", include_str!("../../templates/trivia.yaml")),
    ("tickets", include_str!("../../templates/tickets.yaml")),
    (
        "last-letters",
        include_str!("../../templates/last-letters.yaml"),
    ),
    (
        "date-understanding",
        include_str!("../../templates/date-understanding.yaml"),
    ),
    (
        "least-to-most-math",
        include_str!("../../templates/least-to-most-math.yaml"),
    ),
    (
        "least-to-most-letters",
        include_str!("../../templates/least-to-most-letters.yaml"),
    ),
];

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Builtin,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Builtin => f.write_str("built-in"),
        }
    }
}

/// Parses template YAML; `source` names it in errors.
pub fn parse_template(yaml: &str, source: &str) -> Result<Template, StoreError> {
    let t: Template = super::parse_yaml(yaml, source)?;
    t.validate().map_err(|e| StoreError::Parse {
        path: match field_of(&e).and_then(|k| locate_key(yaml, k)) {
            Some((line, col)) => format!("{source}:{line}:{col}"),
            None => source.to_string(),
        },
        message: e.to_string(),
    })?;
    Ok(t)
}

/// The template key a validation error is about ("sampling: top_p must be …" -> `top_p`).
fn field_of(e: &SpecError) -> Option<&'static str> {
    match e {
        SpecError::Sampling(inner) => match **inner {
            SpecError::Range { name, .. } => Some(name),
            _ => None,
        },
        SpecError::Pattern(_) | SpecError::NoGroup(_) => Some("pattern"),
        SpecError::NoPattern => Some("kind"),
        SpecError::NoDecomposition | SpecError::NoRationale(_) => Some("strategy"),
        SpecError::NoName => Some("name"),
        SpecError::Version { .. } => Some("version"),
        _ => None,
    }
}

/// Line and column (1-based) of the first `key:` in a YAML text, in block or flow style.
fn locate_key(yaml: &str, key: &str) -> Option<(usize, usize)> {
    yaml.lines().enumerate().find_map(|(i, line)| {
        let code = line.split(" #").next().unwrap_or(line);
        code.match_indices(key).find_map(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + key.len()..].trim_start();
            let starts = before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-'));
            (starts && after.starts_with(':')).then_some((i + 1, at + 1))
        })
    })
}

pub fn load_template_file(path: &Path) -> Result<Template, StoreError> {
    let text = super::read_text(path).map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_template(&text, &path.display().to_string())
}

/// Directories searched for `NAME.yaml`, first match wins: `$PROMPTLAB_TEMPLATES`,
/// `./templates`, then the user's data dir (`~/.local/share/promptlab/templates`).
pub fn template_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("PROMPTLAB_TEMPLATES") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("templates"));
    if let Some(d) = crate::store::data_dir() {
        dirs.push(d.join("templates"));
    }
    dirs
}

/// Resolves `--template`: a path to a file, or a name from the template directories or the
/// built-in set.
pub fn resolve(name_or_path: &str) -> Result<(Template, Origin), StoreError> {
    let as_path = Path::new(name_or_path);
    let looks_like_path = name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
        || name_or_path.contains('/');
    if looks_like_path || as_path.is_file() {
        return Ok((
            load_template_file(as_path)?,
            Origin::File(as_path.to_path_buf()),
        ));
    }
    for dir in template_dirs() {
        for ext in ["yaml", "yml"] {
            let p = dir.join(format!("{name_or_path}.{ext}"));
            if p.is_file() {
                return Ok((load_template_file(&p)?, Origin::File(p)));
            }
        }
    }
    match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        Some((n, yaml)) => Ok((
            parse_template(yaml, &format!("built-in template {n}"))?,
            Origin::Builtin,
        )),
        None => Err(StoreError::NotFound(name_or_path.to_string())),
    }
}

/// A listed template, or the error that keeps it from loading.
pub struct Listed {
    pub name: String,
    pub origin: Origin,
    pub template: Result<Template, StoreError>,
}

/// Every template a user can name: files in the template directories, then built-ins not
/// shadowed by a file.
pub fn list() -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    for dir in template_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        for p in files {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if out.iter().any(|l| l.name == name) {
                continue;
            }
            out.push(Listed {
                name,
                template: load_template_file(&p),
                origin: Origin::File(p),
            });
        }
    }
    for (name, yaml) in BUILTIN {
        if !out.iter().any(|l| l.name == *name) {
            out.push(Listed {
                name: name.to_string(),
                origin: Origin::Builtin,
                template: parse_template(yaml, name),
            });
        }
    }
    out
}

/// Where exported templates go: `./templates` when it exists (a project), else the data
/// directory's `templates`.
pub fn export_dir() -> PathBuf {
    let local = PathBuf::from("templates");
    if local.is_dir() {
        return local;
    }
    crate::store::data_dir()
        .map(|d| d.join("templates"))
        .unwrap_or(local)
}

/// Whether `name` is a built-in template (a file of that name would hide it).
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name)
}

/// Writes a template as YAML unless a file is there already (checked under its lock):
/// `false` when one is, and it was left alone.
pub fn save_new_template(path: &Path, template: &Template) -> Result<bool, StoreError> {
    crate::store::atomic::locked(path, || {
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(false);
        }
        save_template(path, template).map(|()| true)
    })
    .map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })?
}

/// Writes a template as YAML, atomically.
pub fn save_template(path: &Path, template: &Template) -> Result<(), StoreError> {
    let yaml = serde_saphyr::to_string(template).map_err(|e| StoreError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    write_atomic(path, yaml.as_bytes()).map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_regex_errors_name_line_and_column() {
        let yaml = "version: 1\nname: t\nanswer: { kind: regex, pattern: \"x\" }\nsampling:\n  n: 5\n  top_p: 7\n";
        let e = parse_template(yaml, "t.yaml").unwrap_err().to_string();
        assert!(e.starts_with("t.yaml:6:3: sampling: top_p"), "{e}");
        let yaml = yaml.replace("top_p: 7", "top_p: 0.9");
        let e = parse_template(&yaml, "t.yaml").unwrap_err().to_string();
        assert!(e.starts_with("t.yaml:3:"), "{e}");
        assert!(e.contains("no group"), "{e}");
    }
    use crate::core::render::{Mode, render};
    use proptest::prelude::*;

    #[test]
    fn every_builtin_loads_and_renders() {
        for (name, yaml) in BUILTIN {
            let t = parse_template(yaml, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&t.name, name);
            let q = t.query.clone().unwrap_or_else(|| "test".into());
            for mode in [Mode::Chat, Mode::Completion] {
                let r = render(&t, &q, mode);
                assert!(r.prompt.to_string().contains(q.trim()), "{name}");
            }
        }
    }

    #[test]
    fn gsm8k_cot_has_the_eight_wei_exemplars() {
        let (t, _) = resolve("gsm8k-cot").unwrap();
        assert_eq!(t.examples.len(), 8);
        assert!(t.examples.iter().all(|e| e.rationale.is_some()));
        let (d, _) = resolve("gsm8k-direct").unwrap();
        let answers = |t: &Template| {
            t.examples
                .iter()
                .map(|e| e.answer.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(answers(&t), answers(&d));
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let yaml = "name: x\nstrategy: cot\nexamples: []\nsurprise: 1\n";
        let err = parse_template(yaml, "t.yaml").unwrap_err().to_string();
        assert!(err.starts_with("t.yaml:4:"), "{err}");
        assert!(err.contains("surprise"), "{err}");
    }

    #[test]
    fn bad_value_and_newer_version_are_clear() {
        let err = parse_template("name: x\nstrategy: sideways\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.yaml:2:"), "{err}");
        let err = parse_template("version: 9\nname: x\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("newer"), "{err}");
        let err = parse_template("name: x\nsampling: { n: 0 }\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("n must be"), "{err}");
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (t, _) = resolve("date-understanding").unwrap();
        let p = dir.path().join("copy.yaml");
        save_template(&p, &t).unwrap();
        assert_eq!(load_template_file(&p).unwrap(), t);
    }

    #[test]
    fn missing_name_is_not_found() {
        assert!(matches!(
            resolve("no-such-template"),
            Err(StoreError::NotFound(_))
        ));
    }

    proptest! {
        #[test]
        fn loader_never_panics(text in "\\PC{0,200}") {
            let _ = parse_template(&text, "fuzz.yaml");
        }

        #[test]
        fn loader_never_panics_on_yaml_like(text in "(name: [a-z]{0,5}\n|strategy: [a-z-]{0,8}\n|examples:\n|  - input: [a-z ]{0,8}\n|    answer: [0-9]{0,3}\n|sampling: \\{ n: [0-9]{0,3} \\}\n|[ :\\-\\[\\]{}]{0,3}\n){0,8}") {
            let _ = parse_template(&text, "fuzz.yaml");
        }
    }

    /// Every file in `templates/` is compiled in, so `-t NAME` works from any folder.
    #[test]
    fn every_shipped_template_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                assert!(
                    BUILTIN.iter().any(|(n, _)| *n == name),
                    "templates/{name}.yaml is not in BUILTIN"
                );
            }
        }
    }
}
