//! Group commit on a line of writes: writers that queue for the line while another writes join
//! its transaction, each inside its own savepoint, and one COMMIT makes the whole group durable
//! before any of them is answered (decisions 0034 and 0036).
//!
//! A line is SQLite's one writer connection (`sqlite_writer.rs`), or on PostgreSQL the writes
//! of one calendar (`pg_writers.rs`), which its row lock serialises anyway. Why: the writes of a
//! line run one after another regardless, and their BEGIN and COMMIT were two of each write's
//! round trips and all of its WAL flushes. In a group of n writes, n − 1 of them make one
//! SAVEPOINT instead of BEGIN + COMMIT, and the group flushes the WAL once.
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

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use sqlx::Either;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Writes per group at most, so that the group's first write is not held back without end by
/// a stream of later ones (an import, many clients). PostgreSQL keeps the subtransactions of up
/// to 64 savepoints per transaction in shared memory; more would slow every snapshot.
pub(super) const MAX_GROUP: usize = 32;

/// The savepoint every write after a group's first runs in. Never released: ROLLBACK TO names
/// the newest savepoint of this name, and the group's COMMIT commits them all.
pub(super) const SAVEPOINT: &str = "SAVEPOINT kalends_write";
const UNDO_TO_SAVEPOINT: &str = "ROLLBACK TO kalends_write";

/// What a line of writes runs on: one connection, its own (SQLite) or borrowed for each group
/// (PostgreSQL).
pub(super) trait Line: Send + 'static {
    type Conn: Send;
    /// Readies a connection if the line holds none and opens a group's transaction on it.
    fn begin(&mut self) -> impl Future<Output = sqlx::Result<()>> + Send;
    /// Runs one statement without arguments (SAVEPOINT, ROLLBACK, COMMIT).
    fn exec(&mut self, sql: &'static str) -> impl Future<Output = sqlx::Result<()>> + Send;
    /// The group's transaction is over (committed, rolled back or lost); `broken` when the
    /// connection's state is unknown, so that a borrowed one is closed rather than reused.
    fn ended(&mut self, broken: bool);
    /// The connection a write runs its statements on; only asked for while a write is open.
    fn conn(&self) -> &Self::Conn;
    fn conn_mut(&mut self) -> &mut Self::Conn;
}

pub(super) struct Writer<L: Line> {
    state: Arc<AsyncMutex<State<L>>>,
    /// Writers waiting for the line to begin a write; the group's earlier writes, waiting for
    /// its COMMIT, are not counted: they are why the group stays open, not a reason to.
    arriving: AtomicUsize,
    max_group: usize,
    acquire_timeout: Duration,
    stats: Arc<WriteStats>,
}

/// The line and the transaction open on it.
pub(super) struct State<L: Line> {
    line: L,
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

impl WriteStats {
    /// (COMMITs, writes committed) so far.
    pub fn read(&self) -> (u64, u64) {
        (self.commits.load(Ordering::Relaxed), self.writes.load(Ordering::Relaxed))
    }
}

/// What the group's COMMIT answered, for each of its writes.
#[derive(Default)]
pub(super) struct Group {
    outcome: OnceLock<Result<(), String>>,
}

impl<L: Line> Writer<L> {
    /// `max_group` 1 turns grouping off (an in-memory SQLite database, whose one connection
    /// also serves reads, which must not see a group's uncommitted writes).
    pub(super) fn new(line: L, max_group: usize, acquire_timeout: Duration, stats: Arc<WriteStats>) -> Arc<Self> {
        let state = State { line, group: None, members: 0, dangling: false, stats: stats.clone() };
        Arc::new(Writer { state: Arc::new(AsyncMutex::new(state)), arriving: AtomicUsize::new(0), max_group, acquire_timeout, stats })
    }

    pub(super) fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Writers now waiting to begin a write (tests wait for them).
    #[cfg(test)]
    pub(super) fn arriving(&self) -> usize {
        self.arriving.load(Ordering::SeqCst)
    }

    /// The line outside any write (a read on SQLite's in-memory database, a test): no group is
    /// open while this is held.
    pub(super) async fn lock(&self) -> sqlx::Result<OwnedMutexGuard<State<L>>> {
        let mut state = self.acquire().await?;
        state.settle().await?;
        if state.group.is_some() {
            state.close().await.map_err(group_failed)?;
        }
        Ok(state)
    }

    /// The line for a new write: counted as arriving while it waits (so the group's earlier
    /// writes wait for it), then readied by `settle`.
    pub(super) async fn arrive(&self) -> sqlx::Result<OwnedMutexGuard<State<L>>> {
        let mut state = {
            let _arriving = Arriving::new(&self.arriving);
            self.acquire().await?
        };
        state.settle().await?;
        Ok(state)
    }

    async fn acquire(&self) -> sqlx::Result<OwnedMutexGuard<State<L>>> {
        tokio::time::timeout(self.acquire_timeout, self.state.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }

    /// Ends an engine's `begin_with`, which sent a write's opening (BEGIN, or the open group's
    /// SAVEPOINT, `joining`) and its first statements in one round trip: the write begun and
    /// the statements' rows. If the opening did not run there is nothing to undo, and a new
    /// group's connection, whose state nobody knows, is given up; if a later statement failed,
    /// dropping the write undoes it (its savepoint, or the group it opened) and the error is
    /// returned.
    pub(super) fn opened<R>(
        self: &Arc<Self>,
        mut state: OwnedMutexGuard<State<L>>,
        joining: Option<Arc<Group>>,
        opening: Opening<R>,
    ) -> sqlx::Result<(WriteTx<L>, Vec<R>)> {
        let Opening { opened, rows, failed } = opening;
        if !opened {
            if joining.is_none() {
                state.line.ended(true);
            }
            return Err(failed.unwrap_or(sqlx::Error::WorkerCrashed));
        }
        let group = joining.unwrap_or_else(|| state.open_group());
        let tx = WriteTx::new(state, self.clone(), group);
        match failed {
            Some(e) => Err(e),
            None => Ok((tx, rows)),
        }
    }

    /// Begins a write: the open group's next savepoint, or a new group's transaction.
    pub(super) async fn begin(self: &Arc<Self>) -> sqlx::Result<WriteTx<L>> {
        let mut state = self.arrive().await?;
        let group = match state.group.clone() {
            // A failed savepoint leaves the group as it was; its writes commit without this one.
            Some(group) => {
                state.line.exec(SAVEPOINT).await?;
                group
            }
            None => {
                if let Err(e) = state.line.begin().await {
                    state.line.ended(true);
                    return Err(e);
                }
                state.open_group()
            }
        };
        Ok(WriteTx::new(state, self.clone(), group))
    }
}

/// What came back for an opening sent with a write's first statements (`read_opening`).
pub(super) struct Opening<R> {
    /// The opening statement ran (so there is a savepoint or transaction to undo).
    opened: bool,
    rows: Vec<R>,
    /// The first error; no statement runs after it.
    failed: Option<sqlx::Error>,
}

/// Reads the results of an opening and a write's first statements, statement by statement:
/// each statement's end comes as a `Left`, so the first tells that the opening ran.
pub(super) async fn read_opening<Q, R>(results: impl Stream<Item = sqlx::Result<Either<Q, R>>>) -> Opening<R> {
    let mut opening = Opening { opened: false, rows: Vec::new(), failed: None };
    let mut results = std::pin::pin!(results);
    while let Some(result) = results.next().await {
        match result {
            Ok(Either::Left(_)) => opening.opened = true,
            Ok(Either::Right(row)) => opening.rows.push(row),
            Err(e) => {
                opening.failed = Some(e);
                break;
            }
        }
    }
    opening
}

/// Counts a writer in `arriving` until it holds the line or gives up waiting.
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

impl<L: Line> State<L> {
    pub(super) fn conn(&self) -> &L::Conn {
        self.line.conn()
    }

    pub(super) fn conn_mut(&mut self) -> &mut L::Conn {
        self.line.conn_mut()
    }

    /// The line itself, for an engine that opens a group's transaction in one round trip with
    /// the write's first statement (`pg_writers.rs`).
    pub(super) fn line_mut(&mut self) -> &mut L {
        &mut self.line
    }

    /// The group a new write joins, if one is open.
    pub(super) fn joining(&self) -> Option<Arc<Group>> {
        self.group.clone()
    }

    /// A new group, after its opening statement ran.
    pub(super) fn open_group(&mut self) -> Arc<Group> {
        let group = Arc::new(Group::default());
        self.group = Some(group.clone());
        group
    }

    /// Readies the line for its next holder: a dropped write's statements undone, and a group
    /// without a finished write closed (nobody waits for it).
    async fn settle(&mut self) -> sqlx::Result<()> {
        if self.dangling {
            self.dangling = false;
            // The group's first write had no savepoint: the transaction was all its own.
            let undo = if self.members == 0 { "ROLLBACK" } else { UNDO_TO_SAVEPOINT };
            if let Err(e) = self.line.exec(undo).await {
                // The savepoint is gone only when the database rolled the whole transaction
                // back itself (a full disk, an I/O error, a lost connection): the group's
                // finished writes went with it.
                self.abandon(format!("the transaction was rolled back: {e}")).await;
                return Ok(());
            }
            if self.members == 0 {
                self.group = None;
                self.line.ended(false);
            }
        }
        if self.group.is_some() && self.members == 0 {
            let rolled_back = self.line.exec("ROLLBACK").await;
            self.group = None;
            self.line.ended(rolled_back.is_err());
            rolled_back?;
        }
        Ok(())
    }

    /// Ends the group without its writes; each of them gets `why`.
    async fn abandon(&mut self, why: String) {
        // Nothing may be open any more; this only makes sure.
        let _ = self.line.exec("ROLLBACK").await;
        self.line.ended(true);
        self.members = 0;
        if let Some(group) = self.group.take() {
            let _ = group.outcome.set(Err(why));
        }
    }

    /// COMMITs the group and tells its writes.
    async fn close(&mut self) -> Result<(), String> {
        let Some(group) = self.group.take() else { return Ok(()) };
        let members = std::mem::take(&mut self.members);
        let done = self.line.exec("COMMIT").await.map_err(|e| e.to_string());
        if done.is_ok() {
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats.writes.fetch_add(members as u64, Ordering::Relaxed);
        } else {
            // A COMMIT that failed may leave the transaction open (SQLITE_BUSY): its writes are
            // reported failed, so they must not be committed later with someone else's.
            let _ = self.line.exec("ROLLBACK").await;
        }
        self.line.ended(done.is_err());
        let _ = group.outcome.set(done.clone());
        done
    }
}

/// One write on a line, used as the connection; `commit` ends it, dropping it undoes its
/// statements.
pub(super) struct WriteTx<L: Line> {
    /// Some until `commit` or drop.
    state: Option<OwnedMutexGuard<State<L>>>,
    writer: Arc<Writer<L>>,
    group: Arc<Group>,
}

impl<L: Line> WriteTx<L> {
    /// A write that has begun on `state`, in `group`.
    pub(super) fn new(state: OwnedMutexGuard<State<L>>, writer: Arc<Writer<L>>, group: Arc<Group>) -> Self {
        WriteTx { state: Some(state), writer, group }
    }

    /// Finishes this write and waits until it is durable: committed alone when nobody waits for
    /// the line, otherwise with the writes that do.
    pub(super) async fn commit(self) -> sqlx::Result<()> {
        self.commit_as(1).await
    }

    /// `commit` for a write that carries `writes` of the line's writes at once (PostgreSQL's
    /// batched creations, `pg_creations.rs`): they count as that many in the group's size.
    pub(super) async fn commit_as(mut self, writes: usize) -> sqlx::Result<()> {
        let Some(mut state) = self.state.take() else { return Err(sqlx::Error::WorkerCrashed) };
        state.members += writes;
        // Spawned so that a caller that stops waiting (its client went) cannot leave the group
        // without its COMMIT: the task runs to the end either way.
        let finish = tokio::spawn(finish(self.writer.clone(), state, self.group.clone()));
        finish.await.map_err(|_| sqlx::Error::WorkerCrashed)?.map_err(group_failed)
    }
}

/// Hands the line on while writers wait to join the group, then COMMITs it, unless one of the
/// others already did. Runs in its own task (see `WriteTx::commit`).
async fn finish<L: Line>(writer: Arc<Writer<L>>, mut state: OwnedMutexGuard<State<L>>, group: Arc<Group>) -> Result<(), String> {
    loop {
        if let Some(outcome) = group.outcome.get() {
            return outcome.clone();
        }
        // The group is still open, so it is the line's: a new one opens only after this one's
        // COMMIT (or its abandonment), which set its outcome.
        if let Err(e) = state.settle().await {
            state.abandon(e.to_string()).await;
        }
        if let Some(outcome) = group.outcome.get() {
            return outcome.clone();
        }
        if writer.arriving.load(Ordering::SeqCst) == 0 || state.members >= writer.max_group {
            return state.close().await;
        }
        // Behind the writers now waiting (the mutex is fair): they join, and the line comes
        // back here, or to another write of the group, when they are done.
        drop(state);
        // A writer counted in `arriving` may not have queued on the mutex yet: let it run.
        tokio::task::yield_now().await;
        state = writer.state.clone().lock_owned().await;
    }
}

pub(super) fn group_failed(why: String) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the write transaction's COMMIT failed: {why}"))
}

impl<L: Line> Deref for WriteTx<L> {
    type Target = L::Conn;

    fn deref(&self) -> &L::Conn {
        self.state.as_ref().unwrap_or_else(|| unreachable!("taken only by commit")).conn()
    }
}

impl<L: Line> DerefMut for WriteTx<L> {
    fn deref_mut(&mut self) -> &mut L::Conn {
        self.state.as_mut().unwrap_or_else(|| unreachable!("taken only by commit")).conn_mut()
    }
}

impl<L: Line> Drop for WriteTx<L> {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else { return };
        // A statement of this write may still be running on the connection (the caller stopped
        // waiting): the undo is queued behind it.
        state.dangling = true;
        // Undone now rather than by the next holder, so that the transaction's locks are not
        // held until some later write comes along. Without a runtime (never, in the server) the
        // next holder undoes it.
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
