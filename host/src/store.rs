//! The host's database: sessions, every frame of every transcript, permission rules, settings and usage.
//!
//! One SQLite file (WAL mode) in the data directory. Every write is its own transaction, so a killed
//! app loses at most the frame being written. Damaged rows are skipped with a warning rather than
//! making a session unreadable, and a full disk is reported as such, in plain words.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Schema version this code writes.
const SCHEMA_VERSION: i64 = 1;

/// Why the database could not do what was asked.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The disk holding the data directory is full.
    #[error("the disk holding {path} is full; free some space and try again (nothing already saved was lost)")]
    DiskFull {
        /// The database file.
        path: PathBuf,
    },
    /// The database file is damaged beyond reading.
    #[error("the database {path} is damaged: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's words.
        message: String,
    },
    /// No such session.
    #[error("there is no session {0}")]
    NoSuchSession(String),
    /// The database was written by a newer Workroom.
    #[error("the database was written by a newer version of Workroom (schema {found}, this version knows {SCHEMA_VERSION})")]
    TooNew {
        /// Version found.
        found: i64,
    },
    /// Anything else SQLite reported.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// Creating the data directory failed.
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Who wrote a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent to the agent.
    In,
    /// Sent by the agent.
    Out,
    /// Recorded by the host (permission decisions, VM events).
    Host,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Host => "host",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in" => Direction::In,
            "out" => Direction::Out,
            "host" => Direction::Host,
            _ => return None,
        })
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Host session id.
    pub id: String,
    /// Title shown in lists.
    pub title: String,
    /// The folders, in order (the first is the working folder).
    pub folders: Vec<PathBuf>,
    /// The agent's own session id (for `--resume`), once known.
    pub agent_session_id: Option<String>,
    /// Model, if chosen.
    pub model: Option<String>,
    /// Permission mode.
    pub permission_mode: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last frame.
    pub updated_at: i64,
    /// Total cost in dollars.
    pub cost_usd: f64,
    /// Total input tokens (all kinds).
    pub input_tokens: i64,
    /// Total output tokens.
    pub output_tokens: i64,
}

/// A stored frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// Position in the transcript.
    pub seq: i64,
    /// Who wrote it.
    pub direction: Direction,
    /// The frame.
    pub body: Value,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// A stored permission rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// Row id.
    pub id: i64,
    /// `allow`, `deny` or `ask`.
    pub behavior: String,
    /// Claude Code rule syntax (`Bash(git status:*)`).
    pub rule: String,
    /// The folder it applies to; `None` for every folder.
    pub folder: Option<PathBuf>,
}

/// Usage of one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnUsage {
    /// Input tokens (all kinds).
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Dollars.
    pub cost_usd: f64,
    /// Wall time.
    pub duration_ms: i64,
    /// Whether the turn ended in error.
    pub is_error: bool,
}

/// The database. Cheap to clone; calls are serialised on one connection.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating and migrating if needed) `workroom.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("workroom.db");
        let conn = Connection::open(&path).map_err(|e| classify(&path, e))?;
        // Before anything else: another Workroom process may be opening the same database right now
        // (switching it to WAL takes a lock), and it should wait for it rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| classify(&path, e))?;
        let store = Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(|e| classify(&self.path, e))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.with(enable_wal)?;
        let found = self.with(|c| {
            c.execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")?;
            c.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                [],
            )?;
            c.query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
        })?;
        let found: i64 = found.and_then(|v| v.parse().ok()).unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS sessions (
                    id TEXT PRIMARY KEY,
                    title TEXT NOT NULL,
                    agent_session_id TEXT,
                    model TEXT,
                    permission_mode TEXT NOT NULL DEFAULT 'default',
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    input_tokens INTEGER NOT NULL DEFAULT 0,
                    output_tokens INTEGER NOT NULL DEFAULT 0,
                    cost_usd REAL NOT NULL DEFAULT 0
                 );
                 CREATE TABLE IF NOT EXISTS session_folders (
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    host_path TEXT NOT NULL,
                    PRIMARY KEY (session_id, position)
                 );
                 CREATE TABLE IF NOT EXISTS frames (
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    direction TEXT NOT NULL,
                    body TEXT NOT NULL,
                    at_ms INTEGER NOT NULL,
                    PRIMARY KEY (session_id, seq)
                 );
                 CREATE TABLE IF NOT EXISTS turns (
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    turn INTEGER NOT NULL,
                    input_tokens INTEGER NOT NULL,
                    output_tokens INTEGER NOT NULL,
                    cost_usd REAL NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    is_error INTEGER NOT NULL,
                    at INTEGER NOT NULL,
                    PRIMARY KEY (session_id, turn)
                 );
                 CREATE TABLE IF NOT EXISTS rules (
                    id INTEGER PRIMARY KEY,
                    behavior TEXT NOT NULL CHECK (behavior IN ('allow', 'deny', 'ask')),
                    rule TEXT NOT NULL,
                    -- '' for rules that apply in every folder (NULLs would not be UNIQUE)
                    folder TEXT NOT NULL DEFAULT '',
                    created_at INTEGER NOT NULL,
                    UNIQUE (behavior, rule, folder)
                 );
                 CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )?;
            tx.commit()
        })
    }

    /// Creates a session over `folders`.
    pub fn create_session(
        &self,
        id: &str,
        title: &str,
        folders: &[PathBuf],
        model: Option<&str>,
        permission_mode: &str,
    ) -> Result<SessionRecord, StoreError> {
        let now = now_secs();
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO sessions (id, title, model, permission_mode, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, title, model, permission_mode, now],
            )?;
            for (position, folder) in folders.iter().enumerate() {
                tx.execute(
                    "INSERT INTO session_folders (session_id, position, host_path) VALUES (?1, ?2, ?3)",
                    params![id, position as i64, folder.to_string_lossy()],
                )?;
            }
            tx.commit()
        })?;
        self.session(id)
    }

    /// One session.
    pub fn session(&self, id: &str) -> Result<SessionRecord, StoreError> {
        self.sessions_where("WHERE id = ?1", params![id])?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NoSuchSession(id.to_string()))
    }

    /// Every session, most recently used first.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.sessions_where("", params![])
    }

    fn sessions_where(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.with(|c| {
            let sql = format!(
                "SELECT id, title, agent_session_id, model, permission_mode, created_at, updated_at, cost_usd, input_tokens, output_tokens
                 FROM sessions {filter} ORDER BY updated_at DESC, created_at DESC"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(args, |r| {
                Ok(SessionRecord {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    folders: Vec::new(),
                    agent_session_id: r.get(2)?,
                    model: r.get(3)?,
                    permission_mode: r.get(4)?,
                    created_at: r.get(5)?,
                    updated_at: r.get(6)?,
                    cost_usd: r.get(7)?,
                    input_tokens: r.get(8)?,
                    output_tokens: r.get(9)?,
                })
            })?;
            let mut sessions = Vec::new();
            for row in rows {
                match row {
                    Ok(s) => sessions.push(s),
                    Err(e) => tracing::warn!(error = %e, "skipping a damaged session row"),
                }
            }
            let mut folders = c.prepare("SELECT host_path FROM session_folders WHERE session_id = ?1 ORDER BY position")?;
            for session in &mut sessions {
                session.folders = folders
                    .query_map([&session.id], |r| r.get::<_, String>(0))?
                    .filter_map(Result::ok)
                    .map(PathBuf::from)
                    .collect();
            }
            Ok(sessions)
        })
    }

    /// Adds a folder to a session (after the existing ones); a folder it already has is left alone.
    pub fn add_folder(&self, id: &str, folder: &Path) -> Result<SessionRecord, StoreError> {
        let record = self.session(id)?;
        if !record.folders.iter().any(|f| f == folder) {
            let position = record.folders.len() as i64;
            self.with(|c| {
                c.execute(
                    "INSERT INTO session_folders (session_id, position, host_path) VALUES (?1, ?2, ?3)",
                    params![id, position, folder.to_string_lossy()],
                )
            })?;
        }
        self.session(id)
    }

    /// Renames a session.
    pub fn rename_session(&self, id: &str, title: &str) -> Result<(), StoreError> {
        let changed = self.with(|c| {
            c.execute(
                "UPDATE sessions SET title = ?2 WHERE id = ?1",
                params![id, title],
            )
        })?;
        if changed == 0 {
            return Err(StoreError::NoSuchSession(id.into()));
        }
        Ok(())
    }

    /// Records the agent's session id (for resuming) and the settings in force.
    pub fn update_session(
        &self,
        id: &str,
        agent_session_id: Option<&str>,
        model: Option<&str>,
        permission_mode: Option<&str>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE sessions SET agent_session_id = COALESCE(?2, agent_session_id), model = COALESCE(?3, model),
                 permission_mode = COALESCE(?4, permission_mode) WHERE id = ?1",
                params![id, agent_session_id, model, permission_mode],
            )
        })?;
        Ok(())
    }

    /// Deletes a session with its frames and usage.
    pub fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let changed = self.with(|c| c.execute("DELETE FROM sessions WHERE id = ?1", [id]))?;
        if changed == 0 {
            return Err(StoreError::NoSuchSession(id.into()));
        }
        Ok(())
    }

    /// Appends a frame to a session's transcript; returns its sequence number.
    pub fn append_frame(
        &self,
        session_id: &str,
        direction: Direction,
        body: &Value,
    ) -> Result<i64, StoreError> {
        let text = body.to_string();
        let at = now_ms();
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let seq: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM frames WHERE session_id = ?1",
                [session_id],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO frames (session_id, seq, direction, body, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![session_id, seq, direction.as_str(), text, at],
            )?;
            tx.execute("UPDATE sessions SET updated_at = ?2 WHERE id = ?1", params![session_id, at / 1000])?;
            tx.commit()?;
            Ok(seq)
        })
    }

    /// A session's transcript, in order. Damaged frames are skipped (and counted in the second value).
    pub fn frames(&self, session_id: &str) -> Result<(Vec<FrameRecord>, usize), StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, direction, body, at_ms FROM frames WHERE session_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([session_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut frames = Vec::new();
            let mut damaged = 0;
            for row in rows {
                let parsed = row.ok().and_then(|(seq, direction, body, at_ms)| {
                    Some(FrameRecord {
                        seq,
                        direction: Direction::parse(&direction)?,
                        body: serde_json::from_str(&body).ok()?,
                        at_ms,
                    })
                });
                match parsed {
                    Some(f) => frames.push(f),
                    None => damaged += 1,
                }
            }
            if damaged > 0 {
                tracing::warn!(
                    session = session_id,
                    damaged,
                    "skipped damaged transcript frames"
                );
            }
            Ok((frames, damaged))
        })
    }

    /// Records a finished turn's usage and adds it to the session's totals.
    pub fn record_turn(&self, session_id: &str, usage: &TurnUsage) -> Result<i64, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let turn: i64 = tx.query_row(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE session_id = ?1",
                [session_id],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO turns (session_id, turn, input_tokens, output_tokens, cost_usd, duration_ms, is_error, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    session_id,
                    turn,
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cost_usd,
                    usage.duration_ms,
                    usage.is_error,
                    now_secs()
                ],
            )?;
            tx.execute(
                "UPDATE sessions SET input_tokens = input_tokens + ?2, output_tokens = output_tokens + ?3,
                 cost_usd = cost_usd + ?4 WHERE id = ?1",
                params![session_id, usage.input_tokens, usage.output_tokens, usage.cost_usd],
            )?;
            tx.commit()?;
            Ok(turn)
        })
    }

    /// Usage per turn.
    pub fn turns(&self, session_id: &str) -> Result<Vec<TurnUsage>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT input_tokens, output_tokens, cost_usd, duration_ms, is_error FROM turns WHERE session_id = ?1 ORDER BY turn",
            )?;
            let rows = stmt.query_map([session_id], |r| {
                Ok(TurnUsage {
                    input_tokens: r.get(0)?,
                    output_tokens: r.get(1)?,
                    cost_usd: r.get(2)?,
                    duration_ms: r.get(3)?,
                    is_error: r.get(4)?,
                })
            })?;
            Ok(rows.filter_map(Result::ok).collect())
        })
    }

    /// Saves a permission rule (idempotent).
    pub fn add_rule(
        &self,
        behavior: &str,
        rule: &str,
        folder: Option<&Path>,
    ) -> Result<(), StoreError> {
        let folder = folder
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO rules (behavior, rule, folder, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![behavior, rule, folder, now_secs()],
            )
        })?;
        Ok(())
    }

    /// Removes a rule by id.
    pub fn remove_rule(&self, id: i64) -> Result<(), StoreError> {
        self.with(|c| c.execute("DELETE FROM rules WHERE id = ?1", [id]))?;
        Ok(())
    }

    /// Rules that apply in `folder` (global ones and the folder's own), oldest first.
    pub fn rules_for(&self, folder: Option<&Path>) -> Result<Vec<RuleRecord>, StoreError> {
        let folder = folder
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, behavior, rule, folder FROM rules WHERE folder = '' OR folder = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([folder], |r| {
                Ok(RuleRecord {
                    id: r.get(0)?,
                    behavior: r.get(1)?,
                    rule: r.get(2)?,
                    folder: Some(r.get::<_, String>(3)?)
                        .filter(|f| !f.is_empty())
                        .map(PathBuf::from),
                })
            })?;
            Ok(rows.filter_map(Result::ok).collect())
        })
    }

    /// A setting's value.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Forgets a setting, so its default applies again (no-op when it was not set).
    pub fn remove_setting(&self, key: &str) -> Result<(), StoreError> {
        self.with(|c| c.execute("DELETE FROM settings WHERE key = ?1", [key]))?;
        Ok(())
    }

    /// Sets a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
        })?;
        Ok(())
    }
}

/// Switches the file to WAL. The switch needs an exclusive lock and SQLite does not wait for it (the
/// busy timeout does not apply), so when another process is opening the same file at this moment we
/// retry for a while. Once a file is in WAL mode it stays so and this returns at once.
fn enable_wal(c: &mut Connection) -> rusqlite::Result<()> {
    let mut attempts = 0;
    loop {
        let mode = c.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0));
        let result = match mode {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) => c
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && attempts < 100 =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::DiskFull {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
        _ => StoreError::Sqlite(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn sessions_frames_and_usage_survive_reopening() {
        let (dir, store) = store();
        let folders = vec![
            PathBuf::from("/home/u/Taxes 2026"),
            PathBuf::from("/home/u/Receipts"),
        ];
        store
            .create_session(
                "s1",
                "Taxes",
                &folders,
                Some("claude-sonnet-4-5"),
                "default",
            )
            .unwrap();
        store
            .append_frame("s1", Direction::In, &json!({"type": "user"}))
            .unwrap();
        assert_eq!(
            store
                .append_frame("s1", Direction::Out, &json!({"type": "result"}))
                .unwrap(),
            2
        );
        store
            .record_turn(
                "s1",
                &TurnUsage {
                    input_tokens: 10,
                    output_tokens: 5,
                    cost_usd: 0.5,
                    duration_ms: 9,
                    is_error: false,
                },
            )
            .unwrap();
        store
            .update_session("s1", Some("agent-1"), None, Some("acceptEdits"))
            .unwrap();
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let s = store.session("s1").unwrap();
        assert_eq!(s.folders, folders);
        assert_eq!(s.agent_session_id.as_deref(), Some("agent-1"));
        assert_eq!(s.permission_mode, "acceptEdits");
        assert_eq!((s.input_tokens, s.output_tokens), (10, 5));
        let (frames, damaged) = store.frames("s1").unwrap();
        assert_eq!(damaged, 0);
        assert_eq!(frames.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(frames[1].body["type"], "result");
        store.rename_session("s1", "Taxes 2026").unwrap();
        assert_eq!(store.sessions().unwrap()[0].title, "Taxes 2026");
        store.delete_session("s1").unwrap();
        assert!(matches!(
            store.session("s1"),
            Err(StoreError::NoSuchSession(_))
        ));
        assert!(
            store.frames("s1").unwrap().0.is_empty(),
            "frames go with the session"
        );
    }

    #[test]
    fn a_corrupted_frame_row_is_skipped_not_fatal() {
        let (dir, store) = store();
        store
            .create_session("s1", "t", &[], None, "default")
            .unwrap();
        store
            .append_frame("s1", Direction::Out, &json!({"ok": 1}))
            .unwrap();
        store
            .append_frame("s1", Direction::Out, &json!({"ok": 2}))
            .unwrap();
        {
            let raw = Connection::open(dir.path().join("workroom.db")).unwrap();
            raw.execute("UPDATE frames SET body = '{not json' WHERE seq = 1", [])
                .unwrap();
            raw.execute("UPDATE frames SET direction = 'sideways' WHERE seq = 2", [])
                .unwrap();
        }
        store
            .append_frame("s1", Direction::Out, &json!({"ok": 3}))
            .unwrap();
        let (frames, damaged) = store.frames("s1").unwrap();
        assert_eq!(damaged, 2);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].body["ok"], 3);
    }

    #[test]
    fn rules_apply_globally_or_per_folder() {
        let (_dir, store) = store();
        store.add_rule("allow", "Bash(git status:*)", None).unwrap();
        store.add_rule("allow", "Bash(git status:*)", None).unwrap();
        store
            .add_rule("deny", "Bash(rm:*)", Some(Path::new("/w")))
            .unwrap();
        assert_eq!(store.rules_for(Some(Path::new("/w"))).unwrap().len(), 2);
        let elsewhere = store.rules_for(Some(Path::new("/other"))).unwrap();
        assert_eq!(elsewhere.len(), 1);
        store.remove_rule(elsewhere[0].id).unwrap();
        assert_eq!(store.rules_for(None).unwrap().len(), 0);
        store.set_setting("idle_minutes", "10").unwrap();
        assert_eq!(
            store.setting("idle_minutes").unwrap().as_deref(),
            Some("10")
        );
    }

    #[test]
    fn many_openers_at_once_wait_for_each_other_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let openers: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let store = Store::open(&path)?;
                    store.set_setting(&format!("k{i}"), "v")?;
                    // Read-then-write transactions from several connections at once.
                    let id = format!("s{i}");
                    store.create_session(&id, "t", &[], None, "default")?;
                    for n in 0..20 {
                        store.append_frame(&id, Direction::Out, &serde_json::json!({ "n": n }))?;
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("workroom.db"), vec![0x42u8; 8192]).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("damaged"));
    }
}
