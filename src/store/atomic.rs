//! Atomic file writes: a temp file in the same directory, fsync, rename over the target, fsync
//! the directory. A crash at any point leaves either the old file or the new one, never half.
//! A write through a symbolic link replaces the file the link points to (the link stays); the
//! replaced file's permissions are kept; a write that would not change the file does not
//! touch it. `locked` serialises read-modify-write cycles on one file across processes.
//! A file the user may not write (read-only, or owned by someone else) or that has other hard
//! links is not replaced (`check_replace`) unless the command was given `--force`
//! (`force_replace`): a rename would take its place, own it, or break the link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

static FORCE: AtomicBool = AtomicBool::new(false);

/// From now on, this process replaces read-only and hard-linked files (the user said
/// `--force`).
pub fn force_replace() {
    FORCE.store(true, Ordering::SeqCst);
}

/// Whether the file at `path` (if there is one) may be replaced by a write: refused when the
/// user may not write it (read-only, or another's) or when other hard links share it, unless
/// `force_replace` was called. The error says why and how to go on.
pub fn check_replace(path: &Path) -> io::Result<()> {
    let target = resolve_links(path)?;
    let Ok(meta) = fs::metadata(&target) else {
        return Ok(());
    };
    if !meta.is_file() {
        // A rename would replace a device node or a FIFO, even with --force.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a folder, device, FIFO or socket): promptlab writes only regular files",
        ));
    }
    if FORCE.load(Ordering::SeqCst) {
        return Ok(());
    }
    let denied = meta.permissions().readonly()
        || OpenOptions::new()
            .write(true)
            .open(&target)
            .is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied);
    if denied {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only for you, so promptlab does not replace it (--force replaces it anyway)",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let links = meta.nlink();
        if links > 1 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "the file has {links} hard links: saving would break the link (the other names would keep the old content); --force saves anyway"
                ),
            ));
        }
    }
    Ok(())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, false)
}

/// `write_atomic` for a file only its owner may read (mode 0600 on Unix, whatever the mode of
/// a file it replaces): records that name a server or a command line.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, bytes, true)
}

fn write_with(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let target = resolve_links(path)?;
    let path = target.as_path();
    let existing = fs::metadata(path).ok().filter(fs::Metadata::is_file);
    if let Some(meta) = &existing
        && meta.len() == bytes.len() as u64
        && fs::read(path).is_ok_and(|old| old == bytes)
    {
        return Ok(()); // nothing changed: the file keeps its bytes, times and comments
    }
    check_replace(path)?;
    let (dir, tmp) = temp_beside(path)?;
    let dir = dir.as_path();
    remove_stale_temporaries(dir);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        if let Some(meta) = existing.as_ref().filter(|_| !private) {
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

/// Writes several files as one: every file to a temporary beside it first, then each renamed
/// into place. A target that cannot be replaced (a folder, a read-only or hard-linked file)
/// or a write that fails (a full disk) leaves every target as it was and no temporary; the
/// error names the file.
pub fn write_all_atomic(files: &[(PathBuf, Vec<u8>)]) -> io::Result<()> {
    let named = |p: &Path, e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
    let mut targets = Vec::new();
    for (path, _) in files {
        let target = resolve_links(path)?;
        if target.is_dir() {
            return Err(named(
                &target,
                io::Error::other("a folder is where this file goes"),
            ));
        }
        check_replace(&target).map_err(|e| named(&target, e))?;
        targets.push(target);
    }
    let mut written: Vec<(PathBuf, &Path)> = Vec::new();
    let mut result = Ok(());
    for (target, (_, bytes)) in targets.iter().zip(files) {
        let one = temp_beside(target).and_then(|(_, tmp)| {
            let existing = fs::metadata(target).ok().filter(fs::Metadata::is_file);
            // Pushed before it is written, so a failed write is removed with the rest.
            written.push((tmp.clone(), target.as_path()));
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            if let Some(meta) = &existing {
                f.set_permissions(meta.permissions())?;
            }
            f.write_all(bytes)?;
            f.sync_all()
        });
        if let Err(e) = one {
            result = Err(named(target, e));
            break;
        }
    }
    if result.is_ok() {
        for (tmp, target) in &written {
            if let Err(e) = fs::rename(tmp, target) {
                result = Err(named(target, e));
                break;
            }
        }
    }
    for (tmp, _) in &written {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Removes the temporaries (`.NAME.tmp-PID-N`) that processes no longer alive left in `dir`
/// (a `kill -9` mid-save). Those of live processes are theirs, being written: they stay.
/// Where it cannot be told whether a process lives (no `/proc`), nothing is removed.
pub fn remove_stale_temporaries(dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temporary_of) else {
            continue;
        };
        if !proc.join(pid.to_string()).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The process id in a temporary's name `.NAME.tmp-PID-N` (N: digits), if it is one.
fn temporary_of(name: &str) -> Option<u32> {
    let (_, tail) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    let (pid, n) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n))
        .then(|| pid.parse().ok())
        .flatten()
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

    #[test]
    fn temporaries_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".s.yaml.tmp-4294967295-17");
        let live = dir
            .path()
            .join(format!(".s.yaml.tmp-{}-18", std::process::id()));
        let other = dir.path().join(".notes.tmp-x-1");
        for f in [&dead, &live, &other] {
            fs::write(f, "half a session").unwrap();
        }
        write_atomic(&dir.path().join("other.yaml"), b"runs: []").unwrap();
        assert!(!dead.exists(), "a dead process's temporary is removed");
        assert!(live.exists(), "a live process's temporary is its own");
        assert!(other.exists(), "not a temporary of ours");
        assert_eq!(temporary_of(".a.yaml.tmp-12-3"), Some(12));
        assert_eq!(temporary_of("a.yaml.tmp-12-3"), None);
        assert_eq!(temporary_of(".a.yaml.tmp-12-"), None);
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
