//! What the agent and its window process say to each other: one JSON
//! object per line, the agent on the window's standard input, the window
//! on its standard output. The pipes are the window process's own (the
//! agent started it): nothing else can write to them, so no socket or
//! token is needed. The window relays the page's commands and the agent
//! answers each; the agent also sends the events the page listens to and
//! where to go. A line that is not one of these is ignored (and logged).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of these messages: the agent passes it to the window
/// (`--wire N`), which refuses to run with another (after an update, the
/// agent that still runs may be older than the window binary on disk).
pub const VERSION: u32 = 1;

/// The window binary's exit code when its wire version is not the agent's.
pub const VERSION_MISMATCH: i32 = 4;

/// At most this long a line may be (a request's detail is the largest
/// answer: `tapprove_proto::limits` bounds it well below).
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// From the window process to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Up {
    /// The page called `command` with `args`; the answer carries `id`.
    Call { id: u64, command: String, args: Value },
    /// The window was closed: the process is ending, and a new open needs
    /// a new process.
    Closing,
}

/// From the agent to the window process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Down {
    /// The answer to call `id`: `Ok` is the command's value, `Err` its
    /// `{code, message}`.
    Answer { id: u64, answer: Result<Value, Value> },
    /// Command `id` does not exist.
    Unknown { id: u64 },
    /// An event for the page (`overview`, `signing`, `sign_in`).
    Event { name: String, payload: Value },
    /// Show the window at `route` (already checked).
    Open { route: String },
}

/// One message as a line (with its newline).
pub fn line<T: Serialize>(message: &T) -> String {
    let mut text = serde_json::to_string(message).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_round_trip_as_one_line_each() {
        let messages = [
            Down::Answer {
                id: 7,
                answer: Ok(serde_json::json!({"inbox": ["a\nb"]})),
            },
            Down::Answer {
                id: 8,
                answer: Err(serde_json::json!({"code": "busy", "message": "m"})),
            },
            Down::Unknown { id: 9 },
            Down::Event {
                name: "overview".into(),
                payload: Value::Null,
            },
            Down::Open {
                route: "/inbox".into(),
            },
        ];
        for message in messages {
            let text = line(&message);
            assert_eq!(text.matches('\n').count(), 1, "{text}");
            assert_eq!(serde_json::from_str::<Down>(&text).unwrap(), message);
        }
        let call = Up::Call {
            id: 1,
            command: "decide".into(),
            args: serde_json::json!({"id": "x"}),
        };
        assert_eq!(serde_json::from_str::<Up>(&line(&call)).unwrap(), call);
        assert_eq!(
            serde_json::from_str::<Up>(&line(&Up::Closing)).unwrap(),
            Up::Closing
        );
        // Anything else is not a message.
        assert!(serde_json::from_str::<Up>(r#"{"call": {"id": 1}}"#).is_err());
        assert!(serde_json::from_str::<Up>("GLib-WARNING: something").is_err());
    }
}
