//! Transient database failures (decision 0031): which failures mean the database is out of reach
//! (the request gets 503 with Retry-After), which leave the transaction surely not committed (the
//! whole store call may run again), and the bounded retry of a PostgreSQL store call.
//!
//! A store call is one transaction, or one read, so running it again after a failure that rolled
//! it back is the same as running it once. A COMMIT whose connection broke is different: the
//! server may have committed before the break. That failure is `CommitUnknown` and is never
//! retried here; the client gets 503 and decides (a PUT sent again with its If-Match or
//! If-None-Match finds out, with 412, that the first one went through).

use std::future::Future;
use std::time::Duration;

use super::{StoreError, StoreResult};

/// Attempts after the first.
const RETRIES: u32 = 3;
/// The pause before the first retry; each next pause is four times longer (20, 80, 320 ms plus
/// up to half again of jitter, so nodes that lost their connections together do not return in
/// step). At most about 0.6 s in all: a database that is really gone gets its 503 soon.
const FIRST_PAUSE: Duration = Duration::from_millis(20);

impl StoreError {
    /// The database is out of reach or the connection to it broke: a 503 the client may retry,
    /// not a 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::CommitUnknown(_) => true,
            StoreError::Database(e) => lost_connection(e) || matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed),
            _ => false,
        }
    }

    /// The call failed before anything was committed and may run again as a whole.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => lost_connection(e) || rolled_back(e),
            _ => false,
        }
    }
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// PostgreSQL rolled the transaction back: 40001 serialization_failure, 40P01
/// deadlock_detected (PostgreSQL Appendix A; "applications should retry", §13.6).
fn rolled_back(e: &sqlx::Error) -> bool {
    matches!(sqlstate(e).as_deref(), Some("40001" | "40P01"))
}

/// The connection broke: an I/O, TLS or protocol failure, or the server ending the session —
/// class 08 (connection exception), 57P01 admin_shutdown (what `pg_terminate_backend` and a
/// fast shutdown send), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up),
/// 53300 too_many_connections. A transaction on that connection is gone with it.
fn lost_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(_) => {
            sqlstate(e).is_some_and(|c| c.starts_with("08") || matches!(c.as_str(), "57P01" | "57P02" | "57P03" | "53300"))
        }
        _ => false,
    }
}

/// A failed COMMIT: a broken connection leaves its outcome unknown; anything else (a
/// serialization failure at commit, a deferred constraint) rolled it back.
pub(super) fn commit_failed(e: sqlx::Error) -> StoreError {
    if lost_connection(&e) { StoreError::CommitUnknown(e) } else { StoreError::Database(e) }
}

/// Runs `call` until it succeeds, fails for good, or has failed `1 + RETRIES` times with a
/// retryable error, pausing with backoff in between. `lost` runs when a connection was found
/// broken: the pool's other idle connections are likely broken too (a restarted server, a
/// `pg_terminate_backend` of them all), and the engine checks them before handing them out.
pub(super) async fn retried<T, F, Fut>(lost: impl Fn(), mut call: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut pause = FIRST_PAUSE;
    for attempt in 1..=RETRIES {
        match call().await {
            Err(e) if e.is_retryable() => {
                if let StoreError::Database(db) = &e
                    && lost_connection(db)
                {
                    lost();
                }
                tracing::warn!(error = %e, attempt, "store: a transient database failure; running the call again");
                let jitter = Duration::from_millis(rand::random_range(0..=pause.as_millis() as u64 / 2));
                tokio::time::sleep(pause + jitter).await;
                pause *= 4;
            }
            done => return done,
        }
    }
    call().await
}

/// A copy of an argument for another attempt (`Clone` under a name the forwarding macro can
/// call on every argument alike, references included).
pub(super) trait Again {
    fn again(&self) -> Self;
}

impl<T: Clone> Again for T {
    fn again(&self) -> T {
        self.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn broken() -> StoreError {
        StoreError::Database(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)))
    }

    #[test]
    fn failures_are_classified() {
        assert!(broken().is_retryable() && broken().is_unavailable());
        let timed_out = StoreError::Database(sqlx::Error::PoolTimedOut);
        assert!(timed_out.is_unavailable() && !timed_out.is_retryable(), "the wait for a connection is not repeated");
        let unknown = commit_failed(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)));
        assert!(matches!(unknown, StoreError::CommitUnknown(_)));
        assert!(unknown.is_unavailable() && !unknown.is_retryable(), "a commit of unknown outcome is never run again");
        assert!(matches!(commit_failed(sqlx::Error::RowNotFound), StoreError::Database(_)));
        assert!(!StoreError::NotFound.is_retryable() && !StoreError::PreconditionFailed.is_unavailable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_retryable());
    }

    #[tokio::test]
    async fn retries_are_bounded_and_stop_at_success_or_a_real_error() {
        let calls = AtomicU32::new(0);
        let lost = AtomicU32::new(0);
        let on_lost = || {
            lost.fetch_add(1, Ordering::SeqCst);
        };
        let r: StoreResult<()> = retried(on_lost, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(broken())
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1 + RETRIES);
        assert_eq!(lost.load(Ordering::SeqCst), RETRIES, "each broken connection but the last was reported");

        let calls = AtomicU32::new(0);
        let r = retried(|| (), || async { if calls.fetch_add(1, Ordering::SeqCst) < 2 { Err(broken()) } else { Ok(7) } }).await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let r: StoreResult<()> = retried(|| (), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::PreconditionFailed)
        })
        .await;
        assert!(matches!(r, Err(StoreError::PreconditionFailed)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
