//! Atomic file writes: a temp file in the same directory, fsync, rename over the target, fsync
//! the directory. A crash at any point leaves either the old file or the new one, never half.
//! A write through a symbolic link replaces the file the link points to (the link stays); the
//! replaced file's permissions are kept; a write that would not change the file does not
//! touch it. `locked` serialises read-modify-write cycles on one file across processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = resolve_links(path)?;
    let path = target.as_path();
    let existing = fs::metadata(path).ok().filter(fs::Metadata::is_file);
    if let Some(meta) = &existing
        && meta.len() == bytes.len() as u64
        && fs::read(path).is_ok_and(|old| old == bytes)
    {
        return Ok(()); // nothing changed: the file keeps its bytes, times and comments
    }
    let (dir, tmp) = temp_beside(path)?;
    let dir = dir.as_path();
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Some(meta) = &existing {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The folder of `path` (created if missing) and a fresh temporary name in it.
fn temp_beside(path: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    Ok((dir.to_path_buf(), tmp))
}

/// Whether `write_atomic(path, …)` could write: the folder exists or can be made, and a file
/// can be created in it (tried, then removed).
pub fn check_writable(path: &Path) -> io::Result<()> {
    let target = resolve_links(path)?;
    if target.is_dir() {
        return Err(io::Error::other("a folder, not a file"));
    }
    let (_, tmp) = temp_beside(&target)?;
    OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    fs::remove_file(&tmp)
}

/// The file a path names, through any chain of symbolic links (a link to a file not yet
/// there resolves to where that file would be).
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Runs `f` holding an exclusive advisory lock on the folder that holds `path` (the file
/// itself is replaced by renames, so it cannot carry the lock, and a lock file beside it would
/// be left behind). Other promptlab processes reading, changing and writing a file in the same
/// folder wait their turn; a cycle takes milliseconds. `f` must not take another such lock.
pub fn locked<T>(path: &Path, f: impl FnOnce() -> T) -> io::Result<T> {
    let target = resolve_links(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let lock = File::open(dir)?;
    lock.lock()?;
    let out = f();
    let _ = lock.unlock();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.yaml");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn links_modes_and_unchanged_files_are_respected() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("link.yaml");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        symlink("real.yaml", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the mode is kept");
        // Same bytes: the file is not rewritten (its inode stays).
        use std::os::unix::fs::MetadataExt;
        let ino = fs::metadata(&real).unwrap().ino();
        write_atomic(&real, b"new").unwrap();
        assert_eq!(fs::metadata(&real).unwrap().ino(), ino);
    }
}
