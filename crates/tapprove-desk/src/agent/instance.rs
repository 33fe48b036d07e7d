//! One agent per session: the first claims a name on the session bus; a
//! later launch hands its arguments (a link, or nothing: open the window)
//! to that one and exits. Anything of this user's session may call
//! `Forward`, as it may start `tapprove-app` with the same arguments: what
//! arrives is only a route to show, checked like every link.

use futures_util::StreamExt;
use tokio::sync::mpsc;
use zbus::fdo::{RequestNameFlags, RequestNameReply};
use zbus::message::Type;

/// The agent's name on the session bus.
pub const NAME: &str = "dev.tapprove.app.Agent";
const PATH: &str = "/dev/tapprove/Agent";
const INTERFACE: &str = "dev.tapprove.Agent";
const FORWARD: &str = "Forward";

/// Longest argument list (and argument) a later launch may hand over.
const MAX_ARGS: usize = 16;
const MAX_ARG: usize = 4096;

/// What claiming found.
#[derive(Debug)]
pub enum Claim {
    /// This is the agent: later launches' arguments arrive here (keep the
    /// connection: the name goes with it).
    First {
        bus: zbus::Connection,
        launches: mpsc::UnboundedReceiver<Vec<String>>,
    },
    /// Another agent runs and has `args` now.
    Handed,
}

/// Claims the name, or hands `args` to the agent that holds it.
pub async fn claim(args: &[String]) -> zbus::Result<Claim> {
    let bus = zbus::Connection::session().await?;
    // Listening before the name is ours: no call is missed.
    let calls = zbus::MessageStream::from(&bus);
    let reply = bus
        .request_name_with_flags(NAME, RequestNameFlags::DoNotQueue.into())
        .await;
    match reply {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => {
            let (to, launches) = mpsc::unbounded_channel();
            tokio::spawn(answer(bus.clone(), calls, to));
            Ok(Claim::First { bus, launches })
        }
        Ok(RequestNameReply::Exists | RequestNameReply::InQueue) | Err(zbus::Error::NameTaken) => {
            bus.call_method(Some(NAME), PATH, Some(INTERFACE), FORWARD, &(args,))
                .await?;
            Ok(Claim::Handed)
        }
        Err(e) => Err(e),
    }
}

/// Answers `Forward` calls: their arguments go to `to`. Other calls to the
/// agent's path get an error; everything else on the bus is not ours.
async fn answer(
    bus: zbus::Connection,
    mut calls: zbus::MessageStream,
    to: mpsc::UnboundedSender<Vec<String>>,
) {
    while let Some(message) = calls.next().await {
        // A message zbus could not read ends nothing: the next may be fine.
        let Ok(message) = message else {
            continue;
        };
        let header = message.header();
        if header.message_type() != Type::MethodCall || header.path().is_none_or(|p| p.as_str() != PATH) {
            continue;
        }
        let forward = header.interface().is_some_and(|i| i.as_str() == INTERFACE)
            && header.member().is_some_and(|m| m.as_str() == FORWARD);
        let args: Option<Vec<String>> = if forward {
            message.body().deserialize().ok()
        } else {
            None
        };
        match args {
            Some(args) if args.len() <= MAX_ARGS && args.iter().all(|a| a.len() <= MAX_ARG) => {
                let _ = bus.reply(&header, &()).await;
                let _ = to.send(args);
            }
            _ => {
                let _ = bus
                    .reply_error(
                        &header,
                        "org.freedesktop.DBus.Error.InvalidArgs",
                        &"Tapprove's agent takes Forward(as): at most 16 arguments of at most 4096 bytes",
                    )
                    .await;
            }
        }
    }
}
