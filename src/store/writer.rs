//! One writer for sessions: saves are written in the order they were asked for, by one
//! thread, so an older snapshot can never land after a newer one. When saves of the same file
//! queue up while one is written, only the newest of them is written (it holds all the
//! others' runs); every request is still answered, in order. Runs another process added to
//! the file meanwhile are merged in, not overwritten (see `save_merged`), unless the save was
//! asked to replace the file.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::error::StoreError;
use super::session::{Session, save_merged, save_new, save_session};
use crate::core::record::RunRecord;

/// What a save came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Landed {
    /// Written, with the runs found in the file that the lab did not have.
    Written {
        path: PathBuf,
        merged: Vec<RunRecord>,
    },
    /// Not written: a `Write::Create` found a file there.
    Exists { path: PathBuf },
}

/// What a save came to, or why it failed (the file on disk is then untouched).
pub type Saved = Result<Landed, StoreError>;

/// How a save treats a file already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Keep runs others added to it (autosaves, saves of the open session).
    Merge,
    /// Replace it (the user said so).
    Replace,
    /// Write only if there is no file yet (a new name).
    Create,
}

struct Job {
    path: PathBuf,
    session: Box<Session>,
    how: Write,
}

pub struct SessionWriter {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl SessionWriter {
    /// Starts the writer; `on_saved` hears of each save, in the order they were asked for.
    pub fn spawn(on_saved: impl Fn(Saved) + Send + 'static) -> std::io::Result<SessionWriter> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("promptlab-saves".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut queued = vec![first];
                    queued.extend(rx.try_iter());
                    for i in 0..queued.len() {
                        let (before, after) = queued.split_at_mut(i + 1);
                        let job = &mut before[i];
                        let landed = |merged| Landed::Written {
                            path: job.path.clone(),
                            merged,
                        };
                        // A newer snapshot of this file follows at once: it holds this one's runs.
                        let newer = after.iter().any(|j| j.path == job.path && j.how == job.how);
                        let r = if newer {
                            Ok(landed(Vec::new()))
                        } else {
                            let written = match job.how {
                                Write::Merge => save_merged(&job.path, &mut job.session).map(Some),
                                Write::Replace => {
                                    save_session(&job.path, &job.session).map(|()| Some(Vec::new()))
                                }
                                Write::Create => save_new(&job.path, &job.session),
                            };
                            match written {
                                Ok(None) => Ok(Landed::Exists {
                                    path: job.path.clone(),
                                }),
                                Ok(Some(merged)) => Ok(landed(merged)),
                                Err(e) => Err(StoreError::Unsaved(Box::new(e))),
                            }
                        };
                        on_saved(r);
                    }
                }
            })?;
        Ok(SessionWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a snapshot of `session` to be written to `path`.
    pub fn save(&self, path: PathBuf, session: Session, how: Write) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job {
                path,
                session: Box::new(session),
                how,
            });
        }
    }

    /// Writes everything queued, then stops.
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SessionWriter {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::session::load_session;
    use crate::store::template::resolve;

    #[test]
    fn overlapping_saves_land_in_order_and_the_newest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        let writer = SessionWriter::spawn(move |r| h.lock().unwrap().push(r)).unwrap();
        let (t, _) = resolve("gsm8k-cot").unwrap();
        let mut s = Session::new(t);
        let one_run = crate::store::session::tests::record(&["The answer is 1."]);
        // 60 snapshots, each one run longer, asked for faster than they can be written,
        // alternating between two files.
        for i in 0..60 {
            s.runs.push(one_run.clone());
            let path = if i % 2 == 0 { &a } else { &b };
            writer.save(path.clone(), s.clone(), Write::Merge);
        }
        writer.finish();
        assert_eq!(load_session(&a).unwrap().runs.len(), 59);
        assert_eq!(load_session(&b).unwrap().runs.len(), 60);
        let heard = heard.lock().unwrap();
        assert_eq!(heard.len(), 60, "every save is answered");
        assert!(heard.iter().all(Result::is_ok));
    }

    #[test]
    fn a_failed_save_says_so_and_leaves_the_writer_working() {
        let dir = tempfile::tempdir().unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        let writer = SessionWriter::spawn(move |r| h.lock().unwrap().push(r)).unwrap();
        let (t, _) = resolve("gsm8k-cot").unwrap();
        let s = Session::new(t);
        std::fs::write(dir.path().join("blocker"), "a file, not a folder").unwrap();
        writer.save(dir.path().join("blocker/x.yaml"), s.clone(), Write::Merge);
        writer.save(dir.path().join("ok.yaml"), s, Write::Replace);
        writer.finish();
        let heard = heard.lock().unwrap();
        assert!(
            heard[0]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("untouched"))
        );
        assert!(heard[1].is_ok());
    }
}
