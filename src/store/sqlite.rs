//! SQLite engine, the embedded default: a WAL-mode file behind a one-connection write pool and a
//! read pool. The queries and method bodies live in `shared.rs`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::StoreResult;

type Db = Sqlite;
type Engine = SqliteStore;

// Deliberately compiled once per engine; see the top of shared.rs.
#[allow(clippy::duplicate_mod)]
#[path = "shared.rs"]
mod shared;

/// How long a connection waits for another process's lock before SQLITE_BUSY (an admin command
/// run against the live file, a backup).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers never block each other or the writer under WAL; a few cover a busy server.
const READ_CONNECTIONS: u32 = 4;
/// Rows a connection's worker thread may hand over before it waits for the reader. sqlx's
/// default (50) makes a listing of thousands of rows stop and wake the worker every 50 rows, a
/// futex handoff each time, and a full buffer costs one handoff per row. Buffered rows are sqlx's
/// per-value copies, so the buffer costs memory by its rows' width: with the 13-column listing
/// rows 4,096 raised the 50,000-event peak by ~20 MB; the 6-column streamed listing
/// (`list_members`) holds it at ~115 MB, so a Depth-1 listing of a few thousand members never
/// waits (decision 0011).
const ROW_BUFFER: usize = 4096;

#[derive(Clone)]
pub struct SqliteStore {
    /// Write transactions, on exactly ONE connection. SQLite admits one writer at a time; with
    /// several write connections a transaction that read first and then writes must upgrade its
    /// lock and fails at once with SQLITE_BUSY (busy_timeout cannot help a deferred upgrade) when
    /// another connection wrote meanwhile. One connection makes writers queue in the pool
    /// instead, and `BEGIN IMMEDIATE` takes the write lock up front so even another process's
    /// writer is met by busy_timeout rather than a mid-transaction failure.
    writer: SqlitePool,
    /// Reads and read snapshots. WAL lets these run alongside the writer. `query_only` keeps
    /// writes off these connections, which would bring the lock upgrades back.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite:///abs/path.db`, `sqlite://rel.db` or `sqlite:path` (creating the file if
    /// missing) and migrates it. `sqlite::memory:` gives a private in-memory database for tests.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL makes NORMAL durable against application crashes; only a power loss can
            // drop the last commits, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .row_buffer_size(ROW_BUFFER);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(u32::from(in_memory));
        // An in-memory database has no WAL and vanishes with its last connection, and extra
        // connections to it would meet shared-cache table locks (SQLITE_LOCKED, which
        // busy_timeout does not retry): keep the one connection for good and read through it.
        let writer = if in_memory {
            writer.idle_timeout(None).max_lifetime(None)
        } else {
            writer
        };
        let writer = writer.connect_with(options.clone()).await?;
        super::migrations::SQLITE.migrator().await?.run(&writer).await?;

        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options.create_if_missing(false).pragma("query_only", "ON"))
                .await?
        };
        Ok(SqliteStore { writer, reader })
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Db>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The time-range REPORTs depend on `objects_in_range` being an index range, not a walk
    /// over the collection: check SQLite's plan for the shared statement.
    #[tokio::test]
    async fn objects_in_range_uses_the_time_range_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            shared::sql::OBJECTS_IN_RANGE
        )))
        .bind(1_i64)
        .bind(0_i64)
        .bind(10_i64)
        .bind(Some("VEVENT"))
        .fetch_all(store.reader())
        .await
        .unwrap();
        let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            detail.iter().any(
                |d| d.contains("USING INDEX objects_time_range (collection_id=? AND <expr>>?)")
            ),
            "plan: {detail:?}"
        );
    }

    /// PROPFIND Depth 1 lists members without their data; the listing must come from the
    /// covering index alone, not from rows that carry the client's bytes.
    #[tokio::test]
    async fn listings_read_only_the_covering_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        // The count may take any index that covers it (a smaller one is as good).
        for (listing, index) in [
            (shared::sql::LIST_OBJECTS, "USING COVERING INDEX objects_listing"),
            (shared::sql::LIST_MEMBERS, "USING COVERING INDEX objects_listing"),
            (shared::sql::MEMBER_COUNT, "USING COVERING INDEX"),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {listing}")))
                    .bind(1_i64)
                    .fetch_all(store.reader())
                    .await
                    .unwrap();
            let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
            assert!(
                detail.iter().any(|d| d.contains(index)),
                "{listing}: plan {detail:?}"
            );
        }
    }

    /// The worker's scan for due timelines reads the partial index, not every object.
    #[tokio::test]
    async fn timelines_due_uses_its_partial_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            shared::sql::TIMELINES_DUE
        )))
        .bind(0_i64)
        .bind(10_i64)
        .fetch_all(store.reader())
        .await
        .unwrap();
        let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(detail.iter().any(|d| d.contains("USING INDEX objects_timelines_due")), "plan: {detail:?}");
    }

    /// Schema v4 on a database with events from before it: the events become due for the
    /// worker's first layout, other objects do not, and nothing else changes.
    #[tokio::test]
    async fn schema_v4_marks_stored_events_due() {
        let db = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        for v3 in [
            include_str!("../../migrations/sqlite/0001_init.sql"),
            include_str!("../../migrations/sqlite/0002_collection_bytes.sql"),
            include_str!("../../migrations/sqlite/0003_objects_listing.sql"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(v3)).execute(&db).await.unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO users (name, password_hash, created_at) VALUES ('a', 'h', 0); \
             INSERT INTO collections (owner_id, path, kind, components, created_at, modified_at) \
             VALUES (1, 'c', 'calendar', 15, 0, 0); \
             INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, \
             created_at, modified_at, sync_seq) VALUES \
             (1, 'e.ics', X'00', 'e', 'text/calendar', 1, 'e', 'VEVENT', 0, 0, 1), \
             (1, 't.ics', X'00', 't', 'text/calendar', 1, 't', 'VTODO', 0, 0, 2), \
             (1, 'n.txt', X'00', 'n', 'text/plain', 1, NULL, NULL, 0, 0, 3);",
        )
        .execute(&db)
        .await
        .unwrap();
        sqlx::raw_sql(include_str!("../../migrations/sqlite/0004_timelines.sql")).execute(&db).await.unwrap();
        /// name, instances, instances_until, etag
        type Row = (String, Option<Vec<u8>>, Option<i64>, String);
        let rows: Vec<Row> =
            sqlx::query_as("SELECT name, instances, instances_until, etag FROM objects ORDER BY name")
                .fetch_all(&db)
                .await
                .unwrap();
        let due = -9_223_372_036_854_775_807_i64;
        assert_eq!(
            rows,
            [
                ("e.ics".to_owned(), None, Some(due), "e".to_owned()),
                ("n.txt".to_owned(), None, None, "n".to_owned()),
                ("t.ics".to_owned(), None, None, "t".to_owned()),
            ]
        );
    }
}
