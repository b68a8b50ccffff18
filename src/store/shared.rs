//! The store implementation both engines share: SQL, row structs and method bodies, written once.
//!
//! This file is compiled twice, as a child module of `sqlite.rs` and of `postgres.rs`
//! (`#[path = "shared.rs"] mod shared;`). Each parent supplies what genuinely differs:
//! `type Db` (the sqlx database), `type Engine` (the store struct), and two connection
//! primitives, `reader()` (a connection to read on) and `begin_write()`. Everything else is the same text: both
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

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, FromRow};

use super::{Db, Engine};
use crate::store::{
    CalendarIndex, Candidate, Collection, CollectionId, CollectionKind, CollectionPatch, CollectionProps,
    CollectionStore, CollectionTransfer, CollectionTransferKind, ComponentKind, ComponentSet,
    DeadProp, Expect, ListedObject, MemberData, MemberVisitor, NewCollection, NewObject, NewUser, ObjectId, ObjectMeta, ObjectStore,
    PutOutcome, StoreError, StoreResult, StoredObject, SyncDelta, SyncStore, Timeline, Timestamp, User,
    UserId, UserStore,
};

type Conn = <Db as sqlx::Database>::Connection;

/// Column lists, as macros so that `concat!` can build `&'static str` queries from them (sqlx
/// only takes static text without an `AssertSqlSafe`).
macro_rules! user_cols {
    () => {
        "id, name, email, password_hash, created_at"
    };
}
macro_rules! collection_cols {
    () => {
        "id, owner_id, parent_id, path, kind, displayname, description, timezone, color, \
         calendar_order, components, sync_seq, created_at, modified_at"
    };
}
macro_rules! object_meta_cols {
    () => {
        "id, collection_id, name, etag, content_type, size, uid, component, first_start, \
         last_end, created_at, modified_at, sync_seq"
    };
}
/// The columns of a collection and of one of its objects (prefixed `o_`) for MEMBER_*.
macro_rules! member_cols {
    () => {
        concat!(
            "c.id, c.owner_id, c.parent_id, c.path, c.kind, c.displayname, c.description, \
             c.timezone, c.color, c.calendar_order, c.components, c.sync_seq, c.created_at, \
             c.modified_at, ",
            joined_object_cols!()
        )
    };
}
/// DELTA_SINCE's part 0: the collection's seq and floor with the members changed in ($2, S].
macro_rules! delta_members {
    () => {
        concat!(
            "SELECT CAST(0 AS BIGINT) AS part, c.sync_seq AS state_seq, \
             c.token_floor AS token_floor, ",
            joined_object_cols!(),
            ", CAST(NULL AS TEXT) AS t_name, CAST(NULL AS BIGINT) AS t_seq ",
            changed_members_from!()
        )
    };
}
/// The collection `$1` joined with its members changed in ($2, its seq], capped at `$3`.
macro_rules! changed_members_from {
    () => {
        "FROM collections c LEFT JOIN objects o ON o.collection_id = c.id \
         AND o.sync_seq > $2 AND o.sync_seq <= c.sync_seq \
         WHERE c.id = $1 ORDER BY o.sync_seq LIMIT $3"
    };
}
/// An object's metadata columns (`o`) prefixed `o_`, for `MaybeObjectMetaRow`.
macro_rules! joined_object_cols {
    () => {
        "o.id AS o_id, o.name AS o_name, o.etag AS o_etag, \
         o.content_type AS o_content_type, o.size AS o_size, o.uid AS o_uid, \
         o.component AS o_component, o.first_start AS o_first_start, o.last_end AS o_last_end, \
         o.created_at AS o_created_at, o.modified_at AS o_modified_at, o.sync_seq AS o_sync_seq"
    };
}
/// The columns of a `ListedObject`: what a listing shows of a member.
macro_rules! listed_cols {
    () => {
        "name, etag, content_type, size, created_at, modified_at"
    };
}
macro_rules! object_cols {
    () => {
        concat!(object_meta_cols!(), ", data")
    };
}

/// The SQL text, shared by both engines.
pub(super) mod sql {
    pub const INSERT_USER: &str = concat!(
        "INSERT INTO users (name, email, password_hash, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING ",
        user_cols!()
    );
    pub const USER_BY_NAME: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE name = $1");
    pub const USER_BY_ID: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1");
    pub const LIST_USERS: &str = concat!("SELECT ", user_cols!(), " FROM users ORDER BY name");
    pub const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
    pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE name = $1";
    pub const DELETE_USER: &str = "DELETE FROM users WHERE name = $1";
    /// The user's collections' byte counters added up (a handful of rows, however many
    /// objects). SUM over BIGINT is NUMERIC on PostgreSQL; the cast keeps an i64 on both.
    pub const USED_BYTES: &str = "SELECT CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT) \
         FROM collections WHERE owner_id = $1";
    /// Moves a collection's byte counter by $2; run by every object write, after the
    /// transaction has locked that collection's row.
    pub const ADD_BYTES: &str = "UPDATE collections SET used_bytes = used_bytes + $2 WHERE id = $1";
    pub const COPY_BYTES: &str =
        "UPDATE collections SET used_bytes = (SELECT used_bytes FROM collections WHERE id = $1) WHERE id = $2";

    pub const INSERT_COLLECTION: &str = concat!(
        "INSERT INTO collections (owner_id, parent_id, path, kind, displayname, description, \
         timezone, color, calendar_order, components, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING ",
        collection_cols!()
    );
    /// Takes the parent's row lock (so no object of the new child's name can appear
    /// concurrently) and records that its membership changed.
    pub const TOUCH_PARENT: &str =
        "UPDATE collections SET modified_at = $2 WHERE id = $1 RETURNING owner_id, path";
    pub const COLLECTION_ID_BY_PATH: &str =
        "SELECT id FROM collections WHERE owner_id = $1 AND path = $2";
    pub const COLLECTION_BY_PATH: &str = concat!(
        "SELECT ",
        collection_cols!(),
        " FROM collections WHERE owner_id = $1 AND path = $2"
    );
    pub const COLLECTION_BY_ID: &str = concat!(
        "SELECT ",
        collection_cols!(),
        " FROM collections WHERE id = $1"
    );
    pub const TOP_COLLECTIONS: &str = concat!(
        "SELECT ",
        collection_cols!(),
        " FROM collections WHERE owner_id = $1 AND parent_id IS NULL ORDER BY path"
    );
    pub const CHILD_COLLECTIONS: &str = concat!(
        "SELECT ",
        collection_cols!(),
        " FROM collections WHERE owner_id = $1 AND parent_id = $2 ORDER BY path"
    );
    pub const CHILD_COLLECTION_EXISTS: &str =
        "SELECT id FROM collections WHERE parent_id = $1 AND path = $2";
    pub const COLLECTION_PATH: &str = "SELECT path FROM collections WHERE id = $1";
    pub const TOUCH_COLLECTION: &str =
        "UPDATE collections SET modified_at = $2 WHERE id = $1 RETURNING id";
    pub const SET_COLLECTION_PROPS: &str = "UPDATE collections SET displayname = $2, \
         description = $3, timezone = $4, color = $5, calendar_order = $6, components = $7 \
         WHERE id = $1";
    pub const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE id = $1";
    /// Collections strictly below a path: `$2` is the path with a '/' appended and `$3` its
    /// length in characters. `substr` rather than `LIKE`, which would read `%` and `_` in a
    /// collection name as wildcards; both engines count characters in `substr` and `length`.
    pub const DESCENDANTS: &str = concat!(
        "SELECT ",
        collection_cols!(),
        " FROM collections WHERE owner_id = $1 AND substr(path, 1, $3) = $2"
    );
    pub const SUBTREE_BYTES: &str = "SELECT CAST(COALESCE(SUM(o.size), 0) AS BIGINT) \
         FROM objects o JOIN collections c ON c.id = o.collection_id \
         WHERE c.owner_id = $1 AND (c.path = $2 OR substr(c.path, 1, $4) = $3)";
    /// A MOVE: the collection takes its new place; its descendants follow with
    /// `MOVE_DESCENDANTS`, and every id (objects, tombstones, properties) stays as it was.
    pub const MOVE_COLLECTION: &str =
        "UPDATE collections SET parent_id = $2, path = $3, modified_at = $4 WHERE id = $1";
    /// `$2`/`$3`: the old path prefix with '/' and its length in characters; `$4` the new one.
    pub const MOVE_DESCENDANTS: &str = "UPDATE collections SET path = $4 || substr(path, $3 + 1) \
         WHERE owner_id = $1 AND substr(path, 1, $3) = $2";
    /// A COPY of one collection row: same kind and live properties, a new place, a fresh seq.
    pub const COPY_COLLECTION: &str = "INSERT INTO collections (owner_id, parent_id, path, kind, \
         displayname, description, timezone, color, calendar_order, components, created_at, \
         modified_at) SELECT owner_id, $2, $3, kind, displayname, description, timezone, color, \
         calendar_order, components, $4, $4 FROM collections WHERE id = $1 RETURNING id";
    pub const COPY_COLLECTION_PROPS: &str = "INSERT INTO collection_props (collection_id, \
         namespace, name, xml) SELECT $2, namespace, name, xml FROM collection_props \
         WHERE collection_id = $1";
    /// Every member of `$1` into `$2`, as new resources with the same bytes and index facts.
    pub const COPY_MEMBERS: &str = "INSERT INTO objects (collection_id, name, data, etag, \
         content_type, size, uid, component, first_start, last_end, instances, instances_until, \
         created_at, modified_at, sync_seq) SELECT $2, name, data, etag, content_type, size, uid, \
         component, first_start, last_end, instances, instances_until, $3, $3, $4 FROM objects \
         WHERE collection_id = $1";
    /// The members' dead properties, matched by member name (unique in each collection).
    pub const COPY_MEMBER_PROPS: &str = "INSERT INTO object_props (object_id, namespace, name, \
         xml) SELECT n.id, p.namespace, p.name, p.xml FROM object_props p \
         JOIN objects o ON o.id = p.object_id \
         JOIN objects n ON n.collection_id = $2 AND n.name = o.name WHERE o.collection_id = $1";
    pub const COLLECTION_PROPS: &str = "SELECT namespace, name, xml FROM collection_props \
         WHERE collection_id = $1 ORDER BY namespace, name";
    pub const UPSERT_COLLECTION_PROP: &str = "INSERT INTO collection_props \
         (collection_id, namespace, name, xml) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (collection_id, namespace, name) DO UPDATE SET xml = excluded.xml";
    pub const DELETE_COLLECTION_PROP: &str = "DELETE FROM collection_props \
         WHERE collection_id = $1 AND namespace = $2 AND name = $3";

    /// The per-collection lock and counter of every member change (see the module doc).
    pub const BUMP_SEQ: &str = "UPDATE collections SET sync_seq = sync_seq + 1, modified_at = $2 \
         WHERE id = $1 RETURNING sync_seq, path";
    /// A collection by path and its member of one name (LEFT JOIN: the collection without
    /// one). The collection's columns keep their names; the object's are prefixed `o_`.
    pub const MEMBER_META: &str = concat!(
        "SELECT ",
        member_cols!(),
        ", NULL AS o_data FROM collections c LEFT JOIN objects o \
         ON o.collection_id = c.id AND o.name = $3 WHERE c.owner_id = $1 AND c.path = $2"
    );
    pub const MEMBER_DATA: &str = concat!(
        "SELECT ",
        member_cols!(),
        ", o.data AS o_data FROM collections c LEFT JOIN objects o \
         ON o.collection_id = c.id AND o.name = $3 WHERE c.owner_id = $1 AND c.path = $2"
    );
    pub const OBJECT_META: &str = concat!(
        "SELECT ",
        object_meta_cols!(),
        " FROM objects WHERE collection_id = $1 AND name = $2"
    );
    pub const OBJECT: &str = concat!(
        "SELECT ",
        object_cols!(),
        " FROM objects WHERE collection_id = $1 AND name = $2"
    );
    /// The prefix of the multiget query; `objects_by_names` appends the `IN (…)` list.
    pub const OBJECTS_BY_NAMES_PREFIX: &str = concat!(
        "SELECT ",
        listed_cols!(),
        ", uid IS NOT NULL AS calendar, data FROM objects WHERE collection_id = $1 AND name IN ("
    );
    pub const LIST_OBJECTS: &str = concat!(
        "SELECT ",
        object_meta_cols!(),
        " FROM objects WHERE collection_id = $1 ORDER BY name"
    );
    /// Only what a listing shows (`ListedObject`), all of it in `objects_listing`.
    pub const LIST_MEMBERS: &str =
        concat!("SELECT ", listed_cols!(), " FROM objects WHERE collection_id = $1 ORDER BY name");
    pub const MEMBER_COUNT: &str = "SELECT COUNT(*) FROM objects WHERE collection_id = $1";
    pub const LIST_OBJECTS_WITH_DATA: &str = concat!(
        "SELECT ",
        object_cols!(),
        " FROM objects WHERE collection_id = $1 ORDER BY name"
    );
    /// Candidates for a time range. The COALESCE expressions must match the `objects_time_range`
    /// index in the migrations character for character, or the planners cannot use it. Both
    /// comparisons are inclusive: the result is a superset for the exact RFC 4791 §9.9 test,
    /// which counts zero-length instances at `start` and VTODO DUE/COMPLETED/CREATED at `end`.
    pub const OBJECTS_IN_RANGE: &str = concat!(
        "SELECT ",
        object_cols!(),
        ", instances, instances_until FROM objects WHERE collection_id = $1 \
         AND COALESCE(last_end, 9223372036854775807) >= $2 \
         AND COALESCE(first_start, -9223372036854775807) <= $3 \
         AND component IS NOT NULL AND ($4 IS NULL OR component = $4) ORDER BY name"
    );
    pub const EXISTING_OBJECT: &str =
        "SELECT id, etag, uid, size FROM objects WHERE collection_id = $1 AND name = $2";
    pub const UID_HOLDER: &str =
        "SELECT name FROM objects WHERE collection_id = $1 AND uid = $2 AND id <> $3";
    /// Everything a PUT must know before it writes, in one statement (each statement is a
    /// thread round trip on SQLite): the object now at `$2` if any, whether a child collection
    /// holds that name (`$3`, its path), which other member holds the UID `$4` (NULL for a
    /// non-calendar resource matches nothing), and whether a tombstone waits to be cleared.
    /// The one-row `k` makes the LEFT JOIN answer a row when the name is free.
    pub const PUT_CHECKS: &str = "SELECT e.etag, e.size, e.uid, \
         EXISTS (SELECT 1 FROM collections WHERE parent_id = $1 AND path = $3) AS child, \
         (SELECT name FROM objects WHERE collection_id = $1 AND uid = $4 AND name <> $2 \
          ORDER BY name LIMIT 1) AS uid_holder, \
         EXISTS (SELECT 1 FROM tombstones WHERE collection_id = $1 AND name = $2) AS tombstone \
         FROM (SELECT 1 AS one) k LEFT JOIN objects e ON e.collection_id = $1 AND e.name = $2";
    /// Insert and update take the same arguments in the same order, so one binder serves both.
    pub const INSERT_OBJECT: &str = concat!(
        "INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, \
         component, first_start, last_end, created_at, modified_at, sync_seq, instances, \
         instances_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14) RETURNING ",
        object_meta_cols!()
    );
    pub const UPDATE_OBJECT: &str = concat!(
        "UPDATE objects SET data = $3, etag = $4, content_type = $5, size = $6, uid = $7, \
         component = $8, first_start = $9, last_end = $10, modified_at = $11, sync_seq = $12, \
         instances = $13, instances_until = $14 WHERE collection_id = $1 AND name = $2 RETURNING ",
        object_meta_cols!()
    );
    pub const DELETE_OBJECT: &str = "DELETE FROM objects WHERE id = $1";
    pub const MOVE_OBJECT: &str =
        "UPDATE objects SET collection_id = $2, name = $3, sync_seq = $4 WHERE id = $1";
    pub const COPY_OBJECT: &str = "INSERT INTO objects (collection_id, name, data, etag, \
         content_type, size, uid, component, first_start, last_end, instances, instances_until, \
         created_at, modified_at, sync_seq) SELECT $2, $3, data, etag, content_type, size, uid, \
         component, first_start, last_end, instances, instances_until, $4, $4, $5 FROM objects \
         WHERE id = $1 RETURNING id, size";
    /// Objects whose timeline horizon is before `$1`, on the partial index objects_timelines_due.
    pub const TIMELINES_DUE: &str = concat!(
        "SELECT ",
        object_cols!(),
        " FROM objects WHERE instances_until IS NOT NULL AND instances_until < $1 \
         ORDER BY id LIMIT $2"
    );
    /// A fresh timeline for unchanged bytes: neither the ETag nor the sync seq moves, since
    /// what a client can read of the object is the same.
    pub const SET_TIMELINE: &str =
        "UPDATE objects SET instances = $3, instances_until = $4 WHERE id = $1 AND etag = $2";
    pub const OBJECT_COLLECTION: &str = "SELECT collection_id FROM objects WHERE id = $1";
    pub const STAMP_OBJECT: &str =
        "UPDATE objects SET sync_seq = $3 WHERE id = $1 AND collection_id = $2";
    pub const OBJECT_PROPS: &str = "SELECT namespace, name, xml FROM object_props \
         WHERE object_id = $1 ORDER BY namespace, name";
    pub const UPSERT_OBJECT_PROP: &str = "INSERT INTO object_props \
         (object_id, namespace, name, xml) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (object_id, namespace, name) DO UPDATE SET xml = excluded.xml";
    pub const DELETE_OBJECT_PROP: &str =
        "DELETE FROM object_props WHERE object_id = $1 AND namespace = $2 AND name = $3";
    pub const COPY_OBJECT_PROPS: &str = "INSERT INTO object_props (object_id, namespace, name, \
         xml) SELECT $2, namespace, name, xml FROM object_props WHERE object_id = $1";

    pub const UPSERT_TOMBSTONE: &str = "INSERT INTO tombstones (collection_id, name, sync_seq, \
         deleted_at) VALUES ($1, $2, $3, $4) ON CONFLICT (collection_id, name) \
         DO UPDATE SET sync_seq = excluded.sync_seq, deleted_at = excluded.deleted_at";
    pub const DELETE_TOMBSTONE: &str =
        "DELETE FROM tombstones WHERE collection_id = $1 AND name = $2";
    /// A sync delta in one statement, so one snapshot: the collection's seq S and retention
    /// floor with the members changed in ($2, S] (part 0: at least one row while the
    /// collection exists, the LEFT JOIN's NULL member when nothing changed), then the
    /// tombstones in ($2, S] (part 1). `$3` caps each part (the caller's limit + 1, to tell
    /// whether more exist). Each part keeps to its index (`objects_sync`, `tombstones_sync`).
    /// The NULLs are cast because PostgreSQL types an untyped NULL in a subquery as text.
    pub const DELTA_SINCE: &str = concat!(
        "SELECT * FROM (",
        delta_members!(),
        ") AS m \
         UNION ALL \
         SELECT * FROM (SELECT CAST(1 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), \
         CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
         CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS BIGINT), \
         CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), \
         t.name, t.sync_seq FROM tombstones t JOIN collections c ON c.id = t.collection_id \
         WHERE t.collection_id = $1 AND t.sync_seq > $2 AND t.sync_seq <= c.sync_seq \
         ORDER BY t.sync_seq LIMIT $3) AS r"
    );
    /// An initial sync: every member with the collection's seq S, nothing else (no floor, no
    /// tombstones), so the rows stay as narrow as a listing's.
    pub const MEMBERS_SINCE: &str = concat!(
        "SELECT c.sync_seq AS state_seq, ",
        joined_object_cols!(),
        " ",
        changed_members_from!()
    );
    pub const COLLECTIONS_TO_PRUNE: &str = "SELECT DISTINCT collection_id FROM tombstones \
         WHERE deleted_at < $1 ORDER BY collection_id";
    /// Takes a collection's row lock without changing it.
    pub const LOCK_COLLECTION: &str =
        "UPDATE collections SET token_floor = token_floor WHERE id = $1";
    pub const PRUNE_TOMBSTONES: &str = "DELETE FROM tombstones \
         WHERE collection_id = $1 AND deleted_at < $2 RETURNING sync_seq";
    pub const RAISE_FLOOR: &str =
        "UPDATE collections SET token_floor = $2 WHERE id = $1 AND token_floor < $2";
}

/// Keeps the multiget's bind count far below both engines' limits (SQLite 32766, PostgreSQL
/// 65535) while still answering any real REPORT in one statement.
const MULTIGET_CHUNK: usize = 4_096;
/// Multiget IN lists up to this length are kept prepared. Lists are padded to a power of two,
/// so that is at most nine statements per connection; each client asks in a batch size of its
/// own (DAVx5 10, the benchmark 50), and parsing and planning the statement anew was a few per
/// cent of every multiget.
const MULTIGET_PREPARED: usize = 256;

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

// ---------------------------------------------------------------------------------------------
// Rows and their conversions. Integers are BIGINT on PostgreSQL and INTEGER on SQLite, so every
// one decodes as i64 on both.
// ---------------------------------------------------------------------------------------------

struct UserRow {
    id: i64,
    name: String,
    email: Option<String>,
    password_hash: String,
    created_at: i64,
}
from_row!(UserRow { id, name, email, password_hash, created_at });

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            name: r.name,
            email: r.email,
            password_hash: r.password_hash,
            created_at: r.created_at,
        }
    }
}

struct CollectionRow {
    id: i64,
    owner_id: i64,
    parent_id: Option<i64>,
    path: String,
    kind: String,
    displayname: Option<String>,
    description: Option<String>,
    timezone: Option<String>,
    color: Option<String>,
    calendar_order: Option<String>,
    components: i64,
    sync_seq: i64,
    created_at: i64,
    modified_at: i64,
}
from_row!(CollectionRow { id, owner_id, parent_id, path, kind, displayname, description, timezone, color, calendar_order, components, sync_seq, created_at, modified_at });

impl TryFrom<CollectionRow> for Collection {
    type Error = StoreError;

    fn try_from(r: CollectionRow) -> StoreResult<Self> {
        let kind = match r.kind.as_str() {
            "calendar" => CollectionKind::Calendar,
            "plain" => CollectionKind::Plain,
            other => return Err(corrupt(format!("collection {}: kind {other:?}", r.id))),
        };
        let components = u8::try_from(r.components)
            .map_err(|_| corrupt(format!("collection {}: components {}", r.id, r.components)))?;
        Ok(Collection {
            id: CollectionId(r.id),
            owner: UserId(r.owner_id),
            parent: r.parent_id.map(CollectionId),
            path: r.path,
            kind,
            props: CollectionProps {
                displayname: r.displayname,
                description: r.description,
                timezone: r.timezone,
                color: r.color,
                order: r.calendar_order,
                components: ComponentSet(components),
            },
            sync_seq: r.sync_seq,
            created_at: r.created_at,
            modified_at: r.modified_at,
        })
    }
}

fn kind_str(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "calendar",
        CollectionKind::Plain => "plain",
    }
}

struct ObjectMetaRow {
    id: i64,
    collection_id: i64,
    name: String,
    etag: String,
    content_type: String,
    size: i64,
    uid: Option<String>,
    component: Option<String>,
    first_start: Option<i64>,
    last_end: Option<i64>,
    created_at: i64,
    modified_at: i64,
    sync_seq: i64,
}
from_row!(ObjectMetaRow { id, collection_id, name, etag, content_type, size, uid, component, first_start, last_end, created_at, modified_at, sync_seq });

impl TryFrom<ObjectMetaRow> for ObjectMeta {
    type Error = StoreError;

    fn try_from(r: ObjectMetaRow) -> StoreResult<Self> {
        // The schema's CHECK keeps uid and component both set or both NULL.
        let calendar = match (r.uid, r.component) {
            (Some(uid), Some(component)) => Some(CalendarIndex {
                uid,
                component: ComponentKind::parse(&component)
                    .ok_or_else(|| corrupt(format!("object {}: component {component:?}", r.id)))?,
                first_start: r.first_start,
                last_end: r.last_end,
            }),
            _ => None,
        };
        Ok(ObjectMeta {
            id: ObjectId(r.id),
            collection: CollectionId(r.collection_id),
            name: r.name,
            etag: r.etag,
            content_type: r.content_type,
            size: r.size,
            calendar,
            created_at: r.created_at,
            modified_at: r.modified_at,
            sync_seq: r.sync_seq,
        })
    }
}

struct ListedRow {
    name: String,
    etag: String,
    content_type: String,
    size: i64,
    created_at: i64,
    modified_at: i64,
}
from_row!(ListedRow { name, etag, content_type, size, created_at, modified_at });

impl From<ListedRow> for ListedObject {
    fn from(r: ListedRow) -> Self {
        ListedObject {
            name: r.name,
            etag: r.etag,
            content_type: r.content_type,
            size: r.size,
            created_at: r.created_at,
            modified_at: r.modified_at,
        }
    }
}

struct MemberDataRow {
    listed: ListedRow,
    calendar: bool,
    data: Vec<u8>,
}
from_row!(MemberDataRow { calendar, data } flatten { listed });

struct ObjectRow {
    meta: ObjectMetaRow,
    data: Vec<u8>,
}
from_row!(ObjectRow { data } flatten { meta });

/// An OBJECTS_IN_RANGE row: the object and its timeline columns.
struct CandidateRow {
    object: ObjectRow,
    instances: Option<Vec<u8>>,
    instances_until: Option<i64>,
}
from_row!(CandidateRow { instances, instances_until } flatten { object });

impl TryFrom<CandidateRow> for Candidate {
    type Error = StoreError;

    fn try_from(r: CandidateRow) -> StoreResult<Self> {
        let until = r.instances_until;
        Ok(Candidate {
            object: r.object.try_into()?,
            timeline: r.instances.map(|encoded| Timeline { encoded, until }),
        })
    }
}

impl TryFrom<ObjectRow> for StoredObject {
    type Error = StoreError;

    fn try_from(r: ObjectRow) -> StoreResult<Self> {
        Ok(StoredObject {
            meta: r.meta.try_into()?,
            data: r.data,
        })
    }
}

/// A MEMBER_* row: the collection, and its object's columns, all NULL when there is none.
/// `o_data` is NULL in MEMBER_META (SQLite and PostgreSQL both decode a NULL into any Option).
struct MemberRow {
    collection: CollectionRow,
    object: MaybeObjectMetaRow,
    o_data: Option<Vec<u8>>,
}
from_row!(MemberRow { o_data } flatten { collection, object });

impl MemberRow {
    /// The collection, the object's metadata if there is an object, and its bytes if selected.
    fn split(self) -> StoreResult<(Collection, Option<ObjectMeta>, Option<Vec<u8>>)> {
        let collection = Collection::try_from(self.collection)?;
        let meta = self.object.into_meta(collection.id)?;
        Ok((collection, meta, self.o_data))
    }
}

/// An object's metadata columns from the nullable side of a LEFT JOIN, prefixed `o_`.
struct MaybeObjectMetaRow {
    o_id: Option<i64>,
    o_name: Option<String>,
    o_etag: Option<String>,
    o_content_type: Option<String>,
    o_size: Option<i64>,
    o_uid: Option<String>,
    o_component: Option<String>,
    o_first_start: Option<i64>,
    o_last_end: Option<i64>,
    o_created_at: Option<i64>,
    o_modified_at: Option<i64>,
    o_sync_seq: Option<i64>,
}
from_row!(MaybeObjectMetaRow { o_id, o_name, o_etag, o_content_type, o_size, o_uid, o_component, o_first_start, o_last_end, o_created_at, o_modified_at, o_sync_seq });

impl MaybeObjectMetaRow {
    /// None when the join found no object.
    fn into_meta(self, collection: CollectionId) -> StoreResult<Option<ObjectMeta>> {
        let (Some(id), Some(name), Some(etag), Some(content_type), Some(size)) =
            (self.o_id, self.o_name, self.o_etag, self.o_content_type, self.o_size)
        else {
            return Ok(None);
        };
        let missing = || corrupt(format!("object {id}: NULL in a NOT NULL column"));
        Ok(Some(ObjectMeta::try_from(ObjectMetaRow {
            id,
            collection_id: collection.0,
            name,
            etag,
            content_type,
            size,
            uid: self.o_uid,
            component: self.o_component,
            first_start: self.o_first_start,
            last_end: self.o_last_end,
            created_at: self.o_created_at.ok_or_else(missing)?,
            modified_at: self.o_modified_at.ok_or_else(missing)?,
            sync_seq: self.o_sync_seq.ok_or_else(missing)?,
        })?))
    }
}

struct DeadPropRow {
    namespace: String,
    name: String,
    xml: String,
}
from_row!(DeadPropRow { namespace, name, xml });

impl From<DeadPropRow> for DeadProp {
    fn from(r: DeadPropRow) -> Self {
        DeadProp {
            namespace: r.namespace,
            name: r.name,
            xml: r.xml,
        }
    }
}

struct ParentRow {
    owner_id: i64,
    path: String,
}
from_row!(ParentRow { owner_id, path });

struct BumpedRow {
    sync_seq: i64,
    path: String,
}
from_row!(BumpedRow { sync_seq, path });

struct ExistingRow {
    id: i64,
    etag: String,
    uid: Option<String>,
    size: i64,
}
from_row!(ExistingRow { id, etag, uid, size });

struct PutChecksRow {
    /// The ETag and size of the object now at the name; both NULL when there is none.
    etag: Option<String>,
    size: Option<i64>,
    uid: Option<String>,
    child: bool,
    uid_holder: Option<String>,
    tombstone: bool,
}
from_row!(PutChecksRow { etag, size, uid, child, uid_holder, tombstone });

/// A MEMBERS_SINCE row: the collection's seq and a member (all NULL when there is none).
struct MembersRow {
    state_seq: i64,
    object: MaybeObjectMetaRow,
}
from_row!(MembersRow { state_seq } flatten { object });

/// A DELTA_SINCE row: part 0 carries the collection's seq and floor and a changed member
/// (all NULL when none changed), part 1 a tombstone.
struct DeltaRow {
    part: i64,
    state_seq: Option<i64>,
    token_floor: Option<i64>,
    object: MaybeObjectMetaRow,
    t_name: Option<String>,
    t_seq: Option<i64>,
}
from_row!(DeltaRow { part, state_seq, token_floor, t_name, t_seq } flatten { object });

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

/// UidConflict if another object (not `except`) in the collection carries `uid`.
async fn check_uid_free(
    conn: &mut Conn,
    collection: CollectionId,
    uid: &str,
    except: Option<ObjectId>,
) -> StoreResult<()> {
    let holder: Option<String> = sqlx::query_scalar(sql::UID_HOLDER)
        .bind(collection.0)
        .bind(uid)
        // Ids are positive on both engines, so 0 excludes nothing.
        .bind(except.map_or(0, |id| id.0))
        .fetch_optional(conn)
        .await?;
    match holder {
        Some(existing_name) => Err(StoreError::UidConflict { existing_name }),
        None => Ok(()),
    }
}

async fn existing_object(
    conn: &mut Conn,
    collection: CollectionId,
    name: &str,
) -> StoreResult<Option<ExistingRow>> {
    Ok(sqlx::query_as(sql::EXISTING_OBJECT)
        .bind(collection.0)
        .bind(name)
        .fetch_optional(conn)
        .await?)
}

/// Adds `delta` to the collection's byte counter (nothing to do for zero).
async fn add_bytes(conn: &mut Conn, collection: CollectionId, delta: i64) -> StoreResult<()> {
    if delta != 0 {
        sqlx::query(sql::ADD_BYTES)
            .bind(collection.0)
            .bind(delta)
            .execute(conn)
            .await?;
    }
    Ok(())
}

async fn write_tombstone(
    conn: &mut Conn,
    collection: CollectionId,
    name: &str,
    seq: i64,
    now: Timestamp,
) -> StoreResult<()> {
    sqlx::query(sql::UPSERT_TOMBSTONE)
        .bind(collection.0)
        .bind(name)
        .bind(seq)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

async fn clear_tombstone(conn: &mut Conn, collection: CollectionId, name: &str) -> StoreResult<()> {
    sqlx::query(sql::DELETE_TOMBSTONE)
        .bind(collection.0)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// `path` with a '/' appended and its length in characters: the arguments of the `substr`
/// prefix tests that find what lies below `path`.
fn below(path: &str) -> (String, i32) {
    let prefix = format!("{path}/");
    let chars = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    (prefix, chars)
}

/// Whether `path` lies strictly below `ancestor` (both below the same home).
fn is_below(path: &str, ancestor: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

async fn collection_in(conn: &mut Conn, id: CollectionId) -> StoreResult<Option<Collection>> {
    let row: Option<CollectionRow> = sqlx::query_as(sql::COLLECTION_BY_ID)
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.map(Collection::try_from).transpose()
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

/// Copies one collection row to `path` under `parent`, with its dead properties and, when
/// `members`, its objects and their dead properties. The copy starts its own sync history:
/// seq 1 for the copied members, no tombstones. Returns the new collection's id.
async fn copy_collection_row(
    conn: &mut Conn,
    from: CollectionId,
    parent: Option<CollectionId>,
    path: &str,
    members: bool,
    now: Timestamp,
) -> StoreResult<CollectionId> {
    let id: i64 = sqlx::query_scalar(sql::COPY_COLLECTION)
        .bind(from.0)
        .bind(parent.map(|p| p.0))
        .bind(path)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(unique_is_already_exists)?;
    sqlx::query(sql::COPY_COLLECTION_PROPS)
        .bind(from.0)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if members {
        let bumped = bump_seq(&mut *conn, CollectionId(id), now).await?;
        sqlx::query(sql::COPY_MEMBERS)
            .bind(from.0)
            .bind(id)
            .bind(now)
            .bind(bumped.sync_seq)
            .execute(&mut *conn)
            .await?;
        sqlx::query(sql::COPY_MEMBER_PROPS)
            .bind(from.0)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        // The copy holds the same members, so the same bytes (the counter is not copied with
        // the row: a shallow copy has no members).
        sqlx::query(sql::COPY_BYTES).bind(from.0).bind(id).execute(&mut *conn).await?;
    }
    Ok(CollectionId(id))
}

/// Applies a dead-property patch; `upsert`/`delete` are the table's statements, keyed by `owner`.
async fn patch_dead_props(
    conn: &mut Conn,
    upsert: &'static str,
    delete: &'static str,
    owner: i64,
    set: &[DeadProp],
    remove: &[(String, String)],
) -> StoreResult<()> {
    for p in set {
        sqlx::query(upsert)
            .bind(owner)
            .bind(&p.namespace)
            .bind(&p.name)
            .bind(&p.xml)
            .execute(&mut *conn)
            .await?;
    }
    for (namespace, name) in remove {
        sqlx::query(delete)
            .bind(owner)
            .bind(namespace)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Inserts one collection after checking that its path continues its parent's (by one non-empty
/// segment; NotFound otherwise, as for a missing parent) and that the parent has no object of
/// that name (AlreadyExists, like a taken path).
async fn insert_collection(
    conn: &mut Conn,
    new: &NewCollection,
    now: Timestamp,
) -> StoreResult<Collection> {
    let segment_ok = |s: &str| !s.is_empty() && !s.contains('/');
    match new.parent {
        None if !segment_ok(&new.path) => return Err(StoreError::NotFound),
        None => {}
        Some(parent) => {
            let p: ParentRow = sqlx::query_as(sql::TOUCH_PARENT)
                .bind(parent.0)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            let segment = new
                .path
                .strip_prefix(p.path.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|s| segment_ok(s))
                .ok_or(StoreError::NotFound)?;
            if p.owner_id != new.owner.0 {
                return Err(StoreError::NotFound);
            }
            if existing_object(&mut *conn, parent, segment)
                .await?
                .is_some()
            {
                return Err(StoreError::AlreadyExists);
            }
        }
    }
    let props = &new.props;
    let row: CollectionRow = sqlx::query_as(sql::INSERT_COLLECTION)
        .bind(new.owner.0)
        .bind(new.parent.map(|p| p.0))
        .bind(&new.path)
        .bind(kind_str(new.kind))
        .bind(&props.displayname)
        .bind(&props.description)
        .bind(&props.timezone)
        .bind(&props.color)
        .bind(&props.order)
        .bind(i64::from(props.components.0))
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(unique_is_already_exists)?;
    let collection = Collection::try_from(row)?;
    patch_dead_props(
        conn,
        sql::UPSERT_COLLECTION_PROP,
        sql::DELETE_COLLECTION_PROP,
        collection.id.0,
        &new.dead_props,
        &[],
    )
    .await?;
    Ok(collection)
}

/// One entry of a sync delta before it is split into `changed` and `removed`.
enum SyncEntry {
    Changed(ObjectMeta),
    Removed { name: String, seq: i64 },
}

impl SyncEntry {
    fn seq(&self) -> i64 {
        match self {
            SyncEntry::Changed(m) => m.sync_seq,
            SyncEntry::Removed { seq, .. } => *seq,
        }
    }
}

/// A delta from the members and tombstones read (each in seq order, each capped at the
/// limit plus one): merged in seq order, cut at the limit without splitting a seq, with the
/// token that continues it (the last seq kept when cut, else the collection's seq).
fn finish_delta(changed: Vec<ObjectMeta>, removed: Vec<(String, i64)>, state_seq: i64, limit: Option<usize>) -> SyncDelta {
    let mut entries = Vec::with_capacity(changed.len() + removed.len());
    entries.extend(changed.into_iter().map(SyncEntry::Changed));
    entries.extend(removed.into_iter().map(|(name, seq)| SyncEntry::Removed { name, seq }));
    // Stable, so equal seqs keep members before tombstones.
    entries.sort_by_key(SyncEntry::seq);
    let (entries, truncated) = match limit {
        Some(limit) => cut_at_limit(entries, limit),
        None => (entries, false),
    };
    let seq = match entries.last() {
        Some(last) if truncated => last.seq(),
        _ => state_seq,
    };
    let mut delta = SyncDelta {
        changed: Vec::new(),
        removed: Vec::new(),
        seq,
        truncated,
    };
    for entry in entries {
        match entry {
            SyncEntry::Changed(meta) => delta.changed.push(meta),
            SyncEntry::Removed { name, .. } => delta.removed.push(name),
        }
    }
    delta
}

/// Cuts the seq-ordered `entries` to `limit` without splitting a seq: one transaction can leave
/// two entries with the same seq (a rename leaves a tombstone and a member), and a token in the
/// middle of them would lose the second for good. If the first seq alone is over the limit it is
/// returned whole, so a client always makes progress. Returns the kept entries and whether any
/// were dropped.
fn cut_at_limit(mut entries: Vec<SyncEntry>, limit: usize) -> (Vec<SyncEntry>, bool) {
    if entries.len() <= limit {
        return (entries, false);
    }
    let first_dropped = entries[limit].seq();
    let mut keep = entries[..limit]
        .iter()
        .take_while(|e| e.seq() < first_dropped)
        .count();
    if keep == 0 {
        let first = entries[0].seq();
        keep = entries.iter().take_while(|e| e.seq() == first).count();
    }
    let truncated = keep < entries.len();
    entries.truncate(keep);
    (entries, truncated)
}

// ---------------------------------------------------------------------------------------------
// The traits.
// ---------------------------------------------------------------------------------------------

impl UserStore for Engine {
    async fn create_user(&self, user: NewUser, home: Vec<NewCollection>) -> StoreResult<User> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let row: UserRow = sqlx::query_as(sql::INSERT_USER)
            .bind(&user.name)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_is_already_exists)?;
        let owner = UserId(row.id);
        for mut new in home {
            // The caller cannot know the new user's id, nor the ids of home collections created
            // a moment earlier: the owner is this user, and the parent follows from the path.
            new.owner = owner;
            new.parent = match new.path.rsplit_once('/') {
                None => None,
                Some((parent_path, _)) => {
                    let id: i64 = sqlx::query_scalar(sql::COLLECTION_ID_BY_PATH)
                        .bind(owner.0)
                        .bind(parent_path)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    Some(CollectionId(id))
                }
            };
            insert_collection(&mut tx, &new, now).await?;
        }
        tx.commit().await?;
        Ok(row.into())
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql::USER_BY_NAME)
            .bind(name)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.map(User::from))
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(sql::USER_BY_ID)
            .bind(id.0)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.map(User::from))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(sql::LIST_USERS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_USERS)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::SET_PASSWORD)
            .bind(name)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // ON DELETE CASCADE takes the collections and everything below them.
        let done = sqlx::query(sql::DELETE_USER)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn used_bytes(&self, owner: UserId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::USED_BYTES)
            .bind(owner.0)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }
}

impl CollectionStore for Engine {
    async fn create_collection(&self, new: NewCollection) -> StoreResult<Collection> {
        let mut tx = self.begin_write().await?;
        let collection = insert_collection(&mut tx, &new, now()).await?;
        tx.commit().await?;
        Ok(collection)
    }

    async fn collection_by_path(
        &self,
        owner: UserId,
        path: &str,
    ) -> StoreResult<Option<Collection>> {
        let row: Option<CollectionRow> = sqlx::query_as(sql::COLLECTION_BY_PATH)
            .bind(owner.0)
            .bind(path)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(Collection::try_from).transpose()
    }

    async fn collection_by_id(&self, id: CollectionId) -> StoreResult<Option<Collection>> {
        let row: Option<CollectionRow> = sqlx::query_as(sql::COLLECTION_BY_ID)
            .bind(id.0)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(Collection::try_from).transpose()
    }

    async fn child_collections(
        &self,
        owner: UserId,
        parent: Option<CollectionId>,
    ) -> StoreResult<Vec<Collection>> {
        // Two statements rather than a NULL-safe comparison, which neither engine indexes.
        let rows: Vec<CollectionRow> = match parent {
            None => {
                sqlx::query_as(sql::TOP_COLLECTIONS)
                    .bind(owner.0)
                    .fetch_all(&mut *self.reader().await?)
                    .await?
            }
            Some(parent) => {
                sqlx::query_as(sql::CHILD_COLLECTIONS)
                    .bind(owner.0)
                    .bind(parent.0)
                    .fetch_all(&mut *self.reader().await?)
                    .await?
            }
        };
        collect(rows)
    }

    async fn patch_collection(
        &self,
        id: CollectionId,
        patch: CollectionPatch,
    ) -> StoreResult<Collection> {
        let mut tx = self.begin_write().await?;
        let touched: Option<i64> = sqlx::query_scalar(sql::TOUCH_COLLECTION)
            .bind(id.0)
            .bind(now())
            .fetch_optional(&mut *tx)
            .await?;
        if touched.is_none() {
            return Err(StoreError::NotFound);
        }
        if let Some(props) = &patch.props {
            sqlx::query(sql::SET_COLLECTION_PROPS)
                .bind(id.0)
                .bind(&props.displayname)
                .bind(&props.description)
                .bind(&props.timezone)
                .bind(&props.color)
                .bind(&props.order)
                .bind(i64::from(props.components.0))
                .execute(&mut *tx)
                .await?;
        }
        patch_dead_props(
            &mut tx,
            sql::UPSERT_COLLECTION_PROP,
            sql::DELETE_COLLECTION_PROP,
            id.0,
            &patch.set_dead,
            &patch.remove_dead,
        )
        .await?;
        let row: CollectionRow = sqlx::query_as(sql::COLLECTION_BY_ID)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
        let collection = Collection::try_from(row)?;
        tx.commit().await?;
        Ok(collection)
    }

    async fn collection_dead_props(&self, id: CollectionId) -> StoreResult<Vec<DeadProp>> {
        let rows: Vec<DeadPropRow> = sqlx::query_as(sql::COLLECTION_PROPS)
            .bind(id.0)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows.into_iter().map(DeadProp::from).collect())
    }

    async fn delete_collection(&self, id: CollectionId) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // ON DELETE CASCADE takes descendants, objects, properties and tombstones.
        let done = sqlx::query(sql::DELETE_COLLECTION)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn transfer_collection(&self, t: CollectionTransfer) -> StoreResult<bool> {
        let now = now();
        let mut tx = self.begin_write().await?;
        // The source (no concurrent MOVE of it, no half-copied state) and the destination's
        // parent (no object of the destination's name can appear meanwhile, as for MKCOL).
        let mut locks = vec![t.source];
        locks.extend(t.dest_parent);
        lock_collections(&mut tx, locks).await?;
        let source = collection_in(&mut tx, t.source)
            .await?
            .ok_or(StoreError::NotFound)?;
        let dest_parent = match t.dest_parent {
            None => None,
            Some(id) => {
                let parent = collection_in(&mut tx, id)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                // Another user's collection is as absent as a missing one (see insert_collection).
                if parent.owner != source.owner {
                    return Err(StoreError::NotFound);
                }
                Some(parent)
            }
        };
        if t.dest_name.is_empty() || t.dest_name.contains('/') {
            return Err(StoreError::NotFound);
        }
        let dest_path = match &dest_parent {
            Some(parent) => format!("{}/{}", parent.path, t.dest_name),
            None => t.dest_name.clone(),
        };
        if dest_path == source.path
            || is_below(&dest_path, &source.path)
            || is_below(&source.path, &dest_path)
        {
            return Err(StoreError::Overlap);
        }

        // What stands at the destination now: a collection, or (inside a collection) an object.
        let existing_collection: Option<i64> = sqlx::query_scalar(sql::COLLECTION_ID_BY_PATH)
            .bind(source.owner.0)
            .bind(&dest_path)
            .fetch_optional(&mut *tx)
            .await?;
        let existing_object = match &dest_parent {
            Some(parent) => existing_object(&mut tx, parent.id, &t.dest_name).await?,
            None => None,
        };
        let existed = existing_collection.is_some() || existing_object.is_some();
        if existed && !t.overwrite {
            return Err(StoreError::PreconditionFailed);
        }
        if let Some(id) = existing_collection {
            sqlx::query(sql::DELETE_COLLECTION)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        match (&dest_parent, &existing_object) {
            (Some(parent), Some(object)) => {
                // A member of the parent goes: a change sync-collection reports.
                let bumped = bump_seq(&mut tx, parent.id, now).await?;
                sqlx::query(sql::DELETE_OBJECT)
                    .bind(object.id)
                    .execute(&mut *tx)
                    .await?;
                add_bytes(&mut tx, parent.id, -object.size).await?;
                write_tombstone(&mut tx, parent.id, &t.dest_name, bumped.sync_seq, now).await?;
            }
            (Some(parent), None) => {
                sqlx::query(sql::TOUCH_COLLECTION)
                    .bind(parent.id.0)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            (None, _) => {}
        }

        let dest_parent_id = dest_parent.as_ref().map(|p| p.id);
        match t.kind {
            CollectionTransferKind::Move => {
                sqlx::query(sql::MOVE_COLLECTION)
                    .bind(source.id.0)
                    .bind(dest_parent_id.map(|p| p.0))
                    .bind(&dest_path)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(unique_is_already_exists)?;
                let (old_prefix, old_chars) = below(&source.path);
                let (new_prefix, _) = below(&dest_path);
                sqlx::query(sql::MOVE_DESCENDANTS)
                    .bind(source.owner.0)
                    .bind(&old_prefix)
                    .bind(old_chars)
                    .bind(&new_prefix)
                    .execute(&mut *tx)
                    .await
                    .map_err(unique_is_already_exists)?;
                if let Some(old_parent) = source.parent {
                    sqlx::query(sql::TOUCH_COLLECTION)
                        .bind(old_parent.0)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            CollectionTransferKind::CopyShallow => {
                copy_collection_row(&mut tx, source.id, dest_parent_id, &dest_path, false, now)
                    .await?;
            }
            CollectionTransferKind::CopyDeep => {
                let root =
                    copy_collection_row(&mut tx, source.id, dest_parent_id, &dest_path, true, now)
                        .await?;
                let (prefix, chars) = below(&source.path);
                let rows: Vec<CollectionRow> = sqlx::query_as(sql::DESCENDANTS)
                    .bind(source.owner.0)
                    .bind(&prefix)
                    .bind(chars)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut descendants: Vec<Collection> = collect(rows)?;
                // Parents before children: a parent's path has fewer segments.
                descendants.sort_by_key(|c| c.path.matches('/').count());
                let mut copies = std::collections::HashMap::from([(source.id, root)]);
                for d in descendants {
                    let parent =
                        d.parent
                            .and_then(|p| copies.get(&p).copied())
                            .ok_or_else(|| {
                                corrupt(format!(
                                    "collection {}: parent not below {}",
                                    d.id.0, source.path
                                ))
                            })?;
                    let path = format!("{dest_path}{}", &d.path[source.path.len()..]);
                    let copy =
                        copy_collection_row(&mut tx, d.id, Some(parent), &path, true, now).await?;
                    copies.insert(d.id, copy);
                }
            }
        }
        tx.commit().await?;
        Ok(!existed)
    }

    async fn subtree_bytes(&self, owner: UserId, path: &str) -> StoreResult<i64> {
        let (prefix, chars) = below(path);
        Ok(sqlx::query_scalar(sql::SUBTREE_BYTES)
            .bind(owner.0)
            .bind(path)
            .bind(&prefix)
            .bind(chars)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }
}

impl Engine {
    /// The collection at `path` joined with its member `name` (MEMBER_META or MEMBER_DATA).
    async fn member_row(&self, query: &'static str, owner: UserId, path: &str, name: &str) -> StoreResult<Option<MemberRow>> {
        Ok(sqlx::query_as(query).bind(owner.0).bind(path).bind(name).fetch_optional(&mut *self.reader().await?).await?)
    }
}

impl ObjectStore for Engine {
    async fn member_meta(
        &self,
        owner: UserId,
        path: &str,
        name: &str,
    ) -> StoreResult<Option<(Collection, Option<ObjectMeta>)>> {
        let Some(row) = self.member_row(sql::MEMBER_META, owner, path, name).await? else { return Ok(None) };
        let (collection, meta, _) = row.split()?;
        Ok(Some((collection, meta)))
    }

    async fn member_data(
        &self,
        owner: UserId,
        path: &str,
        name: &str,
    ) -> StoreResult<Option<(Collection, Option<StoredObject>)>> {
        let Some(row) = self.member_row(sql::MEMBER_DATA, owner, path, name).await? else { return Ok(None) };
        let (collection, meta, data) = row.split()?;
        let object = match (meta, data) {
            (Some(meta), Some(data)) => Some(StoredObject { meta, data }),
            (Some(meta), None) => return Err(corrupt(format!("object {}: NULL data", meta.id.0))),
            (None, _) => None,
        };
        Ok(Some((collection, object)))
    }

    async fn object_meta(
        &self,
        collection: CollectionId,
        name: &str,
    ) -> StoreResult<Option<ObjectMeta>> {
        let row: Option<ObjectMetaRow> = sqlx::query_as(sql::OBJECT_META)
            .bind(collection.0)
            .bind(name)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(ObjectMeta::try_from).transpose()
    }

    async fn object(
        &self,
        collection: CollectionId,
        name: &str,
    ) -> StoreResult<Option<StoredObject>> {
        let row: Option<ObjectRow> = sqlx::query_as(sql::OBJECT)
            .bind(collection.0)
            .bind(name)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(StoredObject::try_from).transpose()
    }

    async fn objects_by_names(
        &self,
        collection: CollectionId,
        names: &[String],
    ) -> StoreResult<Vec<MemberData>> {
        let mut found = Vec::with_capacity(names.len());
        for chunk in names.chunks(MULTIGET_CHUNK) {
            let Some(last) = chunk.last() else { continue };
            // The list is padded to a power of two with its last name (IN is a set, so the
            // repeats change nothing), so a few statement texts serve every length.
            let binds = chunk.len().next_power_of_two();
            // The IN list is "$2, $3, …": placeholders only, every name is a bound argument.
            let placeholders: Vec<String> = (2..binds + 2).map(|i| format!("${i}")).collect();
            let text = format!(
                "{}{})",
                sql::OBJECTS_BY_NAMES_PREFIX,
                placeholders.join(", ")
            );
            let mut query = sqlx::query_as::<_, MemberDataRow>(AssertSqlSafe(text))
                .persistent(binds <= MULTIGET_PREPARED)
                .bind(collection.0);
            for name in chunk.iter().chain(std::iter::repeat_n(last, binds - chunk.len())) {
                query = query.bind(name);
            }
            for row in query.fetch_all(&mut *self.reader().await?).await? {
                found.push(MemberData { member: row.listed.into(), calendar: row.calendar, data: row.data });
            }
        }
        found.sort_by(|a, b| a.member.name.cmp(&b.member.name));
        // A name asked for twice is returned once.
        found.dedup_by(|a, b| a.member.name == b.member.name);
        Ok(found)
    }

    async fn list_objects(&self, collection: CollectionId) -> StoreResult<Vec<ObjectMeta>> {
        let rows: Vec<ObjectMetaRow> = sqlx::query_as(sql::LIST_OBJECTS)
            .bind(collection.0)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        collect(rows)
    }

    async fn list_members(&self, collection: CollectionId, visit: &mut MemberVisitor<'_>) -> StoreResult<usize> {
        let mut conn = self.reader().await?;
        let mut rows = sqlx::query_as::<_, ListedRow>(sql::LIST_MEMBERS)
            .bind(collection.0)
            .fetch(&mut *conn);
        let mut visited = 0;
        while let Some(row) = rows.try_next().await? {
            visit(row.into())?;
            visited += 1;
        }
        Ok(visited)
    }

    async fn member_count(&self, collection: CollectionId) -> StoreResult<usize> {
        let count: i64 = sqlx::query_scalar(sql::MEMBER_COUNT)
            .bind(collection.0)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        usize::try_from(count).map_err(|_| corrupt(format!("collection {}: {count} members", collection.0)))
    }

    async fn list_objects_with_data(
        &self,
        collection: CollectionId,
    ) -> StoreResult<Vec<StoredObject>> {
        let rows: Vec<ObjectRow> = sqlx::query_as(sql::LIST_OBJECTS_WITH_DATA)
            .bind(collection.0)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        collect(rows)
    }

    async fn objects_in_range(
        &self,
        collection: CollectionId,
        component: Option<ComponentKind>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> StoreResult<Vec<Candidate>> {
        // An open side becomes the widest bound, so one statement (and one index range) serves
        // every combination.
        let rows: Vec<CandidateRow> = sqlx::query_as(sql::OBJECTS_IN_RANGE)
            .bind(collection.0)
            .bind(start.unwrap_or(i64::MIN))
            .bind(end.unwrap_or(i64::MAX))
            .bind(component.map(ComponentKind::as_str))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        collect(rows)
    }

    async fn put_object(
        &self,
        collection: CollectionId,
        object: NewObject,
        expect: Expect,
    ) -> StoreResult<PutOutcome> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let bumped = bump_seq(&mut tx, collection, now).await?;
        let cal = object.calendar.as_ref();
        let checks: PutChecksRow = sqlx::query_as(sql::PUT_CHECKS)
            .bind(collection.0)
            .bind(&object.name)
            .bind(format!("{}/{}", bumped.path, object.name))
            .bind(cal.map(|c| c.uid.as_str()))
            .fetch_one(&mut *tx)
            .await?;
        let existed = checks.etag.is_some();
        // The same order of refusals as the separate checks had: precondition, name, UID.
        if !expect_holds(&expect, checks.etag.as_deref()) {
            return Err(StoreError::PreconditionFailed);
        }
        if checks.child {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(existing_name) = checks.uid_holder {
            return Err(StoreError::UidConflict { existing_name });
        }
        // RFC 4791 §5.3.2.1: an object may not be overwritten by one with a different UID.
        if let (Some(old), Some(new)) = (&checks.uid, cal.map(|c| &c.uid))
            && old != new
        {
            return Err(StoreError::UidReplaced { name: object.name });
        }
        let statement = if existed {
            // In place, so the object keeps its id, created_at and dead properties.
            sql::UPDATE_OBJECT
        } else {
            sql::INSERT_OBJECT
        };
        let size = i64::try_from(object.data.len()).unwrap_or(i64::MAX);
        let row: ObjectMetaRow = sqlx::query_as(statement)
            .bind(collection.0)
            .bind(&object.name)
            .bind(&object.data)
            .bind(&object.etag)
            .bind(&object.content_type)
            .bind(size)
            .bind(cal.map(|c| c.uid.as_str()))
            .bind(cal.map(|c| c.component.as_str()))
            .bind(cal.and_then(|c| c.first_start))
            .bind(cal.and_then(|c| c.last_end))
            .bind(now)
            .bind(bumped.sync_seq)
            .bind(object.timeline.as_ref().map(|t| t.encoded.as_slice()))
            .bind(object.timeline.as_ref().and_then(|t| t.until))
            .fetch_one(&mut *tx)
            .await?;
        if checks.tombstone {
            clear_tombstone(&mut tx, collection, &object.name).await?;
        }
        add_bytes(&mut tx, collection, size - checks.size.unwrap_or(0)).await?;
        let meta = ObjectMeta::try_from(row)?;
        tx.commit().await?;
        Ok(PutOutcome {
            created: !existed,
            meta,
        })
    }

    async fn delete_object(
        &self,
        collection: CollectionId,
        name: &str,
        expect: Expect,
    ) -> StoreResult<()> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let bumped = bump_seq(&mut tx, collection, now).await?;
        // A missing target is 404 whatever the conditions say (RFC 7232 §5: failures take
        // precedence over preconditions).
        let existing = existing_object(&mut tx, collection, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !expect_holds(&expect, Some(&existing.etag)) {
            return Err(StoreError::PreconditionFailed);
        }
        sqlx::query(sql::DELETE_OBJECT)
            .bind(existing.id)
            .execute(&mut *tx)
            .await?;
        add_bytes(&mut tx, collection, -existing.size).await?;
        write_tombstone(&mut tx, collection, name, bumped.sync_seq, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn transfer_object(
        &self,
        source: CollectionId,
        name: &str,
        dest: CollectionId,
        dest_name: &str,
        overwrite: bool,
        keep_source: bool,
    ) -> StoreResult<bool> {
        let now = now();
        if source == dest && name == dest_name {
            // Onto itself: nothing to copy or move (the DAV layer answers 403 before getting
            // here). Report it like any other existing target, without touching the seq.
            return match self.object_meta(source, name).await? {
                None => Err(StoreError::NotFound),
                Some(_) if !overwrite => Err(StoreError::PreconditionFailed),
                Some(_) => Ok(false),
            };
        }
        let mut tx = self.begin_write().await?;
        // A COPY changes only the destination; a MOVE changes both. Lock in id order so that
        // two MOVEs in opposite directions cannot deadlock.
        let (source_seq, dest_bump) = if keep_source || source == dest {
            let dest_bump = bump_seq(&mut tx, dest, now).await?;
            (dest_bump.sync_seq, dest_bump)
        } else if source < dest {
            let s = bump_seq(&mut tx, source, now).await?;
            (s.sync_seq, bump_seq(&mut tx, dest, now).await?)
        } else {
            let d = bump_seq(&mut tx, dest, now).await?;
            (bump_seq(&mut tx, source, now).await?.sync_seq, d)
        };
        let src = existing_object(&mut tx, source, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        // A member name is an object or a child collection; either one is "the destination".
        let child_path = format!("{}/{dest_name}", dest_bump.path);
        let child: Option<i64> = sqlx::query_scalar(sql::CHILD_COLLECTION_EXISTS)
            .bind(dest.0)
            .bind(&child_path)
            .fetch_optional(&mut *tx)
            .await?;
        let target = existing_object(&mut tx, dest, dest_name).await?;
        if (child.is_some() || target.is_some()) && !overwrite {
            return Err(StoreError::PreconditionFailed);
        }
        // RFC 4791 §5.3.2.1: Overwrite: T may not replace an object with one of another UID.
        if let Some(ExistingRow { uid: Some(old), .. }) = &target
            && src.uid.as_ref().is_some_and(|new| new != old)
        {
            return Err(StoreError::UidReplaced { name: dest_name.to_owned() });
        }
        // Overwrite: the target goes first, dead properties included (RFC 4918 §9.8.4: as a
        // DELETE with Depth: infinity, so a collection goes with everything below it).
        if let Some(child) = child {
            let source_path: String = sqlx::query_scalar(sql::COLLECTION_PATH)
                .bind(source.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            // Deleting the collection the source lives in would take the source with it.
            if source_path == child_path || is_below(&source_path, &child_path) {
                return Err(StoreError::Overlap);
            }
            sqlx::query(sql::DELETE_COLLECTION)
                .bind(child)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(target) = &target {
            sqlx::query(sql::DELETE_OBJECT)
                .bind(target.id)
                .execute(&mut *tx)
                .await?;
            add_bytes(&mut tx, dest, -target.size).await?;
        }
        if let Some(uid) = &src.uid {
            // A moved object does not conflict with itself; a copy does, even in its own
            // collection.
            let itself = (!keep_source).then_some(ObjectId(src.id));
            check_uid_free(&mut tx, dest, uid, itself).await?;
        }
        if keep_source {
            // The source is not locked by a COPY: gone meanwhile, it is simply not found.
            // The size of the row actually copied: the source is not locked, so it counts, not
            // what was read a statement earlier.
            let (copy, copied_size): (i64, i64) = sqlx::query_as(sql::COPY_OBJECT)
                .bind(src.id)
                .bind(dest.0)
                .bind(dest_name)
                .bind(now)
                .bind(dest_bump.sync_seq)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            sqlx::query(sql::COPY_OBJECT_PROPS)
                .bind(src.id)
                .bind(copy)
                .execute(&mut *tx)
                .await?;
            add_bytes(&mut tx, dest, copied_size).await?;
        } else {
            // The row itself moves, keeping its id, timestamps and dead properties.
            sqlx::query(sql::MOVE_OBJECT)
                .bind(src.id)
                .bind(dest.0)
                .bind(dest_name)
                .bind(dest_bump.sync_seq)
                .execute(&mut *tx)
                .await?;
            write_tombstone(&mut tx, source, name, source_seq, now).await?;
            if source != dest {
                // Both rows are locked by the bumps above.
                add_bytes(&mut tx, source, -src.size).await?;
                add_bytes(&mut tx, dest, src.size).await?;
            }
        }
        clear_tombstone(&mut tx, dest, dest_name).await?;
        tx.commit().await?;
        Ok(target.is_none() && child.is_none())
    }

    async fn object_dead_props(&self, id: ObjectId) -> StoreResult<Vec<DeadProp>> {
        let rows: Vec<DeadPropRow> = sqlx::query_as(sql::OBJECT_PROPS)
            .bind(id.0)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows.into_iter().map(DeadProp::from).collect())
    }

    async fn patch_object_props(
        &self,
        id: ObjectId,
        set: Vec<DeadProp>,
        remove: Vec<(String, String)>,
    ) -> StoreResult<()> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let collection: i64 = sqlx::query_scalar(sql::OBJECT_COLLECTION)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        // A property change is a member change for sync-collection (RFC 6578 §3.5.1 reports
        // members whose properties changed), so it takes the seq like any other.
        let bumped = bump_seq(&mut tx, CollectionId(collection), now).await?;
        // Re-checked under the lock: the object may have moved or gone since the lookup.
        let stamped = sqlx::query(sql::STAMP_OBJECT)
            .bind(id.0)
            .bind(collection)
            .bind(bumped.sync_seq)
            .execute(&mut *tx)
            .await?;
        if stamped.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        patch_dead_props(
            &mut tx,
            sql::UPSERT_OBJECT_PROP,
            sql::DELETE_OBJECT_PROP,
            id.0,
            &set,
            &remove,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl SyncStore for Engine {
    async fn changes_since(
        &self,
        collection: CollectionId,
        since: Option<i64>,
        limit: Option<usize>,
    ) -> StoreResult<SyncDelta> {
        // One statement, so one snapshot, and one round trip (on SQLite each statement is a
        // hand-off to the connection's thread). It reads the collection's seq S and bounds both
        // parts by it; see DELTA_SINCE.
        //
        // A zero limit could never make progress; treat it as one.
        let limit = limit.map(|l| l.max(1));
        // One row more than asked tells whether the delta is complete.
        let cap = limit.map_or(i64::MAX, |l| i64::try_from(l).map_or(i64::MAX, |l| l + 1));
        // An initial sync lists every live member (all seqs are > -1) and no tombstones.
        let Some(n) = since else {
            let rows: Vec<MembersRow> = sqlx::query_as(sql::MEMBERS_SINCE)
                .bind(collection.0)
                .bind(-1_i64)
                .bind(cap)
                .fetch_all(&mut *self.reader().await?)
                .await?;
            let state_seq = rows.first().ok_or(StoreError::NotFound)?.state_seq;
            let mut changed = Vec::with_capacity(rows.len());
            for row in rows {
                changed.extend(row.object.into_meta(collection)?);
            }
            return Ok(finish_delta(changed, Vec::new(), state_seq, limit));
        };
        let rows: Vec<DeltaRow> = sqlx::query_as(sql::DELTA_SINCE)
            .bind(collection.0)
            .bind(n)
            .bind(cap)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let (state_seq, floor) = rows
            .iter()
            .find(|r| r.part == 0)
            .and_then(|r| r.state_seq.zip(r.token_floor))
            .ok_or(StoreError::NotFound)?;
        if n > state_seq || n < floor {
            return Err(StoreError::InvalidSyncToken);
        }
        let mut changed = Vec::with_capacity(rows.len());
        let mut removed = Vec::new();
        for row in rows {
            if row.part == 0 {
                changed.extend(row.object.into_meta(collection)?);
            } else if let (Some(name), Some(sync_seq)) = (row.t_name, row.t_seq) {
                removed.push((name, sync_seq));
            }
        }
        Ok(finish_delta(changed, removed, state_seq, limit))
    }

    async fn prune_tombstones(&self, before: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let collections: Vec<i64> = sqlx::query_scalar(sql::COLLECTIONS_TO_PRUNE)
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
        let mut pruned: u64 = 0;
        // Collection lock first, in id order, as every writer does: a PUT holds its collection
        // while it clears a tombstone, so deleting tombstones before locking could deadlock
        // with it. Under the lock no tombstone of the collection can appear unaccounted, and
        // the floor is raised from exactly the rows deleted.
        for collection in collections {
            sqlx::query(sql::LOCK_COLLECTION)
                .bind(collection)
                .execute(&mut *tx)
                .await?;
            let seqs: Vec<i64> = sqlx::query_scalar(sql::PRUNE_TOMBSTONES)
                .bind(collection)
                .bind(before)
                .fetch_all(&mut *tx)
                .await?;
            if let Some(floor) = seqs.iter().max() {
                sqlx::query(sql::RAISE_FLOOR)
                    .bind(collection)
                    .bind(floor)
                    .execute(&mut *tx)
                    .await?;
            }
            pruned += u64::try_from(seqs.len()).unwrap_or(u64::MAX);
        }
        tx.commit().await?;
        Ok(pruned)
    }

    async fn timelines_due(&self, before: Timestamp, limit: u32) -> StoreResult<Vec<StoredObject>> {
        let rows: Vec<ObjectRow> = sqlx::query_as(sql::TIMELINES_DUE)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        collect(rows)
    }

    async fn set_timeline(&self, id: ObjectId, etag: &str, timeline: Option<Timeline>) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::SET_TIMELINE)
            .bind(id.0)
            .bind(etag)
            .bind(timeline.as_ref().map(|t| t.encoded.as_slice()))
            .bind(timeline.as_ref().and_then(|t| t.until))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(seq: i64) -> SyncEntry {
        SyncEntry::Changed(ObjectMeta {
            id: ObjectId(seq),
            collection: CollectionId(1),
            name: format!("{seq}.ics"),
            etag: String::new(),
            content_type: String::new(),
            size: 0,
            calendar: None,
            created_at: 0,
            modified_at: 0,
            sync_seq: seq,
        })
    }

    fn removed(seq: i64) -> SyncEntry {
        SyncEntry::Removed {
            name: format!("gone-{seq}"),
            seq,
        }
    }

    fn seqs(entries: &[SyncEntry]) -> Vec<i64> {
        entries.iter().map(SyncEntry::seq).collect()
    }

    #[test]
    fn cut_keeps_whole_seq_groups() {
        let (kept, truncated) =
            cut_at_limit(vec![changed(1), changed(2), removed(2), changed(3)], 2);
        assert_eq!(seqs(&kept), [1]);
        assert!(truncated);

        let (kept, truncated) = cut_at_limit(vec![changed(2), removed(2), changed(3)], 1);
        assert_eq!(seqs(&kept), [2, 2]);
        assert!(truncated);

        let (kept, truncated) = cut_at_limit(vec![changed(2), removed(2)], 1);
        assert_eq!(seqs(&kept), [2, 2]);
        assert!(!truncated);

        let (kept, truncated) = cut_at_limit(vec![changed(1), changed(2)], 2);
        assert_eq!(seqs(&kept), [1, 2]);
        assert!(!truncated);
    }

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
