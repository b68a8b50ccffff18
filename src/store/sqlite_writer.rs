//! SQLite's one writer connection, with group commit: writers that queue for the connection
//! while another writes join its transaction, each inside its own savepoint, and one COMMIT
//! makes the whole group durable before any of them is answered (decision 0033).
//!
//! Why: a write is serialised on this one connection anyway (SQLite admits one writer), and its
//! BEGIN and COMMIT were two of its round trips to the connection's thread and most of its WAL
//! writes. In a group of n writes, n − 1 of them make one SAVEPOINT instead of BEGIN + COMMIT,
//! and the pages they share (the collection row, index leaves) go to the WAL once.
//!
//! What each write keeps:
//! - **atomicity**: a write that fails or is dropped rolls back to its savepoint (or, the group's
//!   first, the whole transaction, which holds nothing else), and the group goes on without it;
//! - **isolation**: the writes run one after another on one connection, so each sees the ones
//!   before it exactly as if they had committed first;
//! - **durability**: a write's `commit` returns only after the group's COMMIT returned; when that
//!   COMMIT fails every write of the group gets the error, and none of it is kept.
//!
//! A write alone (nobody waiting) commits at once: grouping never delays an idle server.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use sqlx::Either;
use sqlx::Executor;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Writes per group at most, so that the group's first write is not held back without end by
/// a stream of later ones (an import, many clients).
pub(super) const MAX_GROUP: usize = 32;

/// The savepoint every write after a group's first runs in. Never released: ROLLBACK TO names
/// the newest savepoint of this name, and the group's COMMIT commits them all.
const SAVEPOINT: &str = "SAVEPOINT kalends_write";
const UNDO_TO_SAVEPOINT: &str = "ROLLBACK TO kalends_write";

pub(super) struct Writer {
    state: Arc<AsyncMutex<State>>,
    /// Writers waiting for the connection to begin a write; the group's earlier writes, waiting
    /// for its COMMIT, are not counted: they are why the group stays open, not a reason to.
    arriving: AtomicUsize,
    max_group: usize,
    acquire_timeout: Duration,
    stats: Arc<WriteStats>,
}

/// The connection and the transaction open on it.
pub(super) struct State {
    pub(super) conn: SqliteConnection,
    /// The open group: its BEGIN has run, `members` writes in it have finished.
    group: Option<Arc<Group>>,
    members: usize,
    /// A write was dropped without `commit`: its statements are undone before anything else.
    dangling: bool,
    stats: Arc<WriteStats>,
}

/// Committed groups and the writes in them, for /metrics (their ratio is the mean group size).
#[derive(Debug, Default)]
pub struct WriteStats {
    pub commits: AtomicU64,
    pub writes: AtomicU64,
}

/// What the group's COMMIT answered, for each of its writes.
#[derive(Default)]
struct Group {
    outcome: OnceLock<Result<(), String>>,
}

impl Writer {
    /// `max_group` 1 turns grouping off (an in-memory database, whose one connection also
    /// serves reads, which must not see a group's uncommitted writes).
    pub(super) fn new(conn: SqliteConnection, max_group: usize, acquire_timeout: Duration) -> Arc<Writer> {
        let state = State {
            conn,
            group: None,
            members: 0,
            dangling: false,
            stats: Arc::default(),
        };
        let stats = state.stats.clone();
        Arc::new(Writer { state: Arc::new(AsyncMutex::new(state)), arriving: AtomicUsize::new(0), max_group, acquire_timeout, stats })
    }

    pub(super) fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// The connection outside any write (a read on the in-memory database, a test): no group is
    /// open while this is held.
    pub(super) async fn lock(&self) -> sqlx::Result<OwnedMutexGuard<State>> {
        let mut state = self.acquire().await?;
        state.settle().await?;
        if state.group.is_some() {
            state.close().await.map_err(group_failed)?;
        }
        Ok(state)
    }

    /// The connection for a new write: counted as arriving while it waits (so the group's
    /// earlier writes wait for it), then readied by `settle`.
    async fn arrive(&self) -> sqlx::Result<OwnedMutexGuard<State>> {
        let mut state = {
            let _arriving = Arriving::new(&self.arriving);
            self.acquire().await?
        };
        state.settle().await?;
        Ok(state)
    }

    async fn acquire(&self) -> sqlx::Result<OwnedMutexGuard<State>> {
        tokio::time::timeout(self.acquire_timeout, self.state.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }

    /// Begins a write: the open group's next savepoint, or a new group's `BEGIN IMMEDIATE`
    /// (which takes SQLite's write lock up front, so another process's writer is met by
    /// busy_timeout rather than a failure mid-transaction).
    pub(super) async fn begin(self: &Arc<Self>) -> sqlx::Result<WriteTx> {
        let mut state = self.arrive().await?;
        let group = match state.group.clone() {
            Some(group) => {
                state.exec(SAVEPOINT).await?;
                group
            }
            None => {
                state.exec("BEGIN IMMEDIATE").await?;
                state.open_group()
            }
        };
        Ok(WriteTx { state: Some(state), writer: self.clone(), group })
    }
}

impl Writer {
    /// `begin` with the write's first statements `rest` (their arguments `args`) sent in the
    /// same round trip as the opening: the rows they returned. When one of them fails, the
    /// write is undone as a dropped one is, and the error returned.
    pub(super) async fn begin_with(self: &Arc<Self>, rest: &'static str, args: SqliteArguments) -> sqlx::Result<(WriteTx, Vec<SqliteRow>)> {
        let mut state = self.arrive().await?;
        let joining = state.group.clone();
        let opening = if joining.is_some() { SAVEPOINT } else { "BEGIN IMMEDIATE" };
        let sql = sqlx::AssertSqlSafe(format!("{opening}; {rest}"));
        let (mut opened, mut rows, mut failed) = (false, Vec::new(), None);
        {
            // Statement by statement: each one's end comes as a `Left`, so the first tells that
            // the opening ran, and with it whether there is anything to undo.
            let mut results = state.conn.fetch_many(sqlx::query_with(sql, args));
            while let Some(result) = results.next().await {
                match result {
                    Ok(Either::Left(_)) => opened = true,
                    Ok(Either::Right(row)) => rows.push(row),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        if !opened {
            // Nothing ran: no savepoint, no transaction to undo.
            return Err(failed.unwrap_or(sqlx::Error::WorkerCrashed));
        }
        let group = joining.unwrap_or_else(|| state.open_group());
        let tx = WriteTx { state: Some(state), writer: self.clone(), group };
        match failed {
            // Dropping the write undoes it (its savepoint, or the group it opened).
            Some(e) => Err(e),
            None => Ok((tx, rows)),
        }
    }
}

/// Counts a writer in `arriving` until it holds the connection or gives up waiting.
struct Arriving<'a>(&'a AtomicUsize);

impl<'a> Arriving<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Arriving(count)
    }
}

impl Drop for Arriving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl State {
    async fn exec(&mut self, sql: &'static str) -> sqlx::Result<()> {
        sqlx::raw_sql(sql).execute(&mut self.conn).await.map(drop)
    }

    /// A new group, after its `BEGIN IMMEDIATE` ran.
    fn open_group(&mut self) -> Arc<Group> {
        let group = Arc::new(Group::default());
        self.group = Some(group.clone());
        group
    }

    /// Readies the connection for its next holder: a dropped write's statements undone, and a
    /// group without a finished write closed (nobody waits for it).
    async fn settle(&mut self) -> sqlx::Result<()> {
        if self.dangling {
            self.dangling = false;
            // The group's first write had no savepoint: the transaction was all its own.
            let undo = if self.members == 0 { "ROLLBACK" } else { UNDO_TO_SAVEPOINT };
            if let Err(e) = self.exec(undo).await {
                // The savepoint is gone only when SQLite rolled the whole transaction back
                // itself (a full disk, an I/O error): the group's finished writes went with it.
                self.abandon(format!("the transaction was rolled back: {e}")).await;
                return Ok(());
            }
            if self.members == 0 {
                self.group = None;
            }
        }
        if self.group.is_some() && self.members == 0 {
            self.exec("ROLLBACK").await?;
            self.group = None;
        }
        Ok(())
    }

    /// Ends the group without its writes; each of them gets `why`.
    async fn abandon(&mut self, why: String) {
        // Nothing may be open any more; this only makes sure.
        let _ = self.exec("ROLLBACK").await;
        self.members = 0;
        if let Some(group) = self.group.take() {
            let _ = group.outcome.set(Err(why));
        }
    }

    /// COMMITs the group and tells its writes.
    async fn close(&mut self) -> Result<(), String> {
        let Some(group) = self.group.take() else { return Ok(()) };
        let members = std::mem::take(&mut self.members);
        let done = self.exec("COMMIT").await.map_err(|e| e.to_string());
        if done.is_ok() {
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats.writes.fetch_add(members as u64, Ordering::Relaxed);
        } else {
            // A COMMIT that failed may leave the transaction open (SQLITE_BUSY): its writes are
            // reported failed, so they must not be committed later with someone else's.
            let _ = self.exec("ROLLBACK").await;
        }
        let _ = group.outcome.set(done.clone());
        done
    }
}

/// One write on the writer connection, used as the connection; `commit` ends it, dropping it
/// undoes its statements.
pub(super) struct WriteTx {
    /// Some until `commit` or drop.
    state: Option<OwnedMutexGuard<State>>,
    writer: Arc<Writer>,
    group: Arc<Group>,
}

impl WriteTx {
    /// Finishes this write and waits until it is durable: committed alone when nobody waits for
    /// the connection, otherwise with the writes that do.
    pub(super) async fn commit(mut self) -> sqlx::Result<()> {
        let Some(mut state) = self.state.take() else { return Err(sqlx::Error::WorkerCrashed) };
        state.members += 1;
        // Spawned so that a caller that stops waiting (its client went) cannot leave the group
        // without its COMMIT: the task runs to the end either way.
        let finish = tokio::spawn(finish(self.writer.clone(), state, self.group.clone()));
        finish.await.map_err(|_| sqlx::Error::WorkerCrashed)?.map_err(group_failed)
    }
}

/// Hands the connection on while writers wait to join the group, then COMMITs it, unless one
/// of the others already did. Runs in its own task (see `WriteTx::commit`).
async fn finish(writer: Arc<Writer>, mut state: OwnedMutexGuard<State>, group: Arc<Group>) -> Result<(), String> {
    loop {
        if let Some(outcome) = group.outcome.get() {
            return outcome.clone();
        }
        // The group is still open, so it is the connection's: a new one opens only after this
        // one's COMMIT (or its abandonment), which set its outcome.
        if let Err(e) = state.settle().await {
            state.abandon(e.to_string()).await;
        }
        if let Some(outcome) = group.outcome.get() {
            return outcome.clone();
        }
        if writer.arriving.load(Ordering::SeqCst) == 0 || state.members >= writer.max_group {
            return state.close().await;
        }
        // Behind the writers now waiting (the mutex is fair): they join, and the connection
        // comes back here, or to another write of the group, when they are done.
        drop(state);
        // A writer counted in `arriving` may not have queued on the mutex yet: let it run.
        tokio::task::yield_now().await;
        state = writer.state.clone().lock_owned().await;
    }
}

fn group_failed(why: String) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the write transaction's COMMIT failed: {why}"))
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.state.as_ref().unwrap_or_else(|| unreachable!("taken only by commit")).conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.state.as_mut().unwrap_or_else(|| unreachable!("taken only by commit")).conn
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else { return };
        // A statement of this write may still be running on the connection's thread (the
        // caller stopped waiting): the undo is queued behind it.
        state.dangling = true;
        // Undone now rather than by the next holder, so that SQLite's write lock is not held
        // until some later write comes along. Without a runtime (never, in the server) the next
        // holder undoes it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut state = state;
                if let Err(e) = state.settle().await {
                    state.abandon(e.to_string()).await;
                }
            });
        }
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
        store.writer.stats().commits.load(Ordering::Relaxed) as usize
    }

    /// Waits until `n` writers wait for the connection.
    async fn until_arriving(writer: &Writer, n: usize) {
        while writer.arriving.load(Ordering::SeqCst) < n {
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
        assert_eq!(store.writer.stats().writes.load(Ordering::Relaxed) as usize, n);
        let commits = commits(&store).await;
        assert!((n.div_ceil(MAX_GROUP)..n).contains(&commits), "{commits} COMMITs for {n} writes");
    }
}
