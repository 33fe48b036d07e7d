//! The window, as a process of its own (`tapprove-window`), started when
//! the window is asked for and ended when it is closed: WebKit's memory
//! goes with it, and the agent never holds a webview.
//!
//! The window process relays the page's commands to the agent over its
//! standard output and takes the answers, the events and where to go on
//! its standard input (see `wire`). It ends when its window closes, or
//! when its input closes (the agent quit or died).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::shell::Shell;
use crate::state::Tapprove;
use crate::wire::{Down, MAX_LINE, Up, line};

/// The running window process: where to write to it.
#[derive(Debug)]
struct Running {
    to: mpsc::UnboundedSender<Down>,
    pid: Option<u32>,
}

/// Starts, speaks to and forgets the window process.
#[derive(Debug)]
pub struct Host {
    running: Mutex<Option<Running>>,
    program: PathBuf,
    runtime: tokio::runtime::Handle,
}

impl Host {
    /// `program`: the window binary (`tapprove-window` beside the agent).
    pub fn new(program: PathBuf, runtime: tokio::runtime::Handle) -> Self {
        Self {
            running: Mutex::new(None),
            program,
            runtime,
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `message` to the window, if one runs.
    pub fn send(&self, message: Down) {
        if let Some(running) = self.running().as_ref() {
            let _ = running.to.send(message);
        }
    }

    /// Shows the window at `route`: the running one goes there, or a new
    /// one starts there. `shell` and `state` answer its commands.
    pub fn open(self: &Arc<Self>, route: &str, shell: Weak<dyn Shell>, state: Arc<Tapprove>) {
        let route = crate::route::checked(route);
        *state.opened_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        let mut running = self.running();
        if let Some(window) = running.as_ref()
            && window.to.send(Down::Open { route: route.clone() }).is_ok()
        {
            return;
        }
        let _guard = self.runtime.enter();
        let child = Command::new(&self.program)
            .arg("--window")
            .arg(&route)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(false)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                eprintln!(
                    "tapprove-app: cannot start the window ({}): {e}; reinstall Tapprove",
                    self.program.display()
                );
                return;
            }
        };
        let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return;
        };
        let (to, mut outgoing) = mpsc::unbounded_channel::<Down>();
        let pid = child.id();
        *running = Some(Running { to: to.clone(), pid });
        drop(running);
        // Writes what the agent says, in order.
        self.runtime.spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if input.write_all(line(&message).as_bytes()).await.is_err() || input.flush().await.is_err() {
                    break;
                }
            }
        });
        // Reads the calls; each runs on its own task (a signing waits on the
        // person while the page still asks for other things, and a PIN
        // comes in as a call of its own).
        let host = Arc::downgrade(self);
        let runtime = self.runtime.clone();
        self.runtime.spawn(async move {
            let mut lines = BufReader::new(output);
            let mut buffer = Vec::new();
            loop {
                buffer.clear();
                match read_line(&mut lines, &mut buffer).await {
                    Ok(true) => call(&runtime, &buffer, &to, &shell, &state),
                    Ok(false) => break,
                    Err(e) => {
                        eprintln!("tapprove-app: the window said something unreadable ({e}); closing it");
                        let _ = child.start_kill();
                        break;
                    }
                }
            }
            let _ = child.wait().await;
            if let Some(host) = host.upgrade() {
                let mut running = host.running();
                if running.as_ref().is_some_and(|r| r.pid == pid) {
                    *running = None;
                }
            }
        });
    }
}

/// Reads one line (without its newline) into `buffer`; `false` at the end.
/// A line longer than [`MAX_LINE`] is an error.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    input: &mut R,
    buffer: &mut Vec<u8>,
) -> std::io::Result<bool> {
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(!buffer.is_empty());
        }
        let (taken, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        buffer.extend_from_slice(&available[..taken]);
        input.consume(taken);
        if buffer.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a line too long",
            ));
        }
        if done {
            buffer.pop();
            return Ok(true);
        }
    }
}

/// Runs one call from the window and sends its answer. Anything that is
/// not a call (a library's stray output) is logged and ignored.
fn call(
    runtime: &tokio::runtime::Handle,
    text: &[u8],
    to: &mpsc::UnboundedSender<Down>,
    shell: &Weak<dyn Shell>,
    state: &Arc<Tapprove>,
) {
    let Up::Call { id, command, args } = match serde_json::from_slice::<Up>(text) {
        Ok(call) => call,
        Err(_) => {
            eprintln!("tapprove-window: {}", String::from_utf8_lossy(text));
            return;
        }
    };
    let Some(shell) = shell.upgrade() else {
        return;
    };
    let to = to.clone();
    let state = state.clone();
    runtime.spawn(async move {
        let answer = match crate::commands::dispatch(shell, state, &command, args).await {
            None => Down::Unknown { id },
            Some(Ok(value)) => Down::Answer {
                id,
                answer: Ok(value),
            },
            Some(Err(e)) => Down::Answer {
                id,
                answer: Err(serde_json::to_value(&e).unwrap_or(serde_json::Value::Null)),
            },
        };
        let _ = to.send(answer);
    });
}
