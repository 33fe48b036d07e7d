//! A thread of its own for the notification server's blocking D-Bus
//! calls (see `Notifier`).

use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, PoisonError};

/// Talks to the notification server on a thread of its own, one job at a
/// time in the order given: its D-Bus calls block, and a busy server (a
/// burst of a thousand requests keeps one busy for minutes) must not hold
/// up the poller, which would then take requests in as slowly as the
/// server shows them.
#[derive(Debug, Default)]
pub struct Notifier {
    jobs: Mutex<Option<Sender<Job>>>,
    /// Jobs queued or running.
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Notifier {
    /// Queues `job` and returns at once. The thread starts with the first
    /// job (again if it ever ended) and ends with the notifier.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = self.waiting.clone();
        waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut job: Job = Box::new(move || {
            job();
            waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
        if let Some(queue) = jobs.as_ref() {
            match queue.send(job) {
                Ok(()) => return,
                // The thread ended: a new one takes the job.
                Err(returned) => job = returned.0,
            }
        }
        let (queue, work) = channel::<Job>();
        let started = std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                for job in work {
                    job();
                }
            });
        match started {
            Ok(_) => {
                let _ = queue.send(job);
                *jobs = Some(queue);
            }
            Err(e) => {
                self.waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                eprintln!("tapprove-app: cannot start the notifications' thread: {e}");
            }
        }
    }

    /// Jobs queued or running (the one asking included, from a job).
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_notifier_runs_jobs_in_order_without_making_the_caller_wait() {
        let notifier = Notifier::default();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (done, finished) = std::sync::mpsc::channel::<&str>();
        let first = done.clone();
        let asked = std::time::Instant::now();
        // A notification server that does not answer yet.
        notifier.run(move || {
            let _ = held.recv_timeout(std::time::Duration::from_secs(2));
            let _ = first.send("first");
        });
        notifier.run(move || {
            let _ = done.send("second");
        });
        assert!(
            asked.elapsed() < std::time::Duration::from_millis(100),
            "run waited for the job before it"
        );
        assert!(
            finished.try_recv().is_err(),
            "the second job ran before the first"
        );
        // Both wait (one runs): a job knows whether another comes after it.
        assert_eq!(notifier.waiting(), 2);
        release.send(()).unwrap();
        let timeout = std::time::Duration::from_secs(5);
        assert_eq!(finished.recv_timeout(timeout).unwrap(), "first");
        assert_eq!(finished.recv_timeout(timeout).unwrap(), "second");
        let deadline = std::time::Instant::now() + timeout;
        while notifier.waiting() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "{} still waiting",
                notifier.waiting()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
