//! SQLite's one writer connection as a group-commit line (`group_commit.rs`, decision 0034):
//! SQLite admits one writer, so every write is on this line, and `begin_with` sends a write's
//! opening and its first statements in one round trip to the connection's thread.

use std::sync::Arc;

use sqlx::Executor;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};

use crate::store::group_commit::{self, SAVEPOINT};

pub(super) use crate::store::group_commit::MAX_GROUP;

/// The writer connection, SQLite's one line of writes.
pub(super) struct SqliteLine {
    conn: SqliteConnection,
}

impl SqliteLine {
    pub(super) fn new(conn: SqliteConnection) -> Self {
        SqliteLine { conn }
    }
}

pub(super) type Writer = group_commit::Writer<SqliteLine>;
pub(super) type State = group_commit::State<SqliteLine>;
pub(super) type WriteTx = group_commit::WriteTx<SqliteLine>;

impl group_commit::Line for SqliteLine {
    type Conn = SqliteConnection;

    /// `BEGIN IMMEDIATE` takes SQLite's write lock up front, so another process's writer is met
    /// by busy_timeout rather than a failure mid-transaction.
    async fn begin(&mut self) -> sqlx::Result<()> {
        self.exec("BEGIN IMMEDIATE").await
    }

    async fn exec(&mut self, sql: &'static str) -> sqlx::Result<()> {
        sqlx::raw_sql(sql).execute(&mut self.conn).await.map(drop)
    }

    /// The connection is the line's own, whatever happened.
    fn ended(&mut self, _broken: bool) {}

    fn conn(&self) -> &SqliteConnection {
        &self.conn
    }

    fn conn_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl group_commit::Writer<SqliteLine> {
    /// `begin` with the write's first statements `rest` (their arguments `args`) sent in the
    /// same round trip as the opening: the rows they returned. When one of them fails, the
    /// write is undone as a dropped one is, and the error returned.
    pub(super) async fn begin_with(self: &Arc<Self>, rest: &'static str, args: SqliteArguments) -> sqlx::Result<(WriteTx, Vec<SqliteRow>)> {
        let mut state = self.arrive().await?;
        let joining = state.joining();
        let start = if joining.is_some() { SAVEPOINT } else { "BEGIN IMMEDIATE" };
        let sql = sqlx::AssertSqlSafe(format!("{start}; {rest}"));
        let opening = group_commit::read_opening(state.conn_mut().fetch_many(sqlx::query_with(sql, args))).await;
        self.opened(state, joining, opening)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::store::SqliteStore;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("g.db").display())).await.unwrap();
        (dir, store)
    }

    async fn insert(tx: &mut WriteTx, name: &str) {
        sqlx::query("INSERT INTO users (name, password_hash, created_at) VALUES ($1, 'h', 0)")
            .bind(name)
            .execute(&mut **tx)
            .await
            .unwrap();
    }

    async fn names(store: &SqliteStore) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM users ORDER BY name").fetch_all(&mut *store.reader().await.unwrap()).await.unwrap()
    }

    async fn commits(store: &SqliteStore) -> usize {
        store.writer.stats().read().0 as usize
    }

    /// Waits until `n` writers wait for the connection.
    async fn until_arriving(writer: &Writer, n: usize) {
        while writer.arriving() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A write alone commits at once, with its own COMMIT.
    #[tokio::test]
    async fn a_write_alone_commits_at_once() {
        let (_dir, store) = store().await;
        let mut tx = store.writer.begin().await.unwrap();
        insert(&mut tx, "a").await;
        tx.commit().await.unwrap();
        assert_eq!(names(&store).await, ["a"]);
        assert_eq!(commits(&store).await, 1);
    }

    /// A write that finished while another waited is answered only after the other's, with one
    /// COMMIT for both; until then no reader sees it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_answered_only_once_its_group_committed() {
        let (_dir, store) = store().await;
        let mut a = store.writer.begin().await.unwrap();
        insert(&mut a, "a").await;
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let writer = store.writer.clone();
        let b = tokio::spawn(async move {
            let mut b = writer.begin().await.unwrap();
            insert(&mut b, "b").await;
            wait.await.unwrap();
            b.commit().await
        });
        until_arriving(&store.writer, 1).await;
        let a = tokio::spawn(a.commit());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!a.is_finished(), "a's commit answered while its group was open");
        assert!(names(&store).await.is_empty(), "a reader saw an uncommitted write");
        go.send(()).unwrap();
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(names(&store).await, ["a", "b"]);
        assert_eq!(commits(&store).await, 1, "one COMMIT for the group");
    }

    /// A write of the group that fails or is dropped takes only its own statements with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_write_leaves_its_group_whole() {
        let (_dir, store) = store().await;
        let mut a = store.writer.begin().await.unwrap();
        insert(&mut a, "a").await;
        let (writer, writer2) = (store.writer.clone(), store.writer.clone());
        let b = tokio::spawn(async move {
            let mut b = writer.begin().await.unwrap();
            insert(&mut b, "b-dropped").await;
        });
        let c = tokio::spawn(async move {
            let mut c = writer2.begin().await.unwrap();
            insert(&mut c, "c").await;
            c.commit().await
        });
        until_arriving(&store.writer, 2).await;
        a.commit().await.unwrap();
        b.await.unwrap();
        c.await.unwrap().unwrap();
        assert_eq!(names(&store).await, ["a", "c"]);
    }

    /// When SQLite rolled the transaction back itself (here by hand, as a full disk would), the
    /// group's finished writes are reported failed, not acknowledged: nothing of them is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_transaction_fails_every_write_of_its_group() {
        let (_dir, store) = store().await;
        let mut a = store.writer.begin().await.unwrap();
        insert(&mut a, "a").await;
        let writer = store.writer.clone();
        let b = tokio::spawn(async move {
            let mut b = writer.begin().await.unwrap();
            insert(&mut b, "b").await;
            sqlx::raw_sql("ROLLBACK").execute(&mut *b).await.unwrap();
        });
        until_arriving(&store.writer, 1).await;
        let err = a.commit().await.unwrap_err();
        assert!(err.to_string().contains("rolled back"), "{err}");
        b.await.unwrap();
        assert!(names(&store).await.is_empty());
        // The connection is clean for the next write.
        let mut d = store.writer.begin().await.unwrap();
        insert(&mut d, "d").await;
        d.commit().await.unwrap();
        assert_eq!(names(&store).await, ["d"]);
    }

    /// A write begun with its first statements in the opening's round trip: when one of them
    /// fails, the statements before it are undone with the write, and the group goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_first_statement_undoes_its_write_only() {
        let (_dir, store) = store().await;
        let mut a = store.writer.begin().await.unwrap();
        insert(&mut a, "a").await;
        let writer = store.writer.clone();
        let b = tokio::spawn(async move {
            // users.name is unique: the second INSERT fails after the first ran.
            let rest = "INSERT INTO users (name, password_hash, created_at) VALUES ('b', 'h', 0); \
                        INSERT INTO users (name, password_hash, created_at) VALUES ($1, 'h', 0)";
            let mut args = SqliteArguments::default();
            sqlx::Arguments::add(&mut args, "a").unwrap();
            writer.begin_with(rest, args).await.map(|_| ())
        });
        until_arriving(&store.writer, 1).await;
        a.commit().await.unwrap();
        assert!(b.await.unwrap().is_err());
        // Alone, with rows: a new group's opening is BEGIN IMMEDIATE.
        let mut args = SqliteArguments::default();
        sqlx::Arguments::add(&mut args, "c").unwrap();
        let (c, rows) = store
            .writer
            .begin_with("INSERT INTO users (name, password_hash, created_at) VALUES ($1, 'h', 0) RETURNING name", args)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        c.commit().await.unwrap();
        assert_eq!(names(&store).await, ["a", "c"]);
    }

    /// Many writers at once: every acknowledged write is there, in fewer COMMITs than writes,
    /// and no group exceeds `MAX_GROUP`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_commit_in_groups() {
        let (_dir, store) = store().await;
        let n = 3 * MAX_GROUP;
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let writer = store.writer.clone();
                tokio::spawn(async move {
                    let mut tx = writer.begin().await.unwrap();
                    insert(&mut tx, &format!("u{i:03}")).await;
                    tx.commit().await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(names(&store).await.len(), n);
        assert_eq!(store.writer.stats().read().1 as usize, n);
        let commits = commits(&store).await;
        assert!((n.div_ceil(MAX_GROUP)..n).contains(&commits), "{commits} COMMITs for {n} writes");
    }
}
