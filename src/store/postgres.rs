//! PostgreSQL engine, for production and multi-node deployments: a pool for write
//! transactions and the store's own read connections (pg_readers.rs). The queries and method
//! bodies live in `shared/`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};

use super::StoreResult;
use super::pg_readers::{PgReaders, READ_CONNECTIONS, ReadConn, Suspect};
use super::pg_writers::{PgWriters, WriteTx};

type Db = Postgres;
type Engine = PgStore;
/// Concurrent writers: a batch first locks its collections in ascending id order (one
/// `SELECT … ORDER BY id FOR UPDATE`), so that two batches never wait for each other in a cycle,
/// then bumps them all in one statement.
const ONE_STATEMENT_LOCKS: bool = false;

/// A new object's INSERT returns its row (PostgreSQL tells no id otherwise; see sqlite.rs).
fn insert_without_returning() -> bool {
    false
}

/// Never called (`insert_without_returning`).
fn inserted_id(_: &sqlx::postgres::PgQueryResult) -> Option<i64> {
    None
}

/// How the outbox claim's subquery locks its rows (shared/sched.rs). Concurrent claims skip the rows another claim has locked, so two nodes never take one row.
macro_rules! claim_lock {
    () => {
        " FOR UPDATE SKIP LOCKED"
    };
}

// Deliberately compiled once per engine; see the top of shared/mod.rs.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

/// Write transactions at once (reads have their own connections, `PgReaders`).
const MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a connection before it is answered 503: sqlx's default of 30 s
/// would hold every request that long while the database is gone, past the balancer's timeouts
/// (decision 0031). A busy pool hands connections on in milliseconds, so 5 s is only reached
/// when the database does not answer.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// After a connection was found broken, every connection is pinged before use for this long:
/// its idle siblings were probably cut too, and a ping finds that out before a request's
/// statement does (decision 0031).
const SUSPECT_FOR: Duration = Duration::from_secs(10);
/// A connection idle longer than this is pinged before use. sqlx's default pings before every
/// acquire, a network round trip as dear as a point read; sqlx also pings a write connection at
/// every release, and a read connection that sat briefly answered a statement moments ago.
const PING_IF_IDLE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct PgStore {
    /// Write transactions. PostgreSQL's row locks serialise writers per collection (see
    /// shared/mod.rs), so they need no writer of their own as SQLite's do.
    pool: PgPool,
    /// Reads, without the pool's ping at every release (pg_readers.rs).
    readers: Arc<PgReaders>,
    /// PUTs, in one group-commit line per calendar on the pool's connections (pg_writers.rs).
    writers: Arc<PgWriters>,
    /// Connections are pinged before use while suspect (`suspect_connections`).
    suspect: Suspect,
}

impl PgStore {
    /// Connects to `postgres://…` / `postgresql://…` and migrates. sqlx takes an advisory lock
    /// while migrating, so several nodes may start at once.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let suspect = Suspect::default();
        let pool_suspect = suspect.clone();
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                let suspect = pool_suspect.now();
                Box::pin(async move {
                    // A failed ping closes the connection; the pool takes or opens another.
                    if suspect || meta.idle_for > PING_IF_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        super::migrations::POSTGRES.migrator().await?.run(&pool).await?;
        let readers = Arc::new(PgReaders::new(options, READ_CONNECTIONS, suspect.clone(), ACQUIRE_TIMEOUT, PING_IF_IDLE));
        let writers = Arc::new(PgWriters::new(pool.clone(), ACQUIRE_TIMEOUT));
        Ok(PgStore { pool, readers, writers, suspect })
    }

    /// A connection was found broken: ping the others before use for a while.
    pub(super) fn suspect_connections(&self) {
        self.suspect.mark(SUSPECT_FOR);
    }

    /// A connection for reads.
    async fn reader(&self) -> sqlx::Result<ReadConn<'_>> {
        self.readers.get().await
    }

    /// READ COMMITTED on purpose: every write first locks its collection row, and under READ
    /// COMMITTED each later statement sees what the previous lock holder committed. REPEATABLE
    /// READ would instead abort the second of two concurrent writers with a serialization error.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Db>> {
        self.pool.begin().await
    }

    /// Committed groups of PUTs and the PUTs in them (group commit per calendar, pg_writers.rs).
    pub fn write_stats(&self) -> (u64, u64) {
        self.writers.stats().read()
    }

    /// A PUT's write begun on its calendar's line (joining the group open there) and its
    /// collection bumped (adding `bytes`; NotFound if gone), in one round trip: the opening and
    /// the bump are one simple query (the bump's values are integers, written into its text).
    /// The checks come after, in a statement of their own, or in the creation's
    /// (CREATE_CHECKED): they must start after the row lock is held, or a snapshot taken before
    /// waiting for it would miss what its last holder committed.
    async fn begin_put(
        &self,
        collection: crate::store::CollectionId,
        now: crate::store::Timestamp,
        bytes: i64,
        _object: &crate::store::NewObject,
    ) -> StoreResult<(WriteTx, shared::BumpedRow, Option<shared::put::PutChecksRow>)> {
        use sqlx::FromRow;
        let bump = shared::bump_seq_bytes_text(collection, now, bytes);
        let (tx, rows) = self.writers.begin_with(collection.0, &bump).await?;
        match rows.first() {
            Some(row) => Ok((tx, shared::BumpedRow::from_row(row)?, None)),
            // Dropping the write undoes its opening.
            None => Err(crate::store::StoreError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::ConnectOptions;

    use super::*;

    /// A migrated store in a throw-away database, and the admin URL that drops it.
    async fn throwaway() -> (PgStore, String, String) {
        let admin = crate::store::test_pg_url();
        let name = format!("kalends_unit_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("KALENDS_TEST_PG_URL names a PostgreSQL server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await.unwrap();
        let mut options = PgConnectOptions::from_str(&admin).unwrap();
        options = options.database(&name);
        let store = PgStore::open(options.to_url_lossy().as_ref()).await.unwrap();
        (store, admin, name)
    }

    async fn drop_database(admin: &str, name: &str) {
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))).execute(&mut conn).await.unwrap();
    }

    /// A user's calendar at sync seq `seq`, written directly: its id.
    async fn calendar(store: &PgStore, seq: i64) -> i64 {
        let owner: i64 = sqlx::query_scalar("INSERT INTO users (name, password_hash, created_at) VALUES ('u', 'h', 0) RETURNING id")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        sqlx::query_scalar(
            "INSERT INTO collections (owner_id, path, kind, components, sync_seq, created_at, modified_at) \
             VALUES ($1, 'cal', 'calendar', 1, $2, 0, 0) RETURNING id",
        )
        .bind(owner)
        .bind(seq)
        .fetch_one(&store.pool)
        .await
        .unwrap()
    }

    fn event(name: &str, uid: &str) -> crate::store::NewObject {
        crate::store::NewObject {
            name: name.into(),
            data: format!("BEGIN:VCALENDAR\r\nUID:{uid}\r\nEND:VCALENDAR\r\n").into_bytes(),
            content_type: "text/calendar".into(),
            etag: format!("\"{name}\""),
            calendar: Some(crate::store::CalendarIndex {
                uid: uid.into(),
                component: crate::store::ComponentKind::Event,
                first_start: Some(0),
                last_end: Some(3600),
            }),
            timeline: None,
            schedule_tag: None,
            alarms: Default::default(),
        }
    }

    /// PUTs that join a group (their savepoint and bump one simple query, a creation's checks
    /// and INSERT one statement) see what the group's earlier writes did before its COMMIT (a
    /// UID and a name taken), a refused one's bump is undone with it, and the one that is kept
    /// takes the next seq. Writers queue in order, so all four are one group: one COMMIT.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_joining_put_checks_what_its_group_wrote() {
        use crate::store::{Expect, ObjectStore, StoreError};
        let (store, admin, name) = throwaway().await;
        let collection = calendar(&store, 10).await;
        let id = crate::store::CollectionId(collection);
        // The group's first write, as a PUT of a.ics (UID "taken") would leave it, uncommitted.
        let (mut first, bumped, _) = store.begin_put(id, 5, 0, &event("a.ics", "taken")).await.unwrap();
        assert_eq!(bumped.sync_seq, 11);
        sqlx::query(
            "INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, \
             first_start, last_end, created_at, modified_at, sync_seq) \
             VALUES ($1, 'a.ics', '\\x00', 'a', 'text/calendar', 1, 'taken', 'VEVENT', 0, 3600, 5, 5, 11)",
        )
        .bind(collection)
        .execute(&mut *first)
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for (i, object) in [event("b.ics", "taken"), event("a.ics", "other"), event("c.ics", "free")].into_iter().enumerate() {
            let putter = store.clone();
            tasks.push(tokio::spawn(async move { putter.put_object(id, object, Expect::Absent).await }));
            while store.writers.arriving(collection) < i + 1 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        first.commit().await.unwrap();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        assert!(matches!(&outcomes[0], Err(StoreError::UidConflict { existing_name }) if existing_name == "a.ics"), "{:?}", outcomes[0]);
        assert!(matches!(outcomes[1], Err(StoreError::PreconditionFailed)), "{:?}", outcomes[1]);
        let kept = outcomes.pop().unwrap().unwrap();
        assert_eq!(kept.meta.sync_seq, 12, "the refused writes' bumps were undone");
        assert_eq!(store.write_stats(), (1, 2), "a.ics and c.ics in one COMMIT");
        let seq: i64 = sqlx::query_scalar("SELECT sync_seq FROM collections WHERE id = $1").bind(collection).fetch_one(&store.pool).await.unwrap();
        assert_eq!(seq, 12);
        drop(store);
        drop_database(&admin, &name).await;
    }

    /// The incremental sync's statement keeps one generic plan: PostgreSQL plans a prepared
    /// statement afresh at each execution while a fresh plan looks cheaper than its generic
    /// one, and for DELTA_SINCE's earlier shape that planning was ~0.27 ms of a 0.02 ms
    /// statement. Counted on the server (`pg_prepared_statements`), after five executions, on
    /// a calendar of 2,500 members with its statistics gathered.
    #[tokio::test]
    async fn the_sync_delta_keeps_a_generic_plan() {
        let (store, admin, name) = throwaway().await;
        let collection = calendar(&store, 2500).await;
        let mut tx = store.begin_write().await.unwrap();
        sqlx::query(
            "INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, \
             first_start, last_end, created_at, modified_at, sync_seq) \
             SELECT $1, 'e' || g || '.ics', '\\x00', 'e', 'text/calendar', 1, 'u' || g, 'VEVENT', g, g + 1, 0, 0, g \
             FROM generate_series(1, 2500) g",
        )
        .bind(collection)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let mut conn = store.reader().await.unwrap();
        sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        for _ in 0..10 {
            let rows = sqlx::query(shared::sync::sql::DELTA_SINCE)
                .bind(collection)
                .bind(2499_i64)
                .bind(i64::MAX)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            assert_eq!(rows.len(), 2, "the collection's row and the one member changed since 2499");
        }
        let (generic, custom): (i64, i64) =
            sqlx::query_as("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1")
                .bind(shared::sync::sql::DELTA_SINCE)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert!(generic >= 5, "generic plans {generic}, custom plans {custom}: planned afresh at each execution");
        drop(conn);
        drop(store);
        drop_database(&admin, &name).await;
    }
}
