//! The window, as a process of its own (`tapprove-window`), started when
//! the window is asked for and ended when it is closed: WebKit's memory
//! goes with it, and the agent never holds a webview.
//!
//! The window process relays the page's commands to the agent over its
//! standard output and takes the answers, the events and where to go on
//! its standard input (see `wire`). It ends when its window closes, or
//! when its input closes (the agent quit or died).
//!
//! Warm start: starting the window takes about 400 ms (WebKit's three
//! processes load their libraries; docs/app.md). When the window may be
//! asked for soon (the tray menu is opening, or a notification that opens
//! it was shown), [`Host::prepare`] starts it hidden; its page loads and
//! renders meanwhile, and the open that follows only shows it. A prepared
//! window nobody opened ends [`PREPARED_FOR`] after the last hint, so the
//! idle agent holds no WebKit.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use zeroize::Zeroize;

use crate::shell::Shell;
use crate::state::Tapprove;
use crate::wire::{Down, MAX_LINE, Up, line};

/// How long a prepared window waits, hidden, for the open it was started
/// for (counted from the last hint).
pub const PREPARED_FOR: Duration = Duration::from_secs(20);

/// The running window process: where to write to it, which start of it
/// this is, and, while it has never been shown, the last hint it was kept
/// for.
#[derive(Debug)]
struct Running {
    to: mpsc::UnboundedSender<Down>,
    generation: u64,
    hidden_since_hint: Option<Instant>,
    /// Closes its input, which ends it.
    end: Arc<tokio::sync::Notify>,
    started: Instant,
    /// Whether its page has called anything yet (it has loaded).
    called: Arc<std::sync::atomic::AtomicBool>,
}

/// A window started ahead whose page has called nothing this long after
/// it started is not trusted to show: an open ends it and starts a new one
/// (once seen under heavy load: the page loaded and never ran).
const LOADS_WITHIN: Duration = Duration::from_secs(10);

/// Starts, speaks to and forgets the window process.
#[derive(Debug)]
pub struct Host {
    running: Mutex<Option<Running>>,
    started: std::sync::atomic::AtomicU64,
    program: PathBuf,
    runtime: tokio::runtime::Handle,
    prepared_for: Duration,
    loads_within: Duration,
    /// Set when a window could not start or ran into another wire version
    /// (an update installed under the running agent): no more starts
    /// ahead, which would fail the same way unasked; an open still tries.
    cold_only: std::sync::atomic::AtomicBool,
}

impl Host {
    /// `program`: the window binary (`tapprove-window` beside the agent).
    pub fn new(program: PathBuf, runtime: tokio::runtime::Handle) -> Self {
        Self {
            running: Mutex::new(None),
            started: std::sync::atomic::AtomicU64::new(0),
            program,
            runtime,
            prepared_for: PREPARED_FOR,
            loads_within: LOADS_WITHIN,
            cold_only: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `message` to the window, if one runs. A window started ahead
    /// and not yet shown takes no events: its page asks for the overview
    /// as it loads and is sent a fresh one when opened, and in a burst of
    /// requests the pushes would keep it busy for nobody.
    pub fn send(&self, message: Down) {
        if let Some(running) = self.running().as_ref()
            && !(running.hidden_since_hint.is_some() && matches!(message, Down::Event { .. }))
        {
            let _ = running.to.send(message);
        }
    }

    /// Shows the window at `route`: the running one (shown or prepared)
    /// goes there, or a new one starts there. `shell` and `state` answer
    /// its commands.
    pub fn open(self: &Arc<Self>, route: &str, shell: Weak<dyn Shell>, state: Arc<Tapprove>) {
        let route = crate::route::checked(route);
        *state.opened_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        let mut running = self.running();
        if running.as_ref().is_some_and(|w| {
            w.hidden_since_hint.is_some()
                && !w.called.load(std::sync::atomic::Ordering::SeqCst)
                && w.started.elapsed() >= self.loads_within
        }) && let Some(stuck) = running.take()
        {
            eprintln!("tapprove-app: the window started ahead never loaded; starting a new one");
            stuck.end.notify_one();
        }
        if let Some(window) = running.as_mut() {
            if window.hidden_since_hint.is_some() {
                let overview = state.overview(state.clock.now());
                let _ = window.to.send(Down::Event {
                    name: "overview".into(),
                    payload: serde_json::to_value(&overview).unwrap_or(serde_json::Value::Null),
                });
            }
            if window.to.send(Down::Open { route: route.clone() }).is_ok() {
                window.hidden_since_hint = None;
                return;
            }
        }
        self.start(&mut running, &route, false, shell, state);
    }

    /// The window may be asked for soon: starts it hidden at the inbox,
    /// unless one runs (a prepared one is kept [`PREPARED_FOR`] longer).
    pub fn prepare(self: &Arc<Self>, shell: Weak<dyn Shell>, state: Arc<Tapprove>) {
        let prepared_for = self.prepared_for;
        let mut running = self.running();
        if running.as_ref().is_some_and(|w| {
            w.hidden_since_hint.is_some()
                && !w.called.load(std::sync::atomic::Ordering::SeqCst)
                && w.started.elapsed() >= self.loads_within
        }) && let Some(stuck) = running.take()
        {
            eprintln!("tapprove-app: the window started ahead never loaded; starting a new one");
            stuck.end.notify_one();
        }
        if let Some(window) = running.as_mut() {
            if window.hidden_since_hint.is_some() {
                window.hidden_since_hint = Some(Instant::now());
            }
            return;
        }
        if self.cold_only.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        // Nobody asked for this window yet: what an earlier open left
        // there is no open of this one.
        state
            .opened_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(generation) = self.start(&mut running, "/inbox", true, shell, state) else {
            return;
        };
        drop(running);
        // Ends it if no open came within PREPARED_FOR of the last hint.
        let host = Arc::downgrade(self);
        self.runtime.spawn(async move {
            let mut wait = prepared_for;
            loop {
                tokio::time::sleep(wait).await;
                let Some(host) = host.upgrade() else { return };
                let mut running = host.running();
                let Some(hint) = running
                    .as_ref()
                    .filter(|r| r.generation == generation)
                    .and_then(|r| r.hidden_since_hint)
                else {
                    return; // shown, ended, or replaced
                };
                let waited = hint.elapsed();
                if waited < prepared_for {
                    wait = prepared_for - waited;
                    continue;
                }
                // Forgotten at once, so an open from now on starts a new one.
                if let Some(window) = running.take() {
                    window.end.notify_one();
                }
                return;
            }
        });
    }

    /// Starts the window process at `route` (hidden: `--hidden`) and makes
    /// it the running one; its generation, or `None` if it could not start.
    fn start(
        self: &Arc<Self>,
        running: &mut Option<Running>,
        route: &str,
        hidden: bool,
        shell: Weak<dyn Shell>,
        state: Arc<Tapprove>,
    ) -> Option<u64> {
        let _guard = self.runtime.enter();
        let mut command = Command::new(&self.program);
        command
            .arg("--window")
            .arg(route)
            .arg("--wire")
            .arg(crate::wire::VERSION.to_string());
        if hidden {
            command.arg("--hidden");
        }
        let child = command
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
                self.cold_only.store(true, std::sync::atomic::Ordering::SeqCst);
                return None;
            }
        };
        let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return None;
        };
        let (to, mut outgoing) = mpsc::unbounded_channel::<Down>();
        let generation = self.started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let end = Arc::new(tokio::sync::Notify::new());
        let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
        *running = Some(Running {
            to: to.clone(),
            generation,
            hidden_since_hint: hidden.then(Instant::now),
            end: end.clone(),
            started: Instant::now(),
            called: called.clone(),
        });
        // Writes what the agent says, in order, until told to end it
        // (closing its input ends it).
        self.runtime.spawn(async move {
            loop {
                let message = tokio::select! {
                    message = outgoing.recv() => message,
                    () = end.notified() => None,
                };
                let Some(message) = message else { break };
                if input.write_all(line(&message).as_bytes()).await.is_err() || input.flush().await.is_err() {
                    break;
                }
            }
        });
        // Reads the calls; each runs on its own task (a signing waits on the
        // person while the page still asks for other things, and a PIN
        // comes in as a call of its own).
        let host = Arc::downgrade(self);
        let mismatch = Arc::downgrade(self);
        let runtime = self.runtime.clone();
        // Forgets this window (a later open starts a new one), unless a
        // newer one already took its place.
        let forget = move || {
            if let Some(host) = host.upgrade() {
                let mut running = host.running();
                if running.as_ref().is_some_and(|r| r.generation == generation) {
                    *running = None;
                }
            }
        };
        self.runtime.spawn(async move {
            let mut lines = BufReader::new(output);
            let mut buffer = Vec::new();
            loop {
                // (A line may carry a PIN: nothing of it stays behind.)
                buffer.zeroize();
                match read_line(&mut lines, &mut buffer).await {
                    Ok(true) => match serde_json::from_slice::<Up>(&buffer) {
                        Ok(Up::Call { id, command, args }) => {
                            called.store(true, std::sync::atomic::Ordering::SeqCst);
                            call(&runtime, id, command, args, &to, &shell, &state)
                        }
                        Ok(Up::Closing) => forget(),
                        // A library's stray output: said how long, never what.
                        Err(_) => eprintln!(
                            "tapprove-app: ignored a line of {} bytes from the window that is not a message",
                            buffer.len()
                        ),
                    },
                    Ok(false) => break,
                    Err(e) => {
                        eprintln!("tapprove-app: the window said something unreadable ({e}); closing it");
                        let _ = child.start_kill();
                        break;
                    }
                }
            }
            buffer.zeroize();
            let status = child.wait().await;
            forget();
            if status.is_ok_and(|s| s.code() == Some(crate::wire::VERSION_MISMATCH)) {
                if let Some(host) = mismatch.upgrade() {
                    host.cold_only.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                // Said when someone opened it; a window started ahead
                // fails unseen (the next open says it).
                if !hidden {
                    crate::notify::restart_needed();
                }
            }
        });
        Some(generation)
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

/// Runs one call from the window on its own task and sends its answer.
fn call(
    runtime: &tokio::runtime::Handle,
    id: u64,
    command: String,
    args: serde_json::Value,
    to: &mpsc::UnboundedSender<Down>,
    shell: &Weak<dyn Shell>,
    state: &Arc<Tapprove>,
) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::models::Overview;

    /// A shell that only records what the window was sent.
    struct Recording;

    impl Shell for Recording {
        fn emit(&self, _event: &str, _payload: serde_json::Value) {}
        fn open(&self, _route: &str) {}
        fn tray(&self, _overview: &Overview) {}
        fn quit(&self) {}
        fn autostart(&self) -> bool {
            false
        }
        fn set_autostart(&self, _enabled: bool) -> crate::error::Result<()> {
            Ok(())
        }
    }

    /// A stand-in for the window process (the real one needs a display):
    /// it writes a stray line, three calls, then copies what the agent says
    /// to `out` until it has four lines.
    const WINDOW: &str = r#"#!/usr/bin/env python3
import json, sys
out = open(sys.argv[0] + ".out", "w")
out.write(json.dumps(sys.argv[1:]) + "\n")
print("Gtk-WARNING: not a message", flush=True)
print(json.dumps({"call": {"id": 1, "command": "overview", "args": None}}), flush=True)
print(json.dumps({"call": {"id": 2, "command": "no_such_command", "args": {}}}), flush=True)
print(json.dumps({"call": {"id": 3, "command": "request", "args": {"id": "../../etc"}}}), flush=True)
for _ in range(4):
    out.write(sys.stdin.readline())
    out.flush()
"#;

    /// A stand-in that only records: its arguments, every line the agent
    /// sends, and "EOF" when its input closes (which ends a real window).
    const RECORDER: &str = r#"#!/usr/bin/env python3
import json, sys
out = open(sys.argv[0] + ".out", "a")
out.write(json.dumps(sys.argv[1:]) + "\n")
out.flush()
for line in sys.stdin:
    out.write(line)
    out.flush()
out.write("EOF\n")
out.flush()
"#;

    struct Recorded {
        _dir: tempfile::TempDir,
        out: PathBuf,
        host: Arc<Host>,
        shell: Arc<dyn Shell>,
        state: Arc<Tapprove>,
        _runtime: tokio::runtime::Runtime,
    }

    impl Recorded {
        fn new(window: &str, prepared_for: Duration) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let program = dir.path().join("tapprove-window");
            std::fs::write(&program, window).unwrap();
            std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let state = Arc::new(Tapprove::with_config(
                dir.path().join("config.toml"),
                dir.path().to_path_buf(),
                Err(crate::error::AppError::new(
                    crate::error::ErrorCode::NotConfigured,
                    "no settings",
                )),
            ));
            let mut host = Host::new(program.clone(), runtime.handle().clone());
            host.prepared_for = prepared_for;
            Self {
                out: program.with_extension("out"),
                host: Arc::new(host),
                shell: Arc::new(Recording),
                state,
                _dir: dir,
                _runtime: runtime,
            }
        }

        fn prepare(&self) {
            self.host.prepare(Arc::downgrade(&self.shell), self.state.clone());
        }

        fn open(&self, route: &str) {
            self.host
                .open(route, Arc::downgrade(&self.shell), self.state.clone());
        }

        /// The recorded lines, once `done` holds for them (20 s at most).
        fn until(&self, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let text = std::fs::read_to_string(&self.out).unwrap_or_default();
                let lines: Vec<String> = text.lines().map(str::to_owned).collect();
                if done(&lines) {
                    return lines;
                }
                assert!(Instant::now() < deadline, "{what}: {lines:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn started(lines: &[String]) -> Vec<&String> {
        lines.iter().filter(|l| l.starts_with('[')).collect()
    }

    #[test]
    fn a_prepared_window_starts_hidden_and_the_open_that_follows_only_shows_it() {
        let recorded = Recorded::new(RECORDER, Duration::from_secs(2));
        let pushed = |label: &str| Down::Event {
            name: "pushed".into(),
            payload: serde_json::json!(label),
        };
        recorded.prepare();
        // Another hint while it waits starts nothing more; pushed events
        // do not reach it while nobody sees it.
        recorded.prepare();
        recorded.host.send(pushed("while hidden"));
        recorded.open("/request/AbC123");
        recorded.host.send(pushed("once shown"));
        let lines = recorded.until("not told where to go", |l| l.len() >= 4);
        assert_eq!(
            lines[0],
            format!(
                r#"["--window", "/inbox", "--wire", "{}", "--hidden"]"#,
                crate::wire::VERSION
            )
        );
        // On the open: a fresh overview, where to go, then events again.
        match serde_json::from_str::<Down>(&lines[1]).unwrap() {
            Down::Event { name, payload } => {
                assert_eq!(name, "overview");
                assert_eq!(payload["session"]["health"], "not_configured", "{payload}");
            }
            other => panic!("not the overview first: {other:?}"),
        }
        assert_eq!(
            serde_json::from_str::<Down>(&lines[2]).unwrap(),
            Down::Open {
                route: "/request/AbC123".into()
            }
        );
        assert_eq!(
            serde_json::from_str::<Down>(&lines[3]).unwrap(),
            pushed("once shown")
        );
        // Shown, it is no longer ended for want of an open.
        std::thread::sleep(Duration::from_millis(2600));
        let lines = recorded.until("", |_| true);
        assert_eq!(started(&lines).len(), 1, "{lines:?}");
        assert!(
            !lines.contains(&"EOF".to_owned()),
            "a shown window was ended: {lines:?}"
        );
    }

    #[test]
    fn a_prepared_window_nobody_opens_ends_and_a_later_open_starts_a_new_one() {
        let recorded = Recorded::new(RECORDER, Duration::from_millis(300));
        recorded.prepare();
        let lines = recorded.until("its input was not closed", |l| {
            l.last().is_some_and(|l| l == "EOF")
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        recorded.open("/history");
        let lines = recorded.until("no new window was started", |l| started(l).len() == 2);
        assert_eq!(
            started(&lines)[1],
            &format!(
                r#"["--window", "/history", "--wire", "{}"]"#,
                crate::wire::VERSION
            )
        );
    }

    #[test]
    fn each_hint_keeps_a_prepared_window_longer() {
        let recorded = Recorded::new(RECORDER, Duration::from_millis(600));
        let started_at = Instant::now();
        recorded.prepare();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(250));
            recorded.prepare();
        }
        let lines = recorded.until("its input was not closed", |l| {
            l.last().is_some_and(|l| l == "EOF")
        });
        assert_eq!(started(&lines).len(), 1, "{lines:?}");
        // The last hint came about 1 s after the first, so it ended about
        // 0.6 s after that, not 0.6 s after the first.
        assert!(
            started_at.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            started_at.elapsed()
        );
    }

    #[test]
    fn a_window_started_ahead_whose_page_never_loaded_is_replaced_on_open() {
        // The recorder never calls anything: a page that did not load.
        let mut recorded = Recorded::new(RECORDER, Duration::from_secs(20));
        Arc::get_mut(&mut recorded.host).unwrap().loads_within = Duration::from_millis(300);
        recorded.prepare();
        recorded.until("not started", |l| started(l).len() == 1);
        std::thread::sleep(Duration::from_millis(400));
        recorded.open("/history");
        let lines = recorded.until("not replaced", |l| {
            started(l).len() == 2 && l.contains(&"EOF".to_owned())
        });
        assert_eq!(
            started(&lines)[1],
            &format!(
                r#"["--window", "/history", "--wire", "{}"]"#,
                crate::wire::VERSION
            )
        );
    }

    /// A window binary of another wire version (an update installed
    /// under the running agent): it says so by its exit code.
    const NEWER: &str = r#"#!/usr/bin/env python3
import json, sys
out = open(sys.argv[0] + ".out", "a")
out.write(json.dumps(sys.argv[1:]) + "\n")
out.flush()
sys.exit(4)
"#;

    #[test]
    fn after_a_window_of_another_version_no_more_are_started_ahead_but_an_open_still_tries() {
        assert_eq!(crate::wire::VERSION_MISMATCH, 4);
        let recorded = Recorded::new(NEWER, Duration::from_secs(20));
        recorded.prepare();
        recorded.until("not started", |l| started(l).len() == 1);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !recorded.host.cold_only.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the mismatch was not noticed");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Forgotten once it exited: the hints start nothing.
        let deadline = Instant::now() + Duration::from_secs(20);
        while recorded.host.running().is_some() {
            assert!(Instant::now() < deadline, "the ended window was not forgotten");
            std::thread::sleep(Duration::from_millis(20));
        }
        recorded.prepare();
        recorded.prepare();
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(started(&recorded.until("", |_| true)).len(), 1);
        recorded.open("/inbox");
        let lines = recorded.until("an open did not try", |l| started(l).len() == 2);
        assert!(!lines[1].contains("--hidden"), "{lines:?}");
    }

    #[test]
    fn the_window_process_is_answered_and_told_where_to_go() {
        let recorded = Recorded::new(WINDOW, PREPARED_FOR);
        // A route the agent would never show is replaced by the inbox.
        recorded.open("/admin/../../etc");
        recorded.until("the window was not answered", |l| l.len() >= 4);
        // Opening it again while it runs sends it there, not a second process.
        recorded.open("/history");
        let lines = recorded
            .until("the open window was not told where to go", |l| l.len() >= 5)
            .join("\n");
        let mut lines = lines.lines();
        assert_eq!(
            lines.next().unwrap(),
            format!(r#"["--window", "/inbox", "--wire", "{}"]"#, crate::wire::VERSION)
        );
        let mut answers: Vec<Down> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
        let open = answers.pop().unwrap();
        assert_eq!(
            open,
            Down::Open {
                route: "/history".into()
            }
        );
        answers.sort_by_key(|d| match d {
            Down::Answer { id, .. } | Down::Unknown { id } => *id,
            _ => 0,
        });
        match &answers[0] {
            Down::Answer {
                id: 1,
                answer: Ok(overview),
            } => {
                assert_eq!(overview["session"]["health"], "not_configured", "{overview}");
            }
            other => panic!("overview: {other:?}"),
        }
        assert_eq!(answers[1], Down::Unknown { id: 2 });
        match &answers[2] {
            Down::Answer {
                id: 3,
                answer: Err(e),
            } => assert_eq!(e["code"], "invalid_input", "{e}"),
            other => panic!("a bad id: {other:?}"),
        }
    }
}
