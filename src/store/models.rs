//! The GGUF models on this machine that the embedded backend can run (`--model-path`): those
//! in promptlab's own models folder, Ollama's (its manifests name the GGUF blobs) and LM
//! Studio's folders.

use std::path::{Path, PathBuf};

/// The embedded model's file name in promptlab's models folder.
pub const DEFAULT_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// `~/.cache/promptlab/models/gemma-3-270m-q4_k_m.gguf`, where scripts/fetch-model.sh puts it.
pub fn default_model_path() -> Option<PathBuf> {
    super::cache_dir().map(|d| d.join("models").join(DEFAULT_MODEL_FILE))
}

/// Whether `path` is where the embedded model belongs.
pub fn is_default_model(path: &Path) -> bool {
    default_model_path().is_some_and(|d| d == path)
}

/// One model file found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoundModel {
    /// How its store names it ("llama3.2:1b", "publisher/repo/file.gguf", the file name).
    pub name: String,
    /// "promptlab", "ollama" or "lm-studio".
    pub source: &'static str,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// LoRA adapters trained on this file (promptlab's `adapters/`, by their records).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<super::adapters::FoundAdapter>,
}

/// Where to look.
#[derive(Debug, Clone, Default)]
pub struct Stores {
    pub own: Option<PathBuf>,
    /// Ollama's models folder (`$OLLAMA_MODELS`, else `~/.ollama/models`).
    pub ollama: Option<PathBuf>,
    pub lm_studio: Vec<PathBuf>,
    /// promptlab's adapters folder (the models folder's `adapters/`).
    pub adapters: Option<PathBuf>,
}

impl Stores {
    /// This user's stores.
    pub fn of_this_user() -> Stores {
        let home = etcetera::home_dir().ok();
        Stores {
            own: super::cache_dir().map(|d| d.join("models")),
            ollama: std::env::var_os("OLLAMA_MODELS")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".ollama/models"))),
            lm_studio: home
                .iter()
                .flat_map(|h| {
                    [
                        h.join(".lmstudio/models"),
                        h.join(".cache/lm-studio/models"),
                    ]
                })
                .collect(),
            adapters: super::adapters::adapters_dir(),
        }
    }

    /// Every adapter, and the ones no model found here was their base.
    pub fn orphan_adapters(&self, models: &[FoundModel]) -> Vec<super::adapters::FoundAdapter> {
        let all = self
            .adapters
            .as_deref()
            .map(super::adapters::find)
            .unwrap_or_default();
        all.into_iter()
            .filter(|a| !models.iter().any(|m| a.fits(&m.path, m.size_bytes)))
            .collect()
    }

    /// Every usable model file, by source then name.
    pub fn find(&self) -> Vec<FoundModel> {
        let mut found = Vec::new();
        if let Some(dir) = &self.own {
            for path in gguf_files(dir, 1) {
                found.push(model(file_name(&path), "promptlab", path));
            }
        }
        if let Some(dir) = &self.ollama {
            found.extend(ollama(dir));
        }
        for dir in &self.lm_studio {
            for path in gguf_files(dir, 4) {
                let name = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                found.push(model(name, "lm-studio", path));
            }
        }
        found.retain(|m| m.size_bytes > 0);
        let adapters = self
            .adapters
            .as_deref()
            .map(super::adapters::find)
            .unwrap_or_default();
        for m in &mut found {
            m.adapters = adapters
                .iter()
                .filter(|a| a.fits(&m.path, m.size_bytes))
                .cloned()
                .collect();
        }
        found
    }
}

fn model(name: String, source: &'static str, path: PathBuf) -> FoundModel {
    let size_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    FoundModel {
        name,
        source,
        path,
        size_bytes,
        adapters: Vec::new(),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `.gguf` files under `dir` down to `depth` folders, sorted; vision projectors (`mmproj…`)
/// are left out, since they are not models of their own.
fn gguf_files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() && depth > 1 {
            out.extend(gguf_files(&path, depth - 1));
        } else if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            && !file_name(&path).to_ascii_lowercase().starts_with("mmproj")
        {
            out.push(path);
        }
    }
    out
}

/// Ollama's models: `manifests/REGISTRY/NAMESPACE/MODEL/TAG` are JSON manifests whose layer
/// of media type `application/vnd.ollama.image.model` names the GGUF blob by digest, kept as
/// `blobs/sha256-HEX`.
fn ollama(dir: &Path) -> Vec<FoundModel> {
    let manifests = dir.join("manifests");
    let mut out = Vec::new();
    for tag_file in files_at_depth(&manifests, 4) {
        let Ok(parts) = tag_file.strip_prefix(&manifests) else {
            continue;
        };
        let parts: Vec<String> = parts
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let [_registry, namespace, name, tag] = parts.as_slice() else {
            continue;
        };
        let Some(digest) = std::fs::read_to_string(&tag_file)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|m| {
                m["layers"].as_array()?.iter().find_map(|l| {
                    (l["mediaType"] == "application/vnd.ollama.image.model")
                        .then(|| l["digest"].as_str().map(str::to_string))
                        .flatten()
                })
            })
        else {
            continue;
        };
        let blob = dir.join("blobs").join(digest.replace(':', "-"));
        if blob.is_file() {
            let shown = match namespace.as_str() {
                "library" => format!("{name}:{tag}"),
                ns => format!("{ns}/{name}:{tag}"),
            };
            out.push(model(shown, "ollama", blob));
        }
    }
    out
}

/// Files exactly `depth` folders below `dir`, sorted.
fn files_at_depth(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    entries
        .into_iter()
        .flat_map(|p| match (depth, p.is_dir()) {
            (1, false) => vec![p],
            (1, true) => vec![],
            (_, true) => files_at_depth(&p, depth - 1),
            (_, false) => vec![],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn finds_own_ollama_and_lm_studio_models() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(&root.join("own/gemma-3-270m-q4_k_m.gguf"), b"GGUF own");
        write(&root.join("own/notes.txt"), b"not a model");
        // Ollama: a manifest naming its model blob, and one whose blob is gone.
        let digest = "sha256:0123abcd";
        write(&root.join("ollama/blobs/sha256-0123abcd"), b"GGUF ollama");
        let manifest = serde_json::json!({"layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:ffff"},
            {"mediaType": "application/vnd.ollama.image.model", "digest": digest}
        ]});
        write(
            &root.join("ollama/manifests/registry.ollama.ai/library/llama3.2/1b"),
            manifest.to_string().as_bytes(),
        );
        write(
            &root.join("ollama/manifests/registry.ollama.ai/someone/tiny/latest"),
            serde_json::json!({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:gone"}]})
                .to_string()
                .as_bytes(),
        );
        write(
            &root.join("lms/qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf"),
            b"GGUF lms",
        );
        write(
            &root.join("lms/qwen/Qwen3-VL/mmproj-F16.gguf"),
            b"GGUF projector",
        );
        let stores = Stores {
            own: Some(root.join("own")),
            ollama: Some(root.join("ollama")),
            lm_studio: vec![root.join("lms"), root.join("missing")],
            adapters: None,
        };
        let found: Vec<(String, &str)> = stores
            .find()
            .into_iter()
            .map(|m| (m.name, m.source))
            .collect();
        assert_eq!(
            found,
            [
                ("gemma-3-270m-q4_k_m.gguf".to_string(), "promptlab"),
                ("llama3.2:1b".to_string(), "ollama"),
                (
                    "qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf".to_string(),
                    "lm-studio"
                ),
            ]
        );
        let ollama = &stores.find()[1];
        assert_eq!(ollama.path, root.join("ollama/blobs/sha256-0123abcd"));
        assert_eq!(ollama.size_bytes, 11);
        // Nothing anywhere: an empty list, no error.
        assert!(Stores::default().find().is_empty());
    }
}
