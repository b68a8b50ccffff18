//! The store's side of WebDAV write locks (RFC 4918 §6–§7; issue 23, decision 0030): locks on
//! URLs of a user's space, kept in the database so every node sees them, with the rules of
//! scope and depth that decide which locks a path is under and which two locks conflict.

use std::future::Future;

use super::{Store, StoreResult, Timestamp, UserId};

/// One active write lock (RFC 4918 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// `urn:uuid:…` (RFC 4918 §6.5).
    pub token: String,
    /// Whose home the locked URL lies in: a shared calendar's owner, not the sharee.
    pub home: UserId,
    /// The lock root below the home: segments joined by '/', decoded, as `Collection::path`.
    pub path: String,
    /// Who holds it: only they may use the token (RFC 4918 §6.4).
    pub principal: UserId,
    pub shared: bool,
    /// Depth infinity (RFC 4918 §9.10.3); otherwise Depth 0.
    pub infinite: bool,
    /// The client's DAV:owner element as sent (RFC 4918 §14.17).
    pub owner_xml: Option<String>,
    pub timeout_secs: i64,
    pub expires_at: Timestamp,
}

/// A lock to take.
#[derive(Debug, Clone)]
pub struct NewLock {
    pub token: String,
    pub home: UserId,
    pub path: String,
    pub principal: UserId,
    pub shared: bool,
    pub infinite: bool,
    pub owner_xml: Option<String>,
    pub timeout_secs: i64,
}

/// Why a lock was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockRefused {
    /// RFC 4918 §9.10.6: the locks in the way, by their roots.
    Conflict(Vec<String>),
    /// The principal holds `limits.max_locks_per_user` unexpired locks already.
    TooMany,
}

/// Whether `path` is `root` or lies below it ("" is the home, above everything).
pub fn at_or_below(path: &str, root: &str) -> bool {
    root.is_empty() || path == root || (path.len() > root.len() && path.starts_with(root) && path.as_bytes()[root.len()] == b'/')
}

impl Lock {
    /// RFC 4918 §6.1, §7.4: the lock applies to `path` when it is rooted there, or is a Depth
    /// infinity lock on a collection `path` lies in.
    pub fn applies_to(&self, path: &str) -> bool {
        self.path == path || (self.infinite && at_or_below(path, &self.path))
    }

    /// RFC 4918 §6.1: two locks on overlapping resources conflict unless both are shared.
    pub fn conflicts_with(&self, new: &NewLock) -> bool {
        let overlap = self.applies_to(&new.path) || (new.infinite && at_or_below(&self.path, &new.path));
        overlap && !(self.shared && new.shared)
    }
}

pub trait LockStore {
    /// The locks in `home` that have not expired at `now`.
    fn locks_in(&self, home: UserId, now: Timestamp) -> impl Future<Output = StoreResult<Vec<Lock>>> + Send;
    /// Takes `new` until `now + timeout_secs`, in one transaction that first serializes on the
    /// home (so two nodes cannot both take conflicting locks) and drops the home's expired
    /// locks; refused when an unexpired lock conflicts or the principal holds `max_per_principal`.
    fn take_lock(
        &self,
        new: NewLock,
        now: Timestamp,
        max_per_principal: i64,
    ) -> impl Future<Output = StoreResult<Result<Lock, LockRefused>>> + Send;
    /// Extends the principal's unexpired lock `token` to `now + timeout_secs` (RFC 4918
    /// §9.10.2); None when there is no such lock of theirs.
    fn refresh_lock(
        &self,
        token: &str,
        principal: UserId,
        timeout_secs: i64,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<Lock>>> + Send;
    /// Removes lock `token`; false when it was not there.
    fn remove_lock(&self, token: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Removes the locks rooted at `path` or below it in `home` (the resource was deleted or
    /// moved away: RFC 4918 §7.6 locks do not move, §9.6 a DELETE destroys them).
    fn remove_locks_under(&self, home: UserId, path: &str) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Deletes the rows of every lock expired at `now` (the purge worker's hourly round).
    fn drop_expired_locks(&self, now: Timestamp) -> impl Future<Output = StoreResult<u64>> + Send;
}

delegate!(LockStore {
    fn locks_in(&self, home: UserId, now: Timestamp) -> StoreResult<Vec<Lock>>;
    fn take_lock(&self, new: NewLock, now: Timestamp, max_per_principal: i64) -> StoreResult<Result<Lock, LockRefused>>;
    fn refresh_lock(&self, token: &str, principal: UserId, timeout_secs: i64, now: Timestamp) -> StoreResult<Option<Lock>>;
    fn remove_lock(&self, token: &str) -> StoreResult<bool>;
    fn remove_locks_under(&self, home: UserId, path: &str) -> StoreResult<u64>;
    fn drop_expired_locks(&self, now: Timestamp) -> StoreResult<u64>;
});

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(path: &str, shared: bool, infinite: bool) -> Lock {
        Lock {
            token: "urn:uuid:x".into(),
            home: UserId(1),
            path: path.into(),
            principal: UserId(1),
            shared,
            infinite,
            owner_xml: None,
            timeout_secs: 60,
            expires_at: 60,
        }
    }

    fn new(path: &str, shared: bool, infinite: bool) -> NewLock {
        NewLock {
            token: "urn:uuid:y".into(),
            home: UserId(1),
            path: path.into(),
            principal: UserId(2),
            shared,
            infinite,
            owner_xml: None,
            timeout_secs: 60,
        }
    }

    #[test]
    fn paths_and_depth() {
        assert!(at_or_below("a/b", "a"));
        assert!(at_or_below("a", "a"));
        assert!(!at_or_below("ab", "a"), "a sibling sharing a prefix is not below");
        assert!(at_or_below("a", ""));
        assert!(lock("a", false, true).applies_to("a/b/c"));
        assert!(!lock("a", false, false).applies_to("a/b"), "Depth 0 covers the collection only");
        assert!(lock("a/x", false, false).applies_to("a/x"));
    }

    #[test]
    fn conflicts() {
        assert!(lock("a", true, false).conflicts_with(&new("a", false, false)));
        assert!(!lock("a", true, false).conflicts_with(&new("a", true, false)), "shared with shared");
        assert!(lock("a", false, true).conflicts_with(&new("a/b", true, false)));
        assert!(lock("a/b", false, false).conflicts_with(&new("a", false, true)), "a new infinity lock over a locked member");
        assert!(!lock("a/b", false, false).conflicts_with(&new("a", false, false)), "Depth 0 on the parent does not reach it");
        assert!(!lock("a/b", false, false).conflicts_with(&new("a/c", false, false)));
    }
}
