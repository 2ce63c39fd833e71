//! The local memory store: SQLite (compiled in) with an FTS5 index for ranked search.
//!
//! Safety: WAL journaling and a busy timeout let several processes read and write at once;
//! every write is one `BEGIN IMMEDIATE` transaction, so a crash loses at most the batch
//! being written and never leaves a half-written row. The file is created readable by the
//! user only.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::insight::{Insight, NewInsight};
use super::{Candidate, InsightStore, MemoryError, Scope};

const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS insights (
    id INTEGER PRIMARY KEY,
    content_key TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    terms TEXT NOT NULL,
    analysis TEXT NOT NULL,
    flow TEXT NOT NULL,
    dataset TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    project TEXT NOT NULL DEFAULT '',
    step TEXT NOT NULL,
    metric TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created INTEGER NOT NULL,
    superseded_by INTEGER
);
CREATE INDEX IF NOT EXISTS insights_metric ON insights (dataset, metric) WHERE superseded_by IS NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS insights_fts USING fts5(
    text, terms, content = 'insights', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS insights_ai AFTER INSERT ON insights BEGIN
    INSERT INTO insights_fts (rowid, text, terms) VALUES (new.id, new.text, new.terms);
END;
CREATE TRIGGER IF NOT EXISTS insights_ad AFTER DELETE ON insights BEGIN
    INSERT INTO insights_fts (insights_fts, rowid, text, terms) VALUES ('delete', old.id, old.text, old.terms);
END;
";

/// Weights of the indexed columns in bm25: the metric's meaning counts more than the
/// statement's wording.
const RANK: &str = "bm25(insights_fts, 1.0, 2.0)";

pub struct LocalMemory {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl LocalMemory {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<LocalMemory, MemoryError> {
        let fail = |e: rusqlite::Error| classify(path, e);
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(|e| io_error(dir, e))?;
        }
        create_private_file(path).map_err(|e| io_error(path, e))?;
        let conn = Connection::open(path).map_err(|e| io_error(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(fail)?;
        // The first statement that reads the file is where a damaged file shows.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(fail)?;
        if version > SCHEMA_VERSION {
            return Err(MemoryError::Corrupt {
                path: path.to_path_buf(),
                message: format!("written by a newer mrflow-tui (schema {version}, this one knows {SCHEMA_VERSION})"),
            });
        }
        // Several processes may open a new store at once. Switching to WAL and creating the
        // schema take the write lock; a snapshot that went stale meanwhile is refused at once
        // (no busy wait), so those are retried for a while.
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch("BEGIN IMMEDIATE;")?;
            // Schema 1 had no source or project: its insights stay, in no lane (recalled
            // only across data).
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version == 1 {
                conn.execute_batch(
                    "ALTER TABLE insights ADD COLUMN source TEXT NOT NULL DEFAULT ''; \
                     ALTER TABLE insights ADD COLUMN project TEXT NOT NULL DEFAULT '';",
                )?;
            }
            conn.execute_batch(&format!("{SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
        };
        let mut attempts = 0;
        while let Err(e) = setup(&conn) {
            let _ = conn.execute_batch("ROLLBACK");
            attempts += 1;
            if !is_busy(&e) || attempts > 200 {
                return Err(fail(e));
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        // A file that opens but whose pages are damaged.
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(fail)?;
        if check != "ok" {
            return Err(MemoryError::Corrupt {
                path: path.to_path_buf(),
                message: check,
            });
        }
        Ok(LocalMemory {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, e: rusqlite::Error) -> MemoryError {
        io_error(&self.path, e)
    }
}

/// A damaged or foreign file is `Corrupt` (the user is told to reset it); anything else,
/// a lock held too long, a full disk, is an I/O error that leaves the file alone.
fn classify(path: &Path, e: rusqlite::Error) -> MemoryError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match e.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => MemoryError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
        _ => io_error(path, e),
    }
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    matches!(e.sqlite_error_code(), Some(DatabaseBusy | DatabaseLocked))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

const COLUMNS: &str =
    "id, text, analysis, flow, dataset, step, metric, metrics, created, superseded_by, source, project";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Insight> {
    let metrics: String = r.get(7)?;
    Ok(Insight {
        id: r.get::<_, i64>(0)?.to_string(),
        text: r.get(1)?,
        analysis: r.get(2)?,
        flow: r.get(3)?,
        dataset: r.get(4)?,
        step: r.get(5)?,
        metric: r.get(6)?,
        metrics: serde_json::from_str(&metrics).unwrap_or_default(),
        created: r.get(8)?,
        superseded_by: r.get::<_, Option<i64>>(9)?.map(|i| i.to_string()),
        source: r.get(10)?,
        project: r.get(11)?,
    })
}

/// An FTS5 query from free text: every word, and every pair of adjacent words as a phrase
/// (so "profit margin" ranks above "profit … margin"), ORed. Words are quoted, so nothing
/// the user types is FTS syntax.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let mut terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    terms.extend(words.windows(2).map(|p| format!("\"{} {}\"", p[0], p[1])));
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

impl InsightStore for LocalMemory {
    fn describe(&self) -> String {
        format!("local {}", self.path.display())
    }

    fn remember(&self, insights: &[NewInsight], now: i64) -> Result<usize, MemoryError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.error(e))?;
        let mut added = 0;
        for i in insights {
            let key = i.content_key();
            let existing: Option<(i64, Option<i64>)> = tx
                .query_row(
                    "SELECT id, superseded_by FROM insights WHERE content_key = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.error(e))?;
            let id = match existing {
                // Already current: nothing to do.
                Some((_, None)) => continue,
                // An older value came back: it is current again.
                Some((id, Some(_))) => {
                    tx.execute(
                        "UPDATE insights SET superseded_by = NULL, created = ?2 WHERE id = ?1",
                        params![id, now],
                    )
                    .map_err(|e| self.error(e))?;
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO insights (content_key, text, terms, analysis, flow, dataset, step, metric, \
                         metrics, created, source, project) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        params![
                            key,
                            i.text,
                            i.terms,
                            i.analysis,
                            i.flow,
                            i.dataset,
                            i.step,
                            i.metric,
                            serde_json::Value::Object(i.metrics.clone()).to_string(),
                            now,
                            i.source,
                            i.project
                        ],
                    )
                    .map_err(|e| self.error(e))?;
                    added += 1;
                    tx.last_insert_rowid()
                }
            };
            // The newest value of a metric for a dataset supersedes the others.
            tx.execute(
                "UPDATE insights SET superseded_by = ?1 WHERE dataset = ?2 AND metric = ?3 AND id != ?1 \
                 AND superseded_by IS NULL",
                params![id, i.dataset, i.metric],
            )
            .map_err(|e| self.error(e))?;
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(added)
    }

    fn candidates(&self, query: &str, scope: &Scope, limit: usize) -> Result<Vec<Candidate>, MemoryError> {
        let Some(fts) = fts_query(query) else {
            return Ok(vec![]);
        };
        let conn = self.conn();
        let sql = format!(
            "SELECT {cols}, {RANK} AS rank FROM insights_fts JOIN insights i ON i.id = insights_fts.rowid \
             WHERE insights_fts MATCH ?1 AND i.superseded_by IS NULL \
             AND (?2 IS NULL OR i.flow = ?2) AND (?3 IS NULL OR i.dataset = ?3) \
             AND (?4 IS NULL OR i.dataset != ?4) \
             AND ((?6 IS NULL AND ?7 IS NULL) OR i.source = ?6 OR (i.project != '' AND i.project = ?7)) \
             ORDER BY rank LIMIT ?5",
            cols = COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(
                params![
                    fts,
                    scope.flow,
                    scope.dataset,
                    scope.exclude_dataset,
                    limit as i64,
                    scope.source,
                    scope.project
                ],
                |r| {
                    let rank: f64 = r.get(12)?;
                    Ok(Candidate {
                        insight: row(r)?,
                        // bm25 is lower for better matches.
                        relevance: -rank,
                    })
                },
            )
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    fn list(&self, history: bool) -> Result<Vec<Insight>, MemoryError> {
        let conn = self.conn();
        let sql =
            format!("SELECT {COLUMNS} FROM insights WHERE ?1 OR superseded_by IS NULL ORDER BY created DESC, id DESC");
        let mut stmt = conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt.query_map([history], row).map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    fn forget(&self, id: &str) -> Result<bool, MemoryError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let conn = self.conn();
        let n = conn
            .execute("DELETE FROM insights WHERE id = ?1", [id])
            .map_err(|e| self.error(e))?;
        Ok(n > 0)
    }

    fn clear(&self) -> Result<usize, MemoryError> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM insights", []).map_err(|e| self.error(e))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_words_and_pairs_never_syntax() {
        assert_eq!(
            fts_query("Top brand: \"margin\"*").as_deref(),
            Some("\"top\" OR \"brand\" OR \"margin\" OR \"top brand\" OR \"brand margin\"")
        );
        assert_eq!(fts_query(" -- "), None);
    }
}
