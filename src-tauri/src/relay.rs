//! The window as a process of the tray agent (Linux): started by
//! `tapprove-app` with `--window ROUTE --wire N`, it shows the page and
//! relays each command the page calls to the agent over the pipes it was
//! given as standard input and output, taking the answers, the events and
//! where to go back (the format is `tapprove_desk::wire`). It first moves
//! the pipes to descriptors of its own, closed on exec, and gives standard
//! output to standard error: nothing it starts (WebKit's processes) can
//! write to the agent or hold the pipes open. The access control is Tauri's as everywhere:
//! only the commands the capability grants reach the relay. The process
//! ends when its window closes, or when the agent is gone (its input
//! closes).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tapprove_desk::COMMANDS;
use tapprove_desk::wire::{Down, MAX_LINE, Up, line};
use tauri::ipc::{Invoke, InvokeResolver};
use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime};
use zeroize::Zeroizing;

use crate::trace::trace;

/// Calls sent to the agent and not answered yet.
type Waiting<R> = Arc<Mutex<HashMap<u64, InvokeResolver<R>>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

const AGENT_GONE: &str = "Tapprove's tray app has stopped: start Tapprove again";

/// The invoke handler: each granted command goes to the agent, its
/// resolver waits in `waiting` for the answer.
fn relay<R: Runtime>(
    waiting: Waiting<R>,
    out: Arc<Mutex<File>>,
) -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    let next = AtomicU64::new(1);
    move |invoke: Invoke<R>| {
        let command = invoke.message.command().to_owned();
        if !COMMANDS.contains(&command.as_str()) {
            return false;
        }
        let id = next.fetch_add(1, Ordering::Relaxed);
        trace(&format!("call {id} `{command}`"));
        crate::window::page_called(invoke.message.webview().app_handle());
        let args = crate::shell::arguments(invoke.message.payload());
        lock(&waiting).insert(id, invoke.resolver);
        // (A call may carry a PIN: the copy is wiped once written.)
        let call = Zeroizing::new(line(&Up::Call { id, command, args }));
        let mut out = lock(&out);
        if out.write_all(call.as_bytes()).and_then(|()| out.flush()).is_err()
            && let Some(resolver) = lock(&waiting).remove(&id)
        {
            resolver.reject(tapprove_desk::error::AppError::new(
                tapprove_desk::error::ErrorCode::Internal,
                AGENT_GONE,
            ));
        }
        true
    }
}

/// Takes what the agent says until it stops; then the window closes.
fn listen<R: Runtime>(app: AppHandle<R>, waiting: Waiting<R>, input: File) {
    let mut input = BufReader::new(input);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match input
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buffer)
        {
            Ok(0) | Err(_) => break,
            Ok(_) if buffer.len() > MAX_LINE => {
                eprintln!("tapprove-window: the agent sent a line too long; closing");
                break;
            }
            Ok(_) => {}
        }
        match serde_json::from_slice::<Down>(&buffer) {
            Ok(Down::Answer { id, answer }) => {
                trace(&format!("answer {id} ({} bytes)", buffer.len()));
                if let Some(resolver) = lock(&waiting).remove(&id) {
                    match answer {
                        Ok(value) => resolver.resolve(value),
                        Err(error) => resolver.reject(error),
                    }
                }
            }
            Ok(Down::Unknown { id }) => {
                if let Some(resolver) = lock(&waiting).remove(&id) {
                    resolver.reject("Command not found".to_owned());
                }
            }
            Ok(Down::Event { name, payload }) => {
                let _ = app.emit(&name, payload);
            }
            Ok(Down::Open { route }) => crate::window::open(&app, &route),
            Err(e) => eprintln!("tapprove-window: unreadable message from the agent ({e})"),
        }
    }
    for (_, resolver) in lock(&waiting).drain() {
        resolver.reject(tapprove_desk::error::AppError::new(
            tapprove_desk::error::ErrorCode::Internal,
            AGENT_GONE,
        ));
    }
    app.exit(0);
}

/// The pipes to the agent, moved off standard input and output (see the
/// module's comment): (from the agent, to the agent).
#[cfg(unix)]
fn take_pipes() -> std::io::Result<(File, File)> {
    let input = rustix::io::fcntl_dupfd_cloexec(std::io::stdin(), 3)?;
    let output = rustix::io::fcntl_dupfd_cloexec(std::io::stdout(), 3)?;
    rustix::stdio::dup2_stdin(File::open("/dev/null")?)?;
    rustix::stdio::dup2_stdout(std::io::stderr())?;
    Ok((File::from(input), File::from(output)))
}

#[cfg(not(unix))]
fn take_pipes() -> std::io::Result<(File, File)> {
    Err(std::io::Error::other(
        "the window runs as the agent's process on Linux only",
    ))
}

/// Runs the window at `route` until it is closed. `wire` is the version
/// of the agent's messages (`--wire N`). A `hidden` window (`--hidden`)
/// loads its page without showing it, until the agent says where to open.
pub fn run(route: &str, wire: Option<&str>, hidden: bool) {
    crate::trace::start();
    if wire != Some(tapprove_desk::wire::VERSION.to_string().as_str()) {
        eprintln!(
            "tapprove-window: this window speaks version {} to the tray app, which speaks {}: quit Tapprove and start it again",
            tapprove_desk::wire::VERSION,
            wire.unwrap_or("none")
        );
        std::process::exit(tapprove_desk::wire::VERSION_MISMATCH);
    }
    let (input, output) = match take_pipes() {
        Ok(pipes) => pipes,
        Err(e) => {
            eprintln!(
                "tapprove-window: cannot take the pipes to the tray app ({e}); start Tapprove with `tapprove-app`"
            );
            std::process::exit(1);
        }
    };
    let out = Arc::new(Mutex::new(output));
    let closing = out.clone();
    let waiting: Waiting<tauri::Wry> = Arc::default();
    let route = tapprove_desk::route::checked(route);
    let listening = waiting.clone();
    let app = tauri::Builder::default()
        .invoke_handler(relay(waiting, out))
        .setup(move |app| {
            trace("set up");
            let handle = app.handle().clone();
            if hidden {
                crate::window::prepare(&handle, &route);
            } else {
                crate::window::open(&handle, &route);
            }
            trace("window asked for");
            let _ = std::thread::Builder::new()
                .name("agent".into())
                .spawn(move || listen(handle, listening, input));
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        // Closing the window (the last) ends the process; the agent hears
        // of it first, so an open that comes now starts a new window.
        Ok(app) => app.run(move |_, event| {
            if let RunEvent::WindowEvent {
                event: tauri::WindowEvent::Destroyed,
                ..
            } = event
            {
                let mut out = lock(&closing);
                let _ = out
                    .write_all(line(&Up::Closing).as_bytes())
                    .and_then(|()| out.flush());
            }
        }),
        Err(e) => {
            eprintln!("tapprove-window: cannot open the window: {e}");
            std::process::exit(1);
        }
    }
}
