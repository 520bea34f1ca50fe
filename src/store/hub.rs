//! GGUF models from the Hugging Face hub (`promptlab model pull REPO[:QUANT]`): which file of
//! a repository to take, and a download that resumes where a cut one stopped, is checked
//! against the hub's sha256 and lands in promptlab's models folder in one atomic rename.
//!
//! The hub's API: `GET {endpoint}/api/models/{repo}/tree/main?recursive=true` lists files
//! (`path`, `size`, `lfs.oid` = the sha256 of a large file); `GET {endpoint}/{repo}/resolve/
//! main/{path}` serves one, honouring `Range`. `HF_ENDPOINT` points at a mirror, `HF_TOKEN`
//! is sent as a bearer token (gated repositories).

use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

pub use super::error::HubError;
use super::error::StoreError;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A file of a hub repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HubFile {
    pub path: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub lfs: Option<Lfs>,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Lfs {
    /// The sha256 of the file's content.
    pub oid: String,
    #[serde(default)]
    pub size: u64,
}

impl HubFile {
    fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn sha256(&self) -> Option<&str> {
        self.lfs.as_ref().map(|l| l.oid.as_str())
    }

    fn bytes(&self) -> u64 {
        self.lfs
            .as_ref()
            .map_or(self.size, |l| l.size.max(self.size))
    }
}

/// `owner/name[:QUANT]` → (repository, quantisation).
pub fn parse_spec(spec: &str) -> Result<(String, Option<String>), HubError> {
    let (repo, quant) = match spec.split_once(':') {
        Some((r, q)) => (r, Some(q.trim().to_string()).filter(|q| !q.is_empty())),
        None => (spec, None),
    };
    let ok = repo.split('/').count() == 2
        && repo.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if !ok {
        return Err(HubError::NotARepository(spec.to_string()));
    }
    Ok((repo.to_string(), quant))
}

/// The GGUF to take: the one whose name holds `quant` (case aside); without a quant the only
/// one, else Q4_K_M's. Projectors (`mmproj`) and split models are never chosen.
pub fn choose<'a>(files: &'a [HubFile], quant: Option<&str>) -> Result<&'a HubFile, HubError> {
    let ggufs: Vec<&HubFile> = files
        .iter()
        .filter(|f| f.kind != "directory" && f.name().to_lowercase().ends_with(".gguf"))
        .filter(|f| !f.name().to_lowercase().contains("mmproj"))
        .collect();
    if ggufs.is_empty() {
        return Err(HubError::NoGguf);
    }
    let names = || {
        ggufs
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let wanted = match quant {
        Some(q) => q.to_lowercase(),
        None if ggufs.len() == 1 => return Ok(ggufs[0]),
        None => "q4_k_m".into(),
    };
    let matching: Vec<&HubFile> = ggufs
        .iter()
        .copied()
        .filter(|f| f.name().to_lowercase().contains(&wanted))
        .collect();
    let split = |f: &HubFile| f.name().contains("-of-0");
    match matching.as_slice() {
        [] => Err(HubError::NoneNamed {
            wanted,
            names: names(),
        }),
        [one] if split(one) => Err(HubError::Split(one.path.clone())),
        [one] => Ok(one),
        many => Err(HubError::Several {
            wanted,
            names: many
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Where the hub is and who asks.
#[derive(Debug, Clone)]
pub struct Hub {
    pub endpoint: String,
    pub token: Option<String>,
    client: reqwest::Client,
}

impl Hub {
    /// `HF_ENDPOINT` (default the hub) and `HF_TOKEN`.
    pub fn from_env() -> Result<Hub, HubError> {
        Hub::new(
            std::env::var("HF_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.into()),
            std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()),
        )
    }

    pub fn new(endpoint: String, token: Option<String>) -> Result<Hub, HubError> {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(20))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(HubError::Client)?;
        Ok(Hub {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            client,
        })
    }

    fn unreachable(&self, source: reqwest::Error) -> HubError {
        HubError::Unreachable {
            endpoint: self.endpoint.clone(),
            source,
        }
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let r = self.client.get(url);
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// The repository's files.
    pub async fn files(&self, repo: &str) -> Result<Vec<HubFile>, HubError> {
        let url = format!(
            "{}/api/models/{repo}/tree/main?recursive=true",
            self.endpoint
        );
        let r = self
            .get(&url)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        match r.status().as_u16() {
            200 => r
                .json()
                .await
                .map_err(|source| HubError::NotAList { url, source }),
            status @ (401 | 403) => Err(HubError::Denied {
                repo: repo.to_string(),
                status,
            }),
            404 => Err(HubError::NoRepository {
                repo: repo.to_string(),
                endpoint: self.endpoint.clone(),
            }),
            status => Err(HubError::Http { url, status }),
        }
    }

    /// Downloads `file` of `repo` into `dir`, resuming a `.part` left by a cut download, and
    /// checks it against the hub's size and sha256 before it takes its name. `progress(done,
    /// total)` is told as bytes arrive. A download of another size or checksum is removed.
    /// A file the hub gives no sha256 for, or whose name a file from elsewhere already has,
    /// is refused unless `force`; then it is kept under a name of its own (`place`).
    pub async fn download(
        &self,
        repo: &str,
        file: &HubFile,
        dir: &Path,
        force: bool,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<PathBuf, HubError> {
        for segment in file.path.split('/') {
            super::name::check("the hub's file name", segment)?;
        }
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let name = place(repo, file, dir, force)?;
        let target = dir.join(&name);
        let part = dir.join(format!("{name}.part"));
        let total = file.bytes();
        // Pulled before and whole: nothing to fetch.
        if std::fs::metadata(&target).is_ok_and(|m| m.len() == total && total > 0)
            && file.sha256().is_none_or(|want| {
                sha256_of_sync(&target).is_ok_and(|got| got.eq_ignore_ascii_case(want))
            })
        {
            progress(total, total);
            return Ok(target);
        }
        let done = self.fetch(repo, file, &part, progress).await?;
        if total > 0 && done != total {
            let _ = std::fs::remove_file(&part);
            return Err(HubError::Size {
                file: file.path.clone(),
                total,
                done,
            });
        }
        let got = sha256_of(&part).await?;
        if let Some(want) = file.sha256()
            && !want.eq_ignore_ascii_case(&got)
        {
            let _ = std::fs::remove_file(&part);
            return Err(HubError::Checksum {
                file: file.path.clone(),
                want: want.to_string(),
                got,
            });
        }
        std::fs::rename(&part, &target).map_err(StoreError::io(&target))?;
        record_origin(dir, &name, repo, &got)?;
        Ok(target)
    }

    /// Downloads `file` into `part` (resuming what it holds); the bytes it then holds.
    async fn fetch(
        &self,
        repo: &str,
        file: &HubFile,
        part: &Path,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<u64, HubError> {
        let total = file.bytes();
        let mut have = std::fs::metadata(part).map_or(0, |m| m.len());
        if total > 0 && have > total {
            have = 0; // not a prefix of this file
        }
        let url = format!("{}/{repo}/resolve/main/{}", self.endpoint, file.path);
        let mut req = self.get(&url);
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let r = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = r.status().as_u16();
        let resumed = match status {
            206 => true,
            200 => false,
            416 if have == total => true, // the part is whole already
            status => return Err(HubError::Http { url, status }),
        };
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(part)
            .await
            .map_err(StoreError::io(part))?;
        let mut done = if resumed { have } else { 0 };
        progress(done, total);
        if status != 416 {
            let mut body = r.bytes_stream();
            while let Some(chunk) = body.next().await {
                // A cut leaves the part as far as it came: the next pull resumes there.
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(source) => {
                        let _ = out.flush().await;
                        return Err(HubError::Cut {
                            done,
                            total,
                            source,
                        });
                    }
                };
                out.write_all(&chunk).await.map_err(StoreError::io(part))?;
                done += chunk.len() as u64;
                progress(done, total);
            }
        }
        out.flush().await.map_err(StoreError::io(part))?;
        Ok(done)
    }
}

/// Where promptlab notes which repository each pulled file came from.
const ORIGINS: &str = "pulled.json";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
struct Origin {
    repo: String,
    sha256: String,
}

fn origins(dir: &Path) -> std::collections::BTreeMap<String, Origin> {
    std::fs::read_to_string(dir.join(ORIGINS))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn record_origin(dir: &Path, name: &str, repo: &str, sha256: &str) -> Result<(), StoreError> {
    let path = dir.join(ORIGINS);
    super::atomic::locked(&path, || {
        let mut all = origins(dir);
        let origin = Origin {
            repo: repo.to_string(),
            sha256: sha256.to_string(),
        };
        all.insert(name.to_string(), origin);
        let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)?;
        super::atomic::write_atomic(&path, text.as_bytes())
    })
    .and_then(|r| r)
    .map_err(StoreError::io(&path))
}

/// The name `file` of `repo` is kept under in `dir`: its own, unless the hub gives no sha256
/// for it or a file of that name came from elsewhere (another repository, or not pulled by
/// promptlab); those are refused without `force`, and with it kept as `OWNER--NAME--FILE`,
/// so a checked model is never replaced by an unchecked or unrelated one.
fn place(repo: &str, file: &HubFile, dir: &Path, force: bool) -> Result<String, HubError> {
    let own = file.name().to_string();
    let prefixed = format!("{}--{own}", repo.replace('/', "--"));
    let elsewhere = |name: &str| -> Option<String> {
        if !dir.join(name).exists() {
            return None;
        }
        match origins(dir).get(name) {
            Some(o) if o.repo == repo => None,
            Some(o) => Some(format!("pulled from {}", o.repo)),
            // The very file the hub lists (put there by hand or by an older promptlab).
            None if file.sha256().is_some_and(|want| {
                sha256_of_sync(&dir.join(name)).is_ok_and(|got| got.eq_ignore_ascii_case(want))
            }) =>
            {
                None
            }
            None => Some("not pulled by promptlab".into()),
        }
    };
    let why = match (file.sha256(), elsewhere(&own)) {
        (None, _) => format!(
            "the hub lists no sha256 for {} of {repo}, so the download cannot be checked",
            file.path
        ),
        (Some(_), Some(from)) => format!(
            "{} is already in {} ({from}); {} of {repo} would replace it",
            own,
            dir.display(),
            file.path
        ),
        (Some(_), None) => return Ok(own),
    };
    if !force {
        return Err(HubError::Refused { why, prefixed });
    }
    match elsewhere(&prefixed) {
        None => Ok(prefixed),
        Some(from) => Err(HubError::BothTaken {
            why,
            prefixed,
            from,
        }),
    }
}

async fn sha256_of(path: &Path) -> Result<String, HubError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || sha256_of_sync(&path))
        .await
        .map_err(HubError::Join)?
        .map_err(HubError::from)
}

fn sha256_of_sync(path: &Path) -> Result<String, StoreError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(StoreError::io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(StoreError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str) -> HubFile {
        HubFile {
            path: path.into(),
            size: 10,
            lfs: None,
            kind: "file".into(),
        }
    }

    #[test]
    fn specs_name_a_repository_and_maybe_a_quant() {
        assert_eq!(
            parse_spec("unsloth/gemma-3-1b-it-GGUF:Q4_K_M").unwrap(),
            ("unsloth/gemma-3-1b-it-GGUF".into(), Some("Q4_K_M".into()))
        );
        assert_eq!(parse_spec("a/b").unwrap(), ("a/b".into(), None));
        assert!(
            parse_spec("gemma")
                .unwrap_err()
                .to_string()
                .contains("OWNER/NAME")
        );
        assert!(parse_spec("a/b/../c").is_err());
    }

    #[test]
    fn the_quant_picks_the_file_and_projectors_and_splits_are_never_taken() {
        let files = [
            f("README.md"),
            f("model-Q4_K_M.gguf"),
            f("model-Q8_0.gguf"),
            f("mmproj-model-f16.gguf"),
            f("big/model-Q2_K-00001-of-00002.gguf"),
        ];
        assert_eq!(
            choose(&files, Some("q8_0")).unwrap().path,
            "model-Q8_0.gguf"
        );
        assert_eq!(choose(&files, None).unwrap().path, "model-Q4_K_M.gguf");
        assert!(
            choose(&files, Some("Q5_K_M"))
                .unwrap_err()
                .to_string()
                .contains("model-Q8_0.gguf")
        );
        assert!(
            choose(&files, Some("Q2_K"))
                .unwrap_err()
                .to_string()
                .contains("split")
        );
        assert!(
            choose(&files, Some("model"))
                .unwrap_err()
                .to_string()
                .contains("several")
        );
        assert!(
            choose(&[f("x.bin")], None)
                .unwrap_err()
                .to_string()
                .contains("no GGUF")
        );
        assert_eq!(choose(&[f("only.gguf")], None).unwrap().path, "only.gguf");
    }
}
