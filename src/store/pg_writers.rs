//! PostgreSQL's PUTs in one group-commit line per calendar (`group_commit.rs`, decision 0036).
//!
//! Every write to a calendar holds the calendar's row lock (its sync seq bump, shared/mod.rs)
//! until its COMMIT has flushed the WAL, so PUTs to one calendar run one at a time whatever the
//! number of connections, and each paid a flush of its own. In a line, PUTs that queue for the
//! calendar while one writes join its transaction, each in a savepoint, and the group is
//! committed, and flushed, once. A group holds its calendar's row and the rows under it, no
//! other collection, so groups of different lines (or nodes) never wait for each other in a
//! cycle; across nodes, the row lock still orders the writes.
//!
//! A line borrows a connection from the write pool when its group opens and gives it back
//! when the group ends; lines of calendars nobody is writing to are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Executor, Postgres};

use crate::store::group_commit::{self, Line, MAX_GROUP, WriteStats};
use crate::store::lock;

pub(super) type WriteTx = group_commit::WriteTx<PgLine>;
type Writer = group_commit::Writer<PgLine>;

/// Lines kept before the dead ones (calendars nobody writes to now) are swept out.
const SWEEP_AT: usize = 256;

/// The lines of the calendars being written to.
pub(super) struct PgWriters {
    pool: PgPool,
    lines: Mutex<Lines>,
    acquire_timeout: Duration,
    stats: Arc<WriteStats>,
}

struct Lines {
    by_collection: HashMap<i64, Weak<Writer>>,
    /// The map's size at which dead lines are swept next: twice the live ones after a sweep,
    /// so that sweeping stays linear in the writes.
    sweep_at: usize,
}

impl PgWriters {
    pub(super) fn new(pool: PgPool, acquire_timeout: Duration) -> Self {
        let lines = Lines { by_collection: HashMap::new(), sweep_at: SWEEP_AT };
        PgWriters { pool, lines: Mutex::new(lines), acquire_timeout, stats: Arc::default() }
    }

    pub(super) fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Begins a write to `collection` on its line: in the group open there, or in a new one.
    /// (The store's PUTs open theirs with their first statement, `begin_with`.)
    #[cfg(test)]
    pub(super) async fn begin(&self, collection: i64) -> sqlx::Result<WriteTx> {
        let writer = self.line(collection);
        writer.begin().await
    }

    /// Begins a write to `collection` like `begin`, with `first` (SQL text, no parameters) run
    /// in the same round trip as the opening (BEGIN, or the group's SAVEPOINT): a simple query
    /// of two statements. Returns `first`'s rows. If `first` fails, the write is dropped, which
    /// undoes it; if the opening did not run, there is nothing to undo.
    pub(super) async fn begin_with(&self, collection: i64, first: &str) -> sqlx::Result<(WriteTx, Vec<PgRow>)> {
        self.open(collection, first, true).await.map(|(tx, rows, _)| (tx, rows))
    }

    /// Begins a write to `collection` holding its row lock: a new group's BEGIN with `lock`
    /// (SQL text that locks the row) in one round trip, or the open group's SAVEPOINT alone,
    /// since that group holds the lock already (its first write took it). Returns `lock`'s
    /// rows (none when joining) and whether the write joined a group.
    pub(super) async fn begin_locked(&self, collection: i64, lock: &str) -> sqlx::Result<(WriteTx, Vec<PgRow>, bool)> {
        self.open(collection, lock, false).await
    }

    async fn open(&self, collection: i64, first: &str, when_joining: bool) -> sqlx::Result<(WriteTx, Vec<PgRow>, bool)> {
        let writer = self.line(collection);
        let mut state = writer.arrive().await?;
        let joining = state.joining();
        let joined = joining.is_some();
        if !joined && let Err(e) = state.line_mut().ready().await {
            state.line_mut().ended(true);
            return Err(e);
        }
        let sql = match (joined, when_joining) {
            (true, true) => format!("{}; {first}", group_commit::SAVEPOINT),
            (true, false) => group_commit::SAVEPOINT.to_owned(),
            (false, _) => format!("BEGIN; {first}"),
        };
        let opening = group_commit::read_opening(state.conn_mut().fetch_many(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))).await;
        writer.opened(state, joining, opening).map(|(tx, rows)| (tx, rows, joined))
    }

    /// Writers now waiting for `collection`'s line (tests wait for them).
    #[cfg(test)]
    pub(super) fn arriving(&self, collection: i64) -> usize {
        self.line(collection).arriving()
    }

    fn line(&self, collection: i64) -> Arc<Writer> {
        let mut lines = lock(&self.lines);
        if let Some(writer) = lines.by_collection.get(&collection).and_then(Weak::upgrade) {
            return writer;
        }
        if lines.by_collection.len() >= lines.sweep_at {
            lines.by_collection.retain(|_, w| w.strong_count() > 0);
            lines.sweep_at = (2 * lines.by_collection.len()).max(SWEEP_AT);
        }
        let line = PgLine { pool: self.pool.clone(), conn: None };
        let writer = Writer::new(line, MAX_GROUP, self.acquire_timeout, self.stats.clone());
        lines.by_collection.insert(collection, Arc::downgrade(&writer));
        writer
    }

    /// Lines held now (tests check that idle ones go).
    #[cfg(test)]
    fn live_lines(&self) -> usize {
        lock(&self.lines).by_collection.values().filter(|w| w.strong_count() > 0).count()
    }
}

/// One calendar's line: a pool connection while a group is open.
pub(super) struct PgLine {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
}

impl PgLine {
    /// A pool connection for the group about to open, if the line holds none.
    async fn ready(&mut self) -> sqlx::Result<()> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        Ok(())
    }
}

impl Line for PgLine {
    type Conn = PgConnection;

    async fn begin(&mut self) -> sqlx::Result<()> {
        self.ready().await?;
        self.exec("BEGIN").await
    }

    async fn exec(&mut self, sql: &'static str) -> sqlx::Result<()> {
        let conn = self.conn.as_deref_mut().ok_or(sqlx::Error::PoolClosed)?;
        conn.execute(sqlx::raw_sql(sql)).await.map(drop)
    }

    /// Back to the pool; a connection in an unknown state is closed instead.
    fn ended(&mut self, broken: bool) {
        if let Some(mut conn) = self.conn.take()
            && broken
        {
            conn.close_on_drop();
        }
    }

    fn conn(&self) -> &PgConnection {
        self.conn.as_deref().unwrap_or_else(|| unreachable!("a write is open only on a connection"))
    }

    fn conn_mut(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!("a write is open only on a connection"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use sqlx::Connection;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;

    /// A pool on the test server and a table of its own (dropped by `done`): the lines need
    /// no schema, these tests write rows of names.
    async fn writers() -> (Arc<PgWriters>, String) {
        let options = PgConnectOptions::from_str(&crate::store::test_pg_url()).unwrap();
        let pool = PgPoolOptions::new().max_connections(4).connect_with(options).await.unwrap();
        let table = format!("kalends_unit_lines_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE TABLE {table} (name TEXT PRIMARY KEY)"))).execute(&pool).await.unwrap();
        (Arc::new(PgWriters::new(pool, Duration::from_secs(5))), table)
    }

    async fn done(writers: Arc<PgWriters>, table: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&writers.pool).await.unwrap();
    }

    async fn insert(tx: &mut WriteTx, table: &str, name: &str) -> sqlx::Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {table} (name) VALUES ($1)"))).bind(name).execute(&mut **tx).await.map(drop)
    }

    /// Read on a connection of the pool's, outside every line: what has been committed.
    async fn names(writers: &PgWriters, table: &str) -> Vec<String> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM {table} ORDER BY name"))).fetch_all(&writers.pool).await.unwrap()
    }

    async fn until_arriving(writers: &PgWriters, collection: i64, n: usize) {
        while writers.arriving(collection) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A PUT that finished while another waited for its calendar is answered only after the
    /// other's, with one COMMIT for both; until then no other connection sees it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_answered_only_once_its_group_committed() {
        let (writers, table) = writers().await;
        let mut a = writers.begin(1).await.unwrap();
        insert(&mut a, &table, "a").await.unwrap();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let (w, t) = (writers.clone(), table.clone());
        let b = tokio::spawn(async move {
            let mut b = w.begin(1).await.unwrap();
            insert(&mut b, &t, "b").await.unwrap();
            wait.await.unwrap();
            b.commit().await
        });
        until_arriving(&writers, 1, 1).await;
        let a = tokio::spawn(a.commit());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!a.is_finished(), "a's commit answered while its group was open");
        assert!(names(&writers, &table).await.is_empty(), "another connection saw an uncommitted write");
        go.send(()).unwrap();
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(names(&writers, &table).await, ["a", "b"]);
        assert_eq!(writers.stats().read(), (1, 2), "one COMMIT for the group");
        done(writers, &table).await;
    }

    /// A write whose statement failed (PostgreSQL then refuses everything until the savepoint
    /// is rolled back to) or that was dropped takes only its own statements with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_dropped_write_leaves_its_group_whole() {
        let (writers, table) = writers().await;
        let mut a = writers.begin(7).await.unwrap();
        insert(&mut a, &table, "a").await.unwrap();
        let spawn = |name: &'static str, fail: bool| {
            let (w, t) = (writers.clone(), table.clone());
            tokio::spawn(async move {
                let mut tx = w.begin(7).await.unwrap();
                insert(&mut tx, &t, name).await.unwrap();
                if fail {
                    // A's name again: a unique violation aborts the transaction's statements.
                    assert!(insert(&mut tx, &t, "a").await.is_err());
                    return Ok(());
                }
                tx.commit().await
            })
        };
        let b = spawn("b-failed", true);
        let c = spawn("c", false);
        until_arriving(&writers, 7, 2).await;
        a.commit().await.unwrap();
        b.await.unwrap().unwrap();
        c.await.unwrap().unwrap();
        // Dropped before it ran anything.
        drop(writers.begin(7).await.unwrap());
        assert_eq!(names(&writers, &table).await, ["a", "c"]);
        done(writers, &table).await;
    }

    /// The connection under a group is lost before its COMMIT (terminated here, as a database
    /// restart would): every write of the group is answered with the error, none of them is
    /// kept, and the line's next write runs on a fresh connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_connection_fails_every_write_of_its_group() {
        let (writers, table) = writers().await;
        let mut a = writers.begin(3).await.unwrap();
        insert(&mut a, &table, "a").await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *a).await.unwrap();
        let (w, t) = (writers.clone(), table.clone());
        let b = tokio::spawn(async move {
            let mut b = w.begin(3).await.unwrap();
            insert(&mut b, &t, "b").await.unwrap();
            let mut admin = sqlx::PgConnection::connect(&crate::store::test_pg_url()).await.unwrap();
            // Waits (up to 5 s) until the backend is gone.
            sqlx::query("SELECT pg_terminate_backend($1, 5000)").bind(pid).execute(&mut admin).await.unwrap();
            b.commit().await
        });
        until_arriving(&writers, 3, 1).await;
        assert!(a.commit().await.is_err(), "a write of a lost group was acknowledged");
        assert!(b.await.unwrap().is_err(), "a write of a lost group was acknowledged");
        let mut d = writers.begin(3).await.unwrap();
        insert(&mut d, &table, "d").await.unwrap();
        d.commit().await.unwrap();
        assert_eq!(names(&writers, &table).await, ["d"]);
        done(writers, &table).await;
    }

    /// `begin_with` runs its statement in the opening's round trip, in the group as a savepoint
    /// when one is open: its rows come back, a failing statement takes only its own write with
    /// it, and a connection lost under a new group's opening is replaced for the next write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_opened_with_its_first_statement_is_a_write_like_the_others() {
        use sqlx::Row;
        let (writers, table) = writers().await;
        let first = format!("INSERT INTO {table} (name) VALUES ('a') RETURNING name");
        let (a, rows) = writers.begin_with(4, &first).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>(), ["a"]);
        let spawn = |sql: String| {
            let w = writers.clone();
            tokio::spawn(async move {
                match w.begin_with(4, &sql).await {
                    Ok((tx, _)) => tx.commit().await.map(|()| true),
                    Err(_) => Ok(false),
                }
            })
        };
        // A's name again (a unique violation), then one that succeeds: both join a's group.
        let b = spawn(format!("INSERT INTO {table} (name) VALUES ('a')"));
        until_arriving(&writers, 4, 1).await;
        let c = spawn(format!("INSERT INTO {table} (name) VALUES ('c')"));
        until_arriving(&writers, 4, 2).await;
        a.commit().await.unwrap();
        assert!(!b.await.unwrap().unwrap(), "the failing statement's write was not refused");
        assert!(c.await.unwrap().unwrap());
        assert_eq!(names(&writers, &table).await, ["a", "c"]);
        assert_eq!(writers.stats().read(), (1, 2), "a and c in one COMMIT");
        // The connection goes while the next group opens (terminated by the statement itself).
        let err = writers.begin_with(4, "SELECT pg_terminate_backend(pg_backend_pid())").await;
        assert!(err.is_err());
        let (d, _) = writers.begin_with(4, &format!("INSERT INTO {table} (name) VALUES ('d')")).await.unwrap();
        d.commit().await.unwrap();
        assert_eq!(names(&writers, &table).await, ["a", "c", "d"]);
        done(writers, &table).await;
    }

    /// Each calendar has its own line (two open at once, on two connections), many writers of
    /// one calendar commit in bounded groups, and the lines go once nobody writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calendars_have_lines_of_their_own_and_idle_lines_go() {
        let (writers, table) = writers().await;
        let mut one = writers.begin(1).await.unwrap();
        let mut two = tokio::time::timeout(Duration::from_secs(2), writers.begin(2)).await.expect("calendar 2 waited for 1").unwrap();
        insert(&mut one, &table, "one").await.unwrap();
        insert(&mut two, &table, "two").await.unwrap();
        two.commit().await.unwrap();
        one.commit().await.unwrap();
        let n = 3 * MAX_GROUP;
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (w, t) = (writers.clone(), table.clone());
                tokio::spawn(async move {
                    let mut tx = w.begin(5).await.unwrap();
                    insert(&mut tx, &t, &format!("u{i:03}")).await.unwrap();
                    tx.commit().await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(names(&writers, &table).await.len(), n + 2);
        let (commits, writes) = writers.stats().read();
        assert_eq!(writes as usize, n + 2);
        assert!((n.div_ceil(MAX_GROUP) + 2..n + 2).contains(&(commits as usize)), "{commits} COMMITs for {} writes", n + 2);
        assert_eq!(writers.live_lines(), 0);
        done(writers, &table).await;
    }
}
