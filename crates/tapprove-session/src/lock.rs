//! One refresh owner across processes: whoever holds the lock file in the
//! state directory refreshes or signs in; everyone else waits for it and
//! then rereads what it stored. The OS releases the lock when its holder
//! exits, however it exits.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{Result, SessionError};

const LOCK_FILE: &str = "session.lock";

#[derive(Debug)]
pub(crate) struct RefreshLock {
    _file: File,
}

impl RefreshLock {
    /// Takes the lock, calling `on_wait` first if another process holds it.
    /// Blocking: call from a blocking task.
    pub(crate) fn acquire(state_dir: &Path, on_wait: impl FnOnce()) -> Result<Self> {
        let path = state_dir.join(LOCK_FILE);
        let state = |source| SessionError::State {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(state)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(state)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait();
                file.lock().map_err(state)?;
            }
            Err(TryLockError::Error(e)) => return Err(state(e)),
        }
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RefreshLock::acquire(dir.path(), || panic!("nobody holds it yet")).unwrap();
        let waited = AtomicBool::new(false);
        std::thread::scope(|s| {
            let handle = s
                .spawn(|| RefreshLock::acquire(dir.path(), || waited.store(true, Ordering::SeqCst)).unwrap());
            while !waited.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            drop(first);
            handle.join().unwrap();
        });
        assert!(waited.load(Ordering::SeqCst));
    }
}
