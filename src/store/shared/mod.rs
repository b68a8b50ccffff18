//! The store implementation both engines share: SQL, row structs and method bodies, written once,
//! one file per capability.
//!
//! This directory is compiled twice, as a child module of `sqlite.rs` and of `postgres.rs`
//! (`#[path = "shared/mod.rs"] mod shared;`, so the `mod` lines below name the files beside
//! this one). Each parent supplies what genuinely differs:
//! `type Db` (the sqlx database), `type Engine` (the store struct), and three connection
//! primitives, `reader()` (a connection to read on), `begin_write()`, and `begin_put()` (a PUT's
//! transaction with its bump and checks: one round trip on SQLite, decision 0034). Everything else is the same text: both
//! engines accept `$n` placeholders (sqlx-sqlite binds `$n` to argument n, repeats included),
//! `RETURNING`, `ON CONFLICT … DO UPDATE … excluded`, and expression indexes, and the two
//! migrations keep the schemas equivalent, so one query runs unchanged on either. Compiling a
//! module per engine keeps the code ordinary Rust (rustfmt, real error spans) where a generic
//! version would need a wall of sqlx trait bounds on every function and a `macro_rules!` version
//! would hide several hundred lines inside a macro body.
//!
//! Write transactions follow one pattern: lock the collection row first by bumping its sync_seq
//! (`UPDATE … RETURNING`), then check preconditions and UID uniqueness, then write. Taking the row
//! lock before looking makes the checks race-free on PostgreSQL under READ COMMITTED (each later
//! statement sees whatever the previous lock holder committed) and makes the seqs of concurrent
//! writers distinct and monotonic, also across server nodes. A refused write returns early and the
//! dropped transaction rolls back, bump included, so nothing changes.
//!
//! This file holds what every capability uses: the column macros and `from_row!` (defined
//! before the `mod` lines, since a `macro_rules!` is in scope only after its definition), the
//! seq bump and collection locks of that pattern, and small helpers. Each capability file holds
//! its own SQL (in its own `sql` module; a statement another file runs is named by its path, as
//! `collections::sql::DELETE_COLLECTION`), its row structs, helpers and trait methods. A trait's
//! methods are one `impl` block, so `impl CollectionStore` and `impl ObjectStore` hand their
//! COPY/MOVE and listing bodies to functions in `transfer.rs` and `listing.rs`.

use sqlx::FromRow;

use super::{Db, Engine};
use crate::store::{CollectionId, Expect, StoreError, StoreResult, Timestamp};

type Conn = <Db as sqlx::Database>::Connection;

/// Column lists, as macros so that `concat!` can build `&'static str` queries from them (sqlx
/// only takes static text without an `AssertSqlSafe`).
macro_rules! user_cols {
    () => {
        "id, name, email, password_hash, created_at, is_admin"
    };
}
macro_rules! collection_cols {
    () => {
        "id, owner_id, parent_id, path, kind, displayname, description, timezone, color, \
         calendar_order, components, sync_seq, created_at, modified_at, role, transparent, \
         default_calendar_id"
    };
}
macro_rules! object_meta_cols {
    () => {
        "id, collection_id, name, etag, content_type, size, uid, component, first_start, \
         last_end, created_at, modified_at, sync_seq, schedule_tag"
    };
}
/// `collection_cols!` of the collection aliased `c` in a join.
macro_rules! c_collection_cols {
    () => {
        "c.id, c.owner_id, c.parent_id, c.path, c.kind, c.displayname, c.description, \
         c.timezone, c.color, c.calendar_order, c.components, c.sync_seq, c.created_at, \
         c.modified_at, c.role, c.transparent, c.default_calendar_id"
    };
}
/// The columns of a collection and of one of its objects (prefixed `o_`) for MEMBER_*.
macro_rules! member_cols {
    () => {
        concat!(c_collection_cols!(), ", ", joined_object_cols!())
    };
}
/// An object's metadata columns (`o`) prefixed `o_`, for `MaybeObjectMetaRow`.
macro_rules! joined_object_cols {
    () => {
        "o.id AS o_id, o.name AS o_name, o.etag AS o_etag, \
         o.content_type AS o_content_type, o.size AS o_size, o.uid AS o_uid, \
         o.component AS o_component, o.first_start AS o_first_start, o.last_end AS o_last_end, \
         o.created_at AS o_created_at, o.modified_at AS o_modified_at, o.sync_seq AS o_sync_seq, \
         o.schedule_tag AS o_schedule_tag"
    };
}
/// The columns of a `ListedObject`: what a listing shows of a member.
macro_rules! listed_cols {
    () => {
        "name, etag, content_type, size, created_at, modified_at, schedule_tag"
    };
}
macro_rules! object_cols {
    () => {
        concat!(object_meta_cols!(), ", data")
    };
}

/// `FromRow` for a row struct whose fields are named as the query's columns, as sqlx's derive
/// writes it, without the proc macro (decision 0011): each listed field is read by its name,
/// each `flatten` field is another row struct read from the same row. The struct literal makes
/// the compiler check that the lists name every field exactly once.
macro_rules! from_row {
    ($row:ident { $($field:ident),* $(,)? } $(flatten { $($flat:ident),* $(,)? })?) => {
        impl<'r> FromRow<'r, <Db as sqlx::Database>::Row> for $row {
            fn from_row(row: &'r <Db as sqlx::Database>::Row) -> Result<Self, sqlx::Error> {
                Ok($row {
                    $($field: sqlx::Row::try_get(row, stringify!($field))?,)*
                    $($($flat: FromRow::from_row(row)?,)*)?
                })
            }
        }
    };
}

// Row structs live with their capability. Integers are BIGINT on PostgreSQL and INTEGER on
// SQLite, so every one decodes as i64 on both.

// `pub(super)`: an engine's tests may name a capability's statements (sqlite.rs checks their
// query plans).
pub(super) mod alarms;
pub(super) mod app_passwords;
pub(super) mod collections;
pub(super) mod dead_props;
pub(super) mod feeds;
pub(super) mod listing;
pub(super) mod locks;
pub(super) mod objects;
pub(super) mod put;
pub(super) mod rsvp;
pub(super) mod sched;
pub(super) mod sched_batch;
pub(super) mod shares;
pub(super) mod sync;
pub(super) mod transfer;
pub(super) mod users;
pub(super) mod web;

/// The statements of the helpers below.
mod sql {
    /// The per-collection lock and counter of every member change (see the module doc).
    pub const BUMP_SEQ: &str = "UPDATE collections SET sync_seq = sync_seq + 1, modified_at = $2 \
         WHERE id = $1 RETURNING sync_seq, path";
    /// BUMP_SEQ that also adds bytes known before the writes run (a scheduling batch's new
    /// objects), saving a statement per collection.
    pub const BUMP_SEQ_BYTES: &str = "UPDATE collections SET sync_seq = sync_seq + 1, modified_at = $2, \
         used_bytes = used_bytes + $3 WHERE id = $1 RETURNING sync_seq, path";
    /// Takes a collection's row lock without changing it.
    pub const LOCK_COLLECTION: &str =
        "UPDATE collections SET token_floor = token_floor WHERE id = $1";
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

fn now() -> Timestamp {
    chrono::Utc::now().timestamp()
}

/// A stored value the domain types cannot represent (hand-edited or corrupted data).
fn corrupt(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(what.into()))
}

/// Maps a unique violation to AlreadyExists (a taken user name or collection path).
fn unique_is_already_exists(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        _ => StoreError::Database(e),
    }
}

/// Whether `expect` holds for a target whose current ETag is `current` (None = absent).
fn expect_holds(expect: &Expect, current: Option<&str>) -> bool {
    let listed = |tags: &[String]| current.is_some_and(|c| tags.iter().any(|t| t == c));
    match expect {
        Expect::Any => true,
        Expect::Absent => current.is_none(),
        Expect::Present => current.is_some(),
        Expect::Etag(tags) => listed(tags),
        Expect::NotEtag(tags) => !listed(tags),
    }
}

fn collect<R, T>(rows: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

impl Engine {
    /// One cheap statement on a read connection, for `/readyz`: it reads the `users` table, so
    /// it fails both when the database is unreachable and when the schema is not there.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1 FROM users LIMIT 1").fetch_optional(&mut *self.reader().await?).await?;
        Ok(())
    }
}

pub(super) struct BumpedRow {
    pub(super) sync_seq: i64,
    pub(super) path: String,
}
from_row!(BumpedRow { sync_seq, path });

/// Bumps the collection's sync_seq, taking its row lock for the rest of the transaction.
/// NotFound if the collection is gone.
async fn bump_seq(
    conn: &mut Conn,
    collection: CollectionId,
    now: Timestamp,
) -> StoreResult<BumpedRow> {
    sqlx::query_as(sql::BUMP_SEQ)
        .bind(collection.0)
        .bind(now)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// `bump_seq` adding `bytes` to the collection's counter in the same statement.
/// BUMP_SEQ_BYTES as SQL text with its values written in (all integers), for a simple query
/// that also opens the transaction (PostgreSQL's `begin_put`).
#[allow(dead_code)] // Only the PostgreSQL engine's compile of this module calls it.
pub(super) fn bump_seq_bytes_text(collection: CollectionId, now: Timestamp, bytes: i64) -> String {
    format!(
        "UPDATE collections SET sync_seq = sync_seq + 1, modified_at = {now}, used_bytes = used_bytes + {bytes} \
         WHERE id = {} RETURNING sync_seq, path",
        collection.0
    )
}

pub(super) async fn bump_seq_bytes(conn: &mut Conn, collection: CollectionId, now: Timestamp, bytes: i64) -> StoreResult<BumpedRow> {
    sqlx::query_as(sql::BUMP_SEQ_BYTES)
        .bind(collection.0)
        .bind(now)
        .bind(bytes)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Takes the row locks of `ids` in ascending id order, the order every writer holding several
/// collections uses, so that two transfers in opposite directions cannot deadlock. NotFound if
/// one of them is gone.
async fn lock_collections(conn: &mut Conn, mut ids: Vec<CollectionId>) -> StoreResult<()> {
    ids.sort();
    ids.dedup();
    for id in ids {
        let locked = sqlx::query(sql::LOCK_COLLECTION)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(expect_holds(&Expect::Any, None));
        assert!(expect_holds(&Expect::Absent, None));
        assert!(!expect_holds(&Expect::Absent, Some("\"a\"")));
        assert!(!expect_holds(&Expect::Present, None));
        assert!(expect_holds(
            &Expect::Etag(tags(&["\"b\"", "\"a\""])),
            Some("\"a\"")
        ));
        assert!(!expect_holds(&Expect::Etag(tags(&["\"a\""])), None));
        assert!(!expect_holds(
            &Expect::NotEtag(tags(&["\"a\""])),
            Some("\"a\"")
        ));
        assert!(expect_holds(
            &Expect::NotEtag(tags(&["\"a\""])),
            Some("\"b\"")
        ));
        assert!(expect_holds(&Expect::NotEtag(tags(&["\"a\""])), None));
    }
}
