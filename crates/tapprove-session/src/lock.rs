//! Cross-process locks in the state directory. The OS releases a lock when
//! its holder exits, however it exits.
//!
//! - [`LockName::Refresh`]: held only around reading, refreshing and
//!   writing the tokens, so whoever holds it refreshes and everyone else
//!   waits for it, then rereads what it stored.
//! - [`LockName::Login`]: held for the whole interactive sign-in (minutes,
//!   in a browser), so at most one browser tab opens; it does not hold up
//!   processes that only need fresh tokens.
//!
//! Waiting polls `try_lock`, so a waiter that is cancelled (a dropped
//! future) leaves no thread blocked behind.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::Duration;

use crate::error::{Result, SessionError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockName {
    Refresh,
    Login,
}

impl LockName {
    fn file(self) -> &'static str {
        match self {
            Self::Refresh => "session.lock",
            Self::Login => "login.lock",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// How often a waiter tries again.
const POLL: Duration = Duration::from_millis(50);

impl Lock {
    /// Takes the lock `name`, calling `on_wait` once if another process
    /// holds it. Returns whether it had to wait.
    pub(crate) async fn acquire(
        state_dir: &Path,
        name: LockName,
        on_wait: impl FnOnce(),
    ) -> Result<(Self, bool)> {
        let path = state_dir.join(name.file());
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
        let mut on_wait = Some(on_wait);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok((Self { _file: file }, on_wait.is_none())),
                Err(TryLockError::WouldBlock) => {
                    if let Some(tell) = on_wait.take() {
                        tell();
                    }
                    tokio::time::sleep(POLL).await;
                }
                Err(TryLockError::Error(e)) => return Err(state(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let (first, waited) = Lock::acquire(dir.path(), LockName::Refresh, || {}).await.unwrap();
        assert!(!waited);
        let path = dir.path().to_path_buf();
        let second =
            tokio::spawn(async move { Lock::acquire(&path, LockName::Refresh, || {}).await.unwrap().1 });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_finished(), "the second took a held lock");
        // Another lock name is independent.
        Lock::acquire(dir.path(), LockName::Login, || panic!("not held"))
            .await
            .unwrap();
        drop(first);
        assert!(second.await.unwrap(), "the second reports it waited");
    }
}
