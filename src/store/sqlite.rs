//! SQLite engine, the embedded default: a WAL-mode file behind a one-connection write pool and a
//! fixed set of read connections. The queries and method bodies live in `shared/`.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Sqlite};
use tokio::sync::{OwnedMutexGuard, Semaphore, SemaphorePermit};

use super::{StoreResult, lock};
use writer::{State as WriterState, WriteTx, Writer};

#[path = "sqlite_writer.rs"]
mod writer;

type Db = Sqlite;
type Engine = SqliteStore;
/// One writer at a time: a batch may lock (bump) all its collections in one statement, in any
/// order (`write_scheduling`).
const ONE_STATEMENT_LOCKS: bool = true;

/// A new object's row is written by an INSERT without RETURNING and its id read from the
/// connection (`inserted_id`): SQLite runs RETURNING as a trigger, which makes the INSERT a
/// statement that needs a statement journal (a copy of every page it changes), and buffers its
/// rows in a temporary table (shared/objects.rs `write_row`).
fn insert_without_returning() -> bool {
    true
}

/// The rowid of the last INSERT on the connection.
fn inserted_id(done: &sqlx::sqlite::SqliteQueryResult) -> Option<i64> {
    Some(done.last_insert_rowid())
}

/// How the outbox claim's subquery locks its rows (shared/sched.rs). One writer at a time (BEGIN IMMEDIATE): a claim needs no row locks.
macro_rules! claim_lock {
    () => {
        ""
    };
}

// Deliberately compiled once per engine; see the top of shared/mod.rs.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
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
/// WAL pages after which a commit checkpoints them into the database file (SQLite's default is
/// 1,000): at most ~40 MiB of WAL with 4 KiB pages.
const WAL_AUTOCHECKPOINT: u32 = 10_000;
/// How long a read waits for a free connection, or a write for the writer, before it fails (as
/// sqlx's pool bounded both).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct SqliteStore {
    /// Write transactions, on exactly ONE connection. SQLite admits one writer at a time; with
    /// several write connections a transaction that read first and then writes must upgrade its
    /// lock and fails at once with SQLITE_BUSY (busy_timeout cannot help a deferred upgrade) when
    /// another connection wrote meanwhile. One connection makes writers queue for it instead,
    /// and `BEGIN IMMEDIATE` takes the write lock up front so even another process's writer is
    /// met by busy_timeout rather than a mid-transaction failure. Behind a mutex, not a sqlx
    /// pool, for the reason `Readers` gives; here the pool's ping sat on the one path every
    /// write queues for. Writers that queue for it commit together (group commit, `writer`).
    writer: Arc<Writer>,
    /// Reads. WAL lets these run alongside the writer. `query_only` keeps writes off these
    /// connections, which would bring the lock upgrades back. None for an in-memory database,
    /// which reads through the writer's one connection.
    readers: Option<Arc<Readers>>,
}

/// The read connections, opened at start and handed out in turn. Not a sqlx pool: sqlx pings
/// every connection it takes back (a round trip to the connection's thread, two thread
/// wake-ups, as dear as a point read), so a GET paid for two statements. A file connection
/// cannot hang up, and one is reusable after any read: a read dropped half-way (the client
/// went) only closes the channel its rows were sent into, and the connection's thread stops
/// sending and resets the statement before the next command.
struct Readers {
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection in `idle`.
    permits: Semaphore,
}

/// A read connection, back to its set when dropped.
enum ReadConn<'a> {
    Own { conn: Option<SqliteConnection>, readers: &'a Readers, _permit: SemaphorePermit<'a> },
    /// The in-memory database's one connection.
    Writer(OwnedMutexGuard<WriterState>),
}

impl Deref for ReadConn<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            // `conn` is Some until drop.
            ReadConn::Own { conn, .. } => conn.as_ref().unwrap_or_else(|| unreachable!("taken only in drop")),
            ReadConn::Writer(state) => state.conn(),
        }
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            ReadConn::Own { conn, .. } => conn.as_mut().unwrap_or_else(|| unreachable!("taken only in drop")),
            ReadConn::Writer(state) => state.conn_mut(),
        }
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let ReadConn::Own { conn, readers, .. } = self
            && let Some(conn) = conn.take()
        {
            // Back before the permit goes (fields drop after this), so a woken waiter finds it.
            lock(&readers.idle).push(conn);
        }
    }
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

        // The writer keeps its statement journals in memory: a statement that may fail half-way
        // after changing several rows (a multi-row INSERT, an UPDATE … RETURNING) copies every
        // page it changes into one, and a journal over 64 KiB went to a temporary file, a write
        // system call per page. And it checkpoints the WAL after `WAL_AUTOCHECKPOINT` pages, not
        // SQLite's 1,000: a scheduling batch writes ~100 pages (its rows go to ~20 collections,
        // each a leaf page in every index), so the default checkpointed after every few
        // invitations, rewriting the same hot pages into the file each time with two fsyncs.
        let mut writer = options
            .clone()
            .pragma("temp_store", "MEMORY")
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT.to_string())
            .connect()
            .await?;
        super::migrations::SQLITE.migrator().await?.run(&mut writer).await?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // An in-memory database's one connection also serves reads, which must never see a
        // group's writes before its COMMIT: there every write commits alone.
        let writer = Writer::new(writer::SqliteLine::new(writer), if in_memory { 1 } else { writer::MAX_GROUP }, ACQUIRE_TIMEOUT, Arc::default());

        // An in-memory database has no WAL and vanishes with its last connection, and extra
        // connections to it would meet shared-cache table locks (SQLITE_LOCKED, which
        // busy_timeout does not retry): its one connection also serves the reads.
        let readers = if in_memory {
            None
        } else {
            let options = options.create_if_missing(false).pragma("query_only", "ON");
            let mut idle = Vec::new();
            for _ in 0..READ_CONNECTIONS {
                idle.push(options.connect().await?);
            }
            let permits = Semaphore::new(idle.len());
            Some(Arc::new(Readers { idle: Mutex::new(idle), permits }))
        };
        Ok(SqliteStore { writer, readers })
    }

    /// A scheduling batch's turn at its collections: the one writer is the turn already
    /// (PostgreSQL queues batches per collection, pg_sched_gate.rs).
    async fn enter_scheduling(&self, _collections: &[super::CollectionId]) -> sqlx::Result<Option<super::pg_sched_gate::Entered<'_>>> {
        Ok(None)
    }

    /// A read connection: one of `readers`, or the in-memory database's only one.
    async fn reader(&self) -> sqlx::Result<ReadConn<'_>> {
        let Some(readers) = &self.readers else {
            return Ok(ReadConn::Writer(self.writer.lock().await?));
        };
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, readers.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = lock(&readers.idle).pop();
        // A permit is only out while its connection is, so one is idle.
        let conn = conn.ok_or(sqlx::Error::PoolClosed)?;
        Ok(ReadConn::Own { conn: Some(conn), readers, _permit: permit })
    }

    /// Committed groups of writes and the writes in them (group commit, `writer`).
    pub fn write_stats(&self) -> (u64, u64) {
        self.writer.stats().read()
    }

    async fn begin_write(&self) -> sqlx::Result<WriteTx> {
        self.writer.begin().await
    }

    /// A creation (a PUT with If-None-Match: *): written as any PUT. The one writer's group
    /// commit already runs a queue of PUTs back to back, each a round trip to its thread.
    async fn create(
        &self,
        collection: crate::store::CollectionId,
        object: crate::store::NewObject,
        now: crate::store::Timestamp,
    ) -> StoreResult<crate::store::PutOutcome> {
        self.put_one(collection, object, crate::store::Expect::Absent, now).await
    }

    /// A PUT's write begun, its collection bumped (adding `bytes`; NotFound if gone) and its
    /// checks read, in ONE round trip to the writer's thread with the opening statement
    /// (`BUMP_AND_PUT_CHECKS`): the writer's hold per PUT is mostly such round trips.
    async fn begin_put(
        &self,
        collection: crate::store::CollectionId,
        now: crate::store::Timestamp,
        bytes: i64,
        object: &crate::store::NewObject,
    ) -> StoreResult<(WriteTx, shared::BumpedRow, Option<shared::put::PutChecksRow>)> {
        use sqlx::{Arguments, FromRow};
        let mut args = sqlx::sqlite::SqliteArguments::default();
        let uid = object.calendar.as_ref().map(|c| c.uid.clone());
        // $3 (PUT_CHECKS' child path) is computed in this statement; its slot stays unused.
        let added = args
            .add(collection.0)
            .and_then(|()| args.add(object.name.clone()))
            .and_then(|()| args.add(None::<String>))
            .and_then(|()| args.add(uid))
            .and_then(|()| args.add(now))
            .and_then(|()| args.add(bytes));
        added.map_err(sqlx::Error::Encode)?;
        let (tx, rows) = self.writer.begin_with(shared::put::sql::BUMP_AND_PUT_CHECKS, args).await?;
        match rows.as_slice() {
            [bumped, checks] => Ok((tx, shared::BumpedRow::from_row(bumped)?, Some(shared::put::PutChecksRow::from_row(checks)?))),
            // The UPDATE matched no collection: only the checks' row came back.
            _ => Err(super::StoreError::NotFound),
        }
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
            shared::listing::sql::OBJECTS_IN_RANGE
        )))
        .bind(1_i64)
        .bind(0_i64)
        .bind(10_i64)
        .bind(Some("VEVENT"))
        .fetch_all(&mut *store.reader().await.unwrap())
        .await
        .unwrap();
        let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            detail.iter().any(
                |d| d.contains("USING INDEX objects_time_range (collection_id=? AND <expr>>?)")
            ),
            "plan: {detail:?}"
        );
        // The candidates are sorted in Rust: a sort in SQL copies every row, bytes and all.
        assert!(!detail.iter().any(|d| d.contains("TEMP B-TREE")), "plan: {detail:?}");
    }

    /// PROPFIND Depth 1 lists members without their data; the listing must come from the
    /// covering index alone, not from rows that carry the client's bytes.
    #[tokio::test]
    async fn listings_read_only_the_covering_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        // The count may take any index that covers it (a smaller one is as good).
        for (listing, index) in [
            (shared::listing::sql::LIST_OBJECTS, "USING COVERING INDEX objects_listing"),
            (shared::listing::sql::LIST_MEMBERS, "USING COVERING INDEX objects_listing"),
            (shared::listing::sql::MEMBER_COUNT, "USING COVERING INDEX"),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {listing}")))
                    .bind(1_i64)
                    .fetch_all(&mut *store.reader().await.unwrap())
                    .await
                    .unwrap();
            let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
            assert!(
                detail.iter().any(|d| d.contains(index)),
                "{listing}: plan {detail:?}"
            );
        }
    }

    /// An invitation's batch check probes each recipient collection's names and UIDs through
    /// the `(collection_id, name)` and `(collection_id, uid)` unique indexes; a scan of the
    /// collection (what SQLite chose while the UID probe also selected the name) made every
    /// invitation cost as much as the recipients' calendars were large (performance stop 15).
    #[tokio::test]
    async fn the_batch_checks_probe_uids_by_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        for n in [1, 10] {
            let (text, rows) = shared::sched_batch::new_copy_checks_sql(n);
            let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {text}")));
            for _ in 0..rows {
                query = query.bind(1_i64).bind("x").bind("x").bind("x");
            }
            let plan = query.fetch_all(&mut *store.reader().await.unwrap()).await.unwrap();
            let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
            let probes: Vec<&&str> = detail.iter().filter(|d| d.contains("objects")).collect();
            assert_eq!(probes.len(), 2, "{detail:?}");
            assert!(probes.iter().all(|d| d.contains("collection_id=? AND")), "every objects probe uses both columns: {detail:?}");
            assert!(detail.iter().any(|d| d.contains("(collection_id=? AND uid=?)")), "{detail:?}");
        }
    }

    /// The worker's scan for due timelines reads the partial index, not every object.
    #[tokio::test]
    async fn timelines_due_uses_its_partial_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            shared::sync::sql::TIMELINES_DUE
        )))
        .bind(0_i64)
        .bind(10_i64)
        .fetch_all(&mut *store.reader().await.unwrap())
        .await
        .unwrap();
        let detail: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(detail.iter().any(|d| d.contains("USING INDEX objects_timelines_due")), "plan: {detail:?}");
    }

    /// Schema v4 on a database with events from before it: the events become due for the
    /// worker's first layout, other objects do not, and nothing else changes.
    #[tokio::test]
    async fn schema_v4_marks_stored_events_due() {
        let db = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
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

    /// The read connections come back after every kind of read: a listing its visitor
    /// stopped, a read dropped half-way (the client went), many reads at once; and every
    /// later read on them is right and current. 5,000 rows are more than a row buffer, so the dropped
    /// listing leaves rows unsent on its connection's thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_connections_are_reused_after_stopped_and_dropped_reads() {
        use futures_util::FutureExt;

        use crate::store::{CollectionId, ObjectStore, StoreError};

        const ROWS: usize = 5_000;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("r.db").display())).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (name, password_hash, created_at) VALUES ('a', 'h', 0); \
             INSERT INTO collections (owner_id, path, kind, components, created_at, modified_at) \
             VALUES (1, 'c', 'calendar', 15, 0, 0); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, \
             created_at, modified_at, sync_seq) \
             SELECT 1, printf('%05d.ics', i), X'00', 'e', 'text/calendar', 1, i, 'VEVENT', 0, 0, i FROM n;"
        )))
        .execute(store.writer.lock().await.unwrap().conn_mut())
        .await
        .unwrap();
        let c = CollectionId(1);
        let full = |store: SqliteStore| async move {
            let mut names = Vec::new();
            store.list_members(c, &mut |o| {
                names.push(o.name);
                Ok(())
            }).await.unwrap();
            names
        };
        let expected: Vec<String> = (1..=ROWS).map(|i| format!("{i:05}.ics")).collect();

        for _ in 0..2 * READ_CONNECTIONS {
            let mut seen = 0;
            let stopped = store
                .list_members(c, &mut |_| {
                    seen += 1;
                    if seen == 3 { Err(StoreError::NotFound) } else { Ok(()) }
                })
                .await;
            assert!(matches!(stopped, Err(StoreError::NotFound)), "{stopped:?}");
            // Polled once and dropped, mid-command.
            let _ = store.list_members(c, &mut |_| Ok(())).now_or_never();
            let _ = store.member_count(c).now_or_never();
        }
        // No connection is left inside an old read snapshot: a write made now shows in every
        // later read.
        sqlx::raw_sql(
            "INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, \
             created_at, modified_at, sync_seq) VALUES (1, 'last.ics', X'00', 'e', 'text/calendar', 1, 'last', 'VEVENT', 0, 0, 9999999)",
        )
        .execute(store.writer.lock().await.unwrap().conn_mut())
        .await
        .unwrap();
        let expected: Vec<String> = expected.into_iter().chain(["last.ics".to_owned()]).collect();
        assert_eq!(full(store.clone()).await, expected);

        let reads: Vec<_> = (0..4 * READ_CONNECTIONS).map(|_| tokio::spawn(full(store.clone()))).collect();
        for read in reads {
            assert_eq!(read.await.unwrap(), expected);
        }
        assert_eq!(store.member_count(c).await.unwrap(), ROWS + 1);
        let readers = store.readers.as_ref().unwrap();
        assert_eq!(lock(&readers.idle).len(), READ_CONNECTIONS as usize, "every connection is back");
        assert_eq!(readers.permits.available_permits(), READ_CONNECTIONS as usize);
    }


    /// A write transaction dropped without commit, whether after its statements or while one
    /// is in flight (the client went), leaves nothing behind, and the next one starts clean.
    #[tokio::test]
    async fn a_dropped_write_transaction_rolls_back() {
        use futures_util::FutureExt;

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("w.db").display())).await.unwrap();
        let insert = |name: &'static str| {
            sqlx::query("INSERT INTO users (name, password_hash, created_at) VALUES ($1, 'h', 0)").bind(name)
        };
        {
            let mut tx = store.begin_write().await.unwrap();
            insert("dropped").execute(&mut *tx).await.unwrap();
        }
        {
            let mut tx = store.begin_write().await.unwrap();
            // Polled once, then dropped with the transaction.
            let _ = insert("in-flight").execute(&mut *tx).now_or_never();
        }
        let mut tx = store.begin_write().await.unwrap();
        insert("kept").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM users ORDER BY name")
            .fetch_all(&mut *store.reader().await.unwrap())
            .await
            .unwrap();
        assert_eq!(names, ["kept"]);
    }

}
