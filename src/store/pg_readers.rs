//! PostgreSQL's read connections, held by the store rather than sqlx's pool (decision 0035):
//! sqlx pings every connection it takes back, a network round trip as dear as a point read, so
//! a GET paid for two statements. Writes stay on the pool, whose release ping also sends a
//! dropped transaction's ROLLBACK at once, so no row lock waits for the connection's next use.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Reads in flight at once; more wait for a connection. Connections open as reads need them.
pub(super) const READ_CONNECTIONS: usize = 16;

/// Until when (ms since the epoch) every connection, the pool's and the readers', is pinged
/// before use: after a statement found one broken, its siblings were probably cut too.
#[derive(Clone, Default)]
pub(super) struct Suspect(Arc<AtomicU64>);

impl Suspect {
    /// Suspect every connection for `span` from now.
    pub(super) fn mark(&self, span: Duration) {
        let until = now_ms().saturating_add(u64::try_from(span.as_millis()).unwrap_or(u64::MAX));
        self.0.fetch_max(until, Ordering::Relaxed);
    }

    pub(super) fn now(&self) -> bool {
        now_ms() < self.0.load(Ordering::Relaxed)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The read connections: opened on demand, up to `READ_CONNECTIONS`, reused most recent first.
/// A read that stopped half-way (its client went) leaves its answer unread on the connection;
/// sqlx reads it to the end before the connection's next statement (`wait_until_ready`), so the
/// next read gets only its own rows. Reads never open a transaction (SQLite's readers are
/// `query_only`, and the same code runs on both engines), so no lock is held between uses.
pub(super) struct PgReaders {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    /// One permit per connection out, so at most `connections` exist.
    permits: Semaphore,
    /// Shared with the store's pool (`suspect_connections`).
    suspect: Suspect,
    acquire_timeout: Duration,
    ping_if_idle: Duration,
}

struct Idle {
    conn: PgConnection,
    since: Instant,
}

/// A read connection, back to the set when dropped.
pub(super) struct ReadConn<'a> {
    conn: Option<PgConnection>,
    readers: &'a PgReaders,
    _permit: SemaphorePermit<'a>,
}

impl PgReaders {
    pub(super) fn new(
        options: PgConnectOptions,
        connections: usize,
        suspect: Suspect,
        acquire_timeout: Duration,
        ping_if_idle: Duration,
    ) -> Self {
        PgReaders {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(connections),
            suspect,
            acquire_timeout,
            ping_if_idle,
        }
    }

    /// A connection: the most recently used idle one, pinged first when it sat longer than
    /// `ping_if_idle` or connections are suspect (a broken one is replaced), else a new one.
    /// Waiting for a permit and connecting are each bounded by the acquire timeout, as the
    /// pool's acquire is, so a database out of reach is a 503 in seconds.
    pub(super) async fn get(&self) -> sqlx::Result<ReadConn<'_>> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = super::lock(&self.idle).pop();
        let conn = match idle {
            Some(Idle { conn, since }) if !self.suspect.now() && since.elapsed() <= self.ping_if_idle => conn,
            Some(Idle { mut conn, .. }) => match conn.ping().await {
                Ok(()) => conn,
                // Broken: dropped (its socket closes) and replaced.
                Err(_) => self.connect().await?,
            },
            None => self.connect().await?,
        };
        Ok(ReadConn { conn: Some(conn), readers: self, _permit: permit })
    }

    async fn connect(&self) -> sqlx::Result<PgConnection> {
        tokio::time::timeout(self.acquire_timeout, self.options.connect())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

}

impl Deref for ReadConn<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        // `conn` is Some until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Back before the permit goes (fields drop after this), so a woken waiter finds it.
            super::lock(&self.readers.idle).push(Idle { conn, since: Instant::now() });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use futures_util::StreamExt;

    use super::*;

    /// The test server's admin URL, as the integration tests take it; no database of its own is
    /// needed, these tests only read.
    fn options() -> PgConnectOptions {
        PgConnectOptions::from_str(&crate::store::test_pg_url()).unwrap()
    }

    fn readers(connections: usize, ping_if_idle: Duration) -> (PgReaders, Suspect) {
        let suspect = Suspect::default();
        (PgReaders::new(options(), connections, suspect.clone(), Duration::from_millis(300), ping_if_idle), suspect)
    }

    async fn backend_pid(conn: &mut PgConnection) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.unwrap()
    }

    #[tokio::test]
    async fn a_read_dropped_half_way_leaves_the_connection_clean_for_the_next() {
        let (readers, _) = readers(1, Duration::from_secs(60));
        let first_pid = {
            let mut conn = readers.get().await.unwrap();
            let pid = backend_pid(&mut conn).await;
            let mut rows = sqlx::query_scalar::<_, i32>("SELECT generate_series(1, 200000)").fetch(&mut *conn);
            assert_eq!(rows.next().await.unwrap().unwrap(), 1);
            pid
            // The stream and the connection drop here with most rows unread.
        };
        let mut conn = readers.get().await.unwrap();
        assert_eq!(backend_pid(&mut conn).await, first_pid, "the same connection, reused");
        let answer: i32 = sqlx::query_scalar("SELECT 42").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(answer, 42, "the next read gets its own row, not the old answer's rest");
    }

    #[tokio::test]
    async fn a_terminated_connection_is_replaced_when_connections_are_suspect() {
        let (readers, suspect) = readers(2, Duration::from_secs(60));
        let pid = backend_pid(&mut readers.get().await.unwrap()).await;
        let mut admin = PgConnection::connect_with(&options()).await.unwrap();
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&mut admin).await.unwrap();
        assert!(ended);
        // Unsuspected and recently used, the broken connection is handed out as it is: the
        // store's retry marks connections suspect when a statement finds one broken.
        let mut conn = readers.get().await.unwrap();
        let mut failed = false;
        for _ in 0..50 {
            if sqlx::query("SELECT 1").execute(&mut *conn).await.is_err() {
                failed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(failed, "the terminated backend's connection fails its next statement");
        drop(conn);
        suspect.mark(Duration::from_secs(60));
        let mut conn = readers.get().await.unwrap();
        assert_ne!(backend_pid(&mut conn).await, pid, "a fresh connection replaced the broken one");
    }

    #[tokio::test]
    async fn an_idle_connection_is_pinged_and_replaced_if_broken() {
        let (readers, _) = readers(1, Duration::ZERO);
        let pid = backend_pid(&mut readers.get().await.unwrap()).await;
        let mut admin = PgConnection::connect_with(&options()).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&mut admin).await.unwrap();
        // Wait until the server has ended it, so the ping surely meets a closed connection.
        for _ in 0..100 {
            let alive: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(pid)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            if !alive {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut conn = readers.get().await.unwrap();
        assert_ne!(backend_pid(&mut conn).await, pid);
    }

    #[tokio::test]
    async fn no_more_connections_than_the_set_holds() {
        let (readers, _) = readers(2, Duration::from_secs(60));
        let a = readers.get().await.unwrap();
        let b = readers.get().await.unwrap();
        assert!(matches!(readers.get().await.err(), Some(sqlx::Error::PoolTimedOut)), "a third waits, then times out");
        drop(a);
        let mut c = readers.get().await.unwrap();
        sqlx::query("SELECT 1").execute(&mut *c).await.unwrap();
        drop(b);
    }
}
