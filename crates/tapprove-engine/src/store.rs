//! The local database: the inbox cache, the outbox journal and history.
//!
//! The outbox is a journal: a signed decision is written here before it is
//! sent, and its row says what became of it (`pending`, `delivered`, or
//! `closed` with Step Functions' reason), so a crash or restart loses
//! nothing and a decision is never silently dropped. The file is created
//! owner-only: it holds task tokens.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use tapprove_aws::sfn::{TaskGone, TaskToken};
use tapprove_proto::gate_policy::GateStatus;
use tapprove_proto::{Request, UtcTime};

use crate::error::{EngineError, Result};
use crate::history::{Mine, Outcome, Seen};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
CREATE TABLE IF NOT EXISTS inbox (
    id TEXT PRIMARY KEY,
    request_sha256 TEXT NOT NULL UNIQUE,
    request TEXT NOT NULL,
    source TEXT NOT NULL,
    task_token TEXT NOT NULL,
    queue_url TEXT,
    receipt TEXT,
    received_at TEXT NOT NULL,
    deadline TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identity (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    approver TEXT NOT NULL,
    arn TEXT NOT NULL,
    seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    title TEXT NOT NULL,
    task_token TEXT NOT NULL,
    verdict TEXT NOT NULL,
    decision TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'closed')),
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    request TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS seen (
    request_sha256 TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    requester TEXT NOT NULL,
    execution TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    deadline TEXT NOT NULL,
    own INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    closed_at TEXT
);
";

/// Adds a nullable text column that databases made by older versions lack:
/// the outbox's `request` (before the decision endpoint took the request
/// with each decision; old rows keep NULL: sent to Step Functions directly
/// as before, or refused by an endpoint that now wants the request, and
/// then retried from the inbox's copy), the inbox's `status` (before gates
/// said where a request stands; NULL until the next poll brings one).
fn add_column(conn: &Connection, table: &str, column: &str) -> Result<()> {
    let has = conn
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = '{column}'"
        ))
        .and_then(|mut s| s.exists([]))
        .map_err(db)?;
    if !has {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))
            .map_err(db)?;
    }
    Ok(())
}

/// A pending request as the inbox holds it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    /// Short id for commands (`tapprove show ID`): the start of the
    /// request hash.
    pub id: String,
    pub request_sha256: String,
    pub request: Request,
    /// Which source delivered it (`activity:prod-approvers`).
    pub source: String,
    pub task_token: TaskToken,
    pub queue_url: Option<String>,
    pub receipt: Option<String>,
    pub received_at: String,
    /// Where the request stands at its gate, as the source last said.
    pub status: Option<GateStatus>,
}

/// What became of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Delivered,
    Closed,
}

/// One row of the outbox journal.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub request_id: String,
    pub request_sha256: String,
    pub title: String,
    #[serde(skip)]
    pub task_token: TaskToken,
    pub verdict: String,
    #[serde(skip)]
    pub decision: String,
    /// The request it decides (request/v1 JSON), which the decision
    /// endpoint checks it against; `None` in rows journalled before.
    #[serde(skip)]
    pub request: Option<String>,
    pub state: OutboxState,
    /// For closed entries: why Step Functions did not take it.
    pub reason: Option<TaskGone>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created: String,
    pub updated: String,
}

impl OutboxEntry {
    /// The journal row a signed decision on `item` will have (`seq` 0
    /// until it is journalled): what is sent, and what is written.
    pub fn unsent(item: &InboxItem, verdict: &str, decision: &str, now: &UtcTime) -> Result<Self> {
        let request = serde_json::to_string(&item.request).map_err(|e| EngineError::Store(e.to_string()))?;
        Ok(Self {
            seq: 0,
            request_id: item.id.clone(),
            request_sha256: item.request_sha256.clone(),
            title: item.request.title.clone(),
            task_token: item.task_token.clone(),
            verdict: verdict.to_owned(),
            decision: decision.to_owned(),
            request: Some(request),
            state: OutboxState::Pending,
            reason: None,
            attempts: 0,
            last_error: None,
            created: now.as_str().to_owned(),
            updated: now.as_str().to_owned(),
        })
    }
}

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

fn db(e: rusqlite::Error) -> EngineError {
    EngineError::Store(e.to_string())
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)
                .map_err(|e| EngineError::Store(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| EngineError::Store(format!("cannot open {}: {e}", path.display())))?;
        restrict(path);
        conn.execute_batch(SCHEMA).map_err(db)?;
        add_column(&conn, "outbox", "request")?;
        add_column(&conn, "inbox", "status")?;
        Ok(Self { conn })
    }

    /// Adds a request to the inbox, or refreshes its token and receipt if
    /// it is there already.
    pub fn upsert_inbox(&self, item: &InboxItem) -> Result<()> {
        let request = serde_json::to_string(&item.request).map_err(|e| EngineError::Store(e.to_string()))?;
        let status = item
            .status
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| EngineError::Store(e.to_string()))?;
        self.conn
            .execute(
                "INSERT INTO inbox (id, request_sha256, request, source, task_token, queue_url, receipt, received_at, deadline, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (request_sha256) DO UPDATE SET task_token = excluded.task_token,
                     queue_url = excluded.queue_url, receipt = excluded.receipt,
                     status = COALESCE(excluded.status, inbox.status)",
                params![
                    item.id,
                    item.request_sha256,
                    request,
                    item.source,
                    item.task_token.0,
                    item.queue_url,
                    item.receipt,
                    item.received_at,
                    item.request.deadline().as_str(),
                    status,
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    /// How many claimed tasks (not queue messages) of `source` the inbox
    /// holds: counted, not read, as every activity poll asks.
    pub fn held(&self, source: &str) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM inbox WHERE source = ?1 AND queue_url IS NULL",
                [source],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(db)
    }

    pub fn contains(&self, request_sha256: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM inbox WHERE request_sha256 = ?1",
                [request_sha256],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(db)
    }

    fn row_to_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, InboxRow)> {
        Ok((
            row.get(2)?,
            InboxRow {
                id: row.get(0)?,
                request_sha256: row.get(1)?,
                source: row.get(3)?,
                task_token: TaskToken(row.get(4)?),
                queue_url: row.get(5)?,
                receipt: row.get(6)?,
                received_at: row.get(7)?,
                status: row.get(8)?,
            },
        ))
    }

    fn finish((text, row): (String, InboxRow)) -> Result<InboxItem> {
        let request = Request::from_json(text.as_bytes())
            .map_err(|e| EngineError::Store(format!("inbox entry {} is unreadable: {e}", row.id)))?;
        Ok(InboxItem {
            id: row.id,
            request_sha256: row.request_sha256,
            request,
            source: row.source,
            task_token: row.task_token,
            queue_url: row.queue_url,
            receipt: row.receipt,
            received_at: row.received_at,
            // Informational: an unreadable status is no reason to lose the
            // request.
            status: row
                .status
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|v| GateStatus::from_value(&v).ok()),
        })
    }

    /// Pending requests, soonest deadline first.
    pub fn inbox(&self) -> Result<Vec<InboxItem>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, request_sha256, request, source, task_token, queue_url, receipt, received_at, status
                 FROM inbox ORDER BY deadline, received_at",
            )
            .map_err(db)?;
        let rows = stmt.query_map([], Self::row_to_item).map_err(db)?;
        rows.map(|r| r.map_err(db).and_then(Self::finish)).collect()
    }

    /// The inbox entry whose id starts with `prefix` (unique), or whose
    /// execution is named `prefix` (what a pipeline knows, for links).
    pub fn find(&self, prefix: &str) -> Result<InboxItem> {
        let matches: Vec<InboxItem> = self
            .inbox()?
            .into_iter()
            .filter(|i| i.id.starts_with(prefix) || execution_name(&i.request.execution) == prefix)
            .collect();
        match matches.len() {
            1 => Ok(matches
                .into_iter()
                .next()
                .ok_or_else(|| EngineError::NotFound(prefix.into()))?),
            0 => Err(EngineError::NotFound(prefix.into())),
            _ => Err(EngineError::Ambiguous(prefix.into())),
        }
    }

    pub fn remove_from_inbox(&self, request_sha256: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM inbox WHERE request_sha256 = ?1", [request_sha256])
            .map_err(db)?;
        Ok(())
    }

    /// Remembers the approver identity last confirmed by STS, so a decision
    /// can be signed and journalled while AWS is unreachable. Not a
    /// credential: the verifier checks the signing credential belongs to
    /// this approver anyway.
    pub fn remember_identity(&self, approver: &str, arn: &str, now: &UtcTime) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO identity (slot, approver, arn, seen) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (slot) DO UPDATE SET approver = excluded.approver, arn = excluded.arn, seen = excluded.seen",
                params![approver, arn, now.as_str()],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn remembered_identity(&self) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT approver FROM identity WHERE slot = 1", [], |r| r.get(0))
            .optional()
            .map_err(db)
    }

    /// Journals a signed decision (synchronously durable), as `unsent`
    /// ([`OutboxEntry::unsent`]) describes it; returns it with its row
    /// number.
    pub fn journal(&self, unsent: &OutboxEntry) -> Result<OutboxEntry> {
        self.conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        self.conn
            .execute(
                "INSERT INTO outbox (request_id, request_sha256, title, task_token, verdict, decision, state, created, updated, request)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?8)",
                params![
                    unsent.request_id,
                    unsent.request_sha256,
                    unsent.title,
                    unsent.task_token.0,
                    unsent.verdict,
                    unsent.decision,
                    unsent.created,
                    unsent.request
                ],
            )
            .map_err(db)?;
        Ok(OutboxEntry {
            seq: self.conn.last_insert_rowid(),
            ..unsent.clone()
        })
    }

    /// Records a delivery attempt's outcome; once the decision is
    /// delivered or closed, the request leaves the inbox in the same
    /// transaction.
    pub fn record_attempt(
        &mut self,
        entry: &OutboxEntry,
        state: OutboxState,
        reason: Option<TaskGone>,
        error: Option<&str>,
        now: &UtcTime,
    ) -> Result<()> {
        let state_text = match state {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Closed => "closed",
        };
        let reason_text = reason.map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        });
        // Losing this update to a power cut only means the decision is sent
        // again, which Step Functions answers with "task gone": it is
        // durable against crashes (WAL) without waiting for the disk.
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute(
            "UPDATE outbox SET state = ?2, reason = ?3, last_error = ?4, attempts = attempts + 1, updated = ?5
             WHERE seq = ?1",
            params![entry.seq, state_text, reason_text, error, now.as_str()],
        )
        .map_err(db)?;
        if state != OutboxState::Pending {
            tx.execute(
                "DELETE FROM inbox WHERE request_sha256 = ?1",
                [&entry.request_sha256],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Remembers that the approver was shown `item` (once; `own`: they
    /// asked for it themselves).
    pub fn see(&self, item: &InboxItem, own: bool, now: &UtcTime) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO seen (request_sha256, id, title, requester, execution, first_seen, deadline, own)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (request_sha256) DO NOTHING",
                params![
                    item.request_sha256,
                    item.id,
                    item.request.title,
                    item.request.requester_shown(),
                    item.request.execution,
                    now.as_str(),
                    item.request.deadline().as_str(),
                    own,
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Whether the request was seen and has ended (a message for it that
    /// comes again is no new request).
    pub fn ended(&self, request_sha256: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM seen WHERE request_sha256 = ?1 AND outcome IS NOT NULL",
                [request_sha256],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(db)
    }

    /// Records how a seen request ended.
    pub fn settle(&self, request_sha256: &str, outcome: &Outcome, now: &UtcTime) -> Result<()> {
        let outcome = serde_json::to_string(outcome).map_err(|e| EngineError::Store(e.to_string()))?;
        self.conn
            .execute(
                "UPDATE seen SET outcome = ?2, closed_at = ?3 WHERE request_sha256 = ?1 AND outcome IS NULL",
                params![request_sha256, outcome, now.as_str()],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Forgets how a seen request ended: its execution runs again (a
    /// redrive).
    pub fn reopen(&self, request_sha256: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE seen SET outcome = NULL, closed_at = NULL WHERE request_sha256 = ?1",
                [request_sha256],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Seen requests not in the inbox whose end is not known yet:
    /// `(request_sha256, execution)`.
    pub fn unsettled(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT request_sha256, execution FROM seen
                 WHERE outcome IS NULL AND request_sha256 NOT IN (SELECT request_sha256 FROM inbox)
                 ORDER BY first_seen",
            )
            .map_err(db)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db)?;
        rows.map(|r| r.map_err(db)).collect()
    }

    /// Every request seen, newest first, with the approver's own last
    /// decision on it.
    pub fn seen(&self) -> Result<Vec<Seen>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.request_sha256, s.id, s.title, s.requester, s.execution, s.first_seen, s.deadline, s.own,
                        s.outcome, s.closed_at, o.verdict, o.state, o.created
                 FROM seen s
                 LEFT JOIN outbox o ON o.seq = (SELECT MAX(seq) FROM outbox WHERE request_sha256 = s.request_sha256)
                 ORDER BY s.first_seen DESC, s.rowid DESC",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |r| {
                let outcome: Option<String> = r.get(8)?;
                let verdict: Option<String> = r.get(10)?;
                Ok(Seen {
                    request_sha256: r.get(0)?,
                    id: r.get(1)?,
                    title: r.get(2)?,
                    requester: r.get(3)?,
                    execution: r.get(4)?,
                    first_seen: r.get(5)?,
                    deadline: r.get(6)?,
                    own: r.get(7)?,
                    // Unreadable: shown as not known, never a reason to
                    // lose the row.
                    outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
                    closed_at: r.get(9)?,
                    mine: match verdict {
                        Some(verdict) => Some(Mine {
                            verdict,
                            state: r.get(11)?,
                            at: r.get(12)?,
                        }),
                        None => None,
                    },
                })
            })
            .map_err(db)?;
        rows.map(|r| r.map_err(db)).collect()
    }

    /// Forgets ended requests closed before `cutoff`, and ones whose end
    /// never became known whose deadline passed before it (the signed
    /// decisions in the outbox journal stay).
    pub fn forget_seen_before(&self, cutoff: &UtcTime) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM seen WHERE (outcome IS NOT NULL AND closed_at < ?1)
                     OR (outcome IS NULL AND deadline < ?1
                         AND request_sha256 NOT IN (SELECT request_sha256 FROM inbox))",
                [cutoff.as_str()],
            )
            .map_err(db)
    }

    fn outbox_where(&self, filter: &str) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT seq, request_id, request_sha256, title, task_token, verdict, decision, state, reason, attempts,
                    last_error, created, updated,
                    COALESCE(request, (SELECT i.request FROM inbox i WHERE i.request_sha256 = outbox.request_sha256))
             FROM outbox {filter} ORDER BY seq"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(db)?;
        let rows = stmt
            .query_map([], |row| {
                let state: String = row.get(7)?;
                let reason: Option<String> = row.get(8)?;
                Ok(OutboxEntry {
                    seq: row.get(0)?,
                    request_id: row.get(1)?,
                    request_sha256: row.get(2)?,
                    title: row.get(3)?,
                    task_token: TaskToken(row.get(4)?),
                    verdict: row.get(5)?,
                    decision: row.get(6)?,
                    state: match state.as_str() {
                        "delivered" => OutboxState::Delivered,
                        "closed" => OutboxState::Closed,
                        _ => OutboxState::Pending,
                    },
                    reason: reason.and_then(|r| serde_json::from_value(serde_json::Value::from(r)).ok()),
                    attempts: row.get(9)?,
                    last_error: row.get(10)?,
                    created: row.get(11)?,
                    updated: row.get(12)?,
                    request: row.get(13)?,
                })
            })
            .map_err(db)?;
        rows.map(|r| r.map_err(db)).collect()
    }

    /// Decisions not yet acknowledged, oldest first.
    pub fn pending(&self) -> Result<Vec<OutboxEntry>> {
        self.outbox_where("WHERE state = 'pending'")
    }

    /// Every decision, oldest first.
    pub fn history(&self) -> Result<Vec<OutboxEntry>> {
        self.outbox_where("")
    }
}

/// An inbox row before its request is parsed.
struct InboxRow {
    id: String,
    request_sha256: String,
    source: String,
    task_token: TaskToken,
    queue_url: Option<String>,
    receipt: Option<String>,
    received_at: String,
    status: Option<String>,
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The name of an execution: the last part of its ARN.
fn execution_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}
