//! Objects, one at a time: their SQL, rows, helpers and `impl ObjectStore` (listings are in
//! `listing.rs`, COPY and MOVE in `transfer.rs`).

use sqlx::FromRow;

use super::collections::CollectionRow;
use super::dead_props::{self, DeadPropRow, patch_dead_props};
use super::sync::{clear_tombstone, write_tombstone};
use crate::store::retry::commit_failed;
use super::{BumpedRow, Conn, Db, Engine, bump_seq, corrupt, expect_holds, listing, now, transfer};
use crate::store::{
    CalendarIndex, Candidate, Collection, CollectionId, ComponentKind, DeadProp, Expect, Member, MemberData, MemberVisitor,
    NewObject, ObjectId, ObjectMeta, ObjectStore, PutOutcome, StoreError, StoreResult, StoredObject, Timestamp, UserId,
};

/// This capability's SQL, shared by both engines.
/// PUT_CHECKS with the child collection's path as `$child` (SQL text).
macro_rules! put_checks {
    ($child:literal) => {
        put_checks!($child, "$4")
    };
    ($child:literal, $uid:literal) => {
        concat!(
            "SELECT e.etag, e.size, e.uid, e.schedule_tag, \
             EXISTS (SELECT 1 FROM collections WHERE parent_id = $1 AND path = ",
            $child,
            ") AS child, \
             (SELECT name FROM objects WHERE collection_id = $1 AND uid = ",
            $uid,
            " AND name <> $2 ORDER BY name LIMIT 1) AS uid_holder, \
             EXISTS (SELECT 1 FROM tombstones WHERE collection_id = $1 AND name = $2) AS tombstone \
             FROM (SELECT 1 AS one) k LEFT JOIN objects e ON e.collection_id = $1 AND e.name = $2"
        )
    };
}

pub mod sql {
    /// A collection by path and its member of one name (LEFT JOIN: the collection without
    /// one). The collection's columns keep their names; the object's are prefixed `o_`.
    /// Also what a write to the member must know next, saving a statement each: whether a
    /// child collection is at `$4` (the member's path: a name is an object or a collection),
    /// whether the owner's home holds any lock row at all (expired ones included, so `false`
    /// is exact: no lock can apply), and the owner's used bytes (USED_BYTES, for the quota).
    pub const MEMBER_META: &str = concat!(
        "SELECT ",
        member_cols!(),
        ", NULL AS o_data, \
         EXISTS (SELECT 1 FROM collections WHERE owner_id = $1 AND path = $4) AS child, \
         EXISTS (SELECT 1 FROM locks WHERE home_id = $1) AS home_locked, \
         (SELECT CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT) FROM collections WHERE owner_id = $1) AS used_bytes \
         FROM collections c LEFT JOIN objects o \
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
    pub const EXISTING_OBJECT: &str =
        "SELECT id, etag, uid, size, schedule_tag FROM objects WHERE collection_id = $1 AND name = $2";
    pub const UID_HOLDER: &str =
        "SELECT name FROM objects WHERE collection_id = $1 AND uid = $2 AND id <> $3";
    /// Everything a PUT must know before it writes, in one statement (each statement is a
    /// thread round trip on SQLite): the object now at `$2` if any, whether a child collection
    /// holds that name (`$3`, its path), which other member holds the UID `$4` (NULL for a
    /// non-calendar resource matches nothing), and whether a tombstone waits to be cleared.
    /// The one-row `k` makes the LEFT JOIN answer a row when the name is free.
    pub const PUT_CHECKS: &str = put_checks!("$3");
    /// SQLite: a PUT's bump (BUMP_SEQ_BYTES, its collection `$1`, time `$5`, bytes `$6`) and
    /// its checks (PUT_CHECKS, `$1`, `$2`, `$4`; the child's path computed, no `$3`) in one
    /// round trip to the writer's thread, behind the opening the writer puts in front
    /// (sqlite.rs `begin_put`). One statement fails the rest: none runs after an error.
    #[allow(dead_code)] // Only the SQLite engine's compile of this module sends it.
    pub const BUMP_AND_PUT_CHECKS: &str = concat!(
        "UPDATE collections SET sync_seq = sync_seq + 1, modified_at = $5, used_bytes = used_bytes + $6 \
         WHERE id = $1 RETURNING sync_seq, path; ",
        put_checks!("(SELECT path FROM collections WHERE id = $1) || '/' || $2")
    );
    /// PostgreSQL, a PUT that creates (If-None-Match: *) in a transaction holding the
    /// collection's row lock: PUT_CHECKS (`$16` the child's path, `$7` the UID) and, when they
    /// allow the creation, INSERT_OBJECT (`$1`…`$15`), in one statement, one round trip fewer.
    /// The checks are exactly the refusals `put_checked` makes of a creation (an object at the
    /// name, a child collection, the UID elsewhere); the snapshot is exact because the lock was
    /// taken by an earlier statement. `inserted_id` is NULL when they refused.
    #[allow(dead_code)] // Only the PostgreSQL engine's compile of this module sends it.
    pub const CREATE_CHECKED: &str = concat!(
        "WITH c AS (",
        put_checks!("$16", "$7"),
        "), i AS (INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, \
         component, first_start, last_end, created_at, modified_at, sync_seq, instances, \
         instances_until, schedule_tag) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15 FROM c \
         WHERE c.etag IS NULL AND NOT c.child AND c.uid_holder IS NULL RETURNING id) \
         SELECT c.*, i.id AS inserted_id FROM c LEFT JOIN i ON true"
    );
    /// Insert and update take the same arguments in the same order, so one binder serves both.
    pub const INSERT_OBJECT: &str = concat!(
        "INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, \
         component, first_start, last_end, created_at, modified_at, sync_seq, instances, \
         instances_until, schedule_tag) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15) RETURNING ",
        object_meta_cols!()
    );
    /// INSERT_OBJECT without RETURNING, for an engine that tells the new row's id otherwise
    /// (`inserted_id`); the other columns are the values bound.
    pub const INSERT_OBJECT_ONLY: &str = "INSERT INTO objects (collection_id, name, data, etag, \
         content_type, size, uid, component, first_start, last_end, created_at, modified_at, \
         sync_seq, instances, instances_until, schedule_tag) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15)";
    pub const UPDATE_OBJECT: &str = concat!(
        "UPDATE objects SET data = $3, etag = $4, content_type = $5, size = $6, uid = $7, \
         component = $8, first_start = $9, last_end = $10, modified_at = $11, sync_seq = $12, \
         instances = $13, instances_until = $14, schedule_tag = $15 \
         WHERE collection_id = $1 AND name = $2 RETURNING ",
        object_meta_cols!()
    );
    pub const DELETE_OBJECT: &str = "DELETE FROM objects WHERE id = $1";
    pub const OBJECT_COLLECTION: &str = "SELECT collection_id FROM objects WHERE id = $1";
    pub const STAMP_OBJECT: &str =
        "UPDATE objects SET sync_seq = $3 WHERE id = $1 AND collection_id = $2";
    /// Moves a collection's byte counter by $2; run by every object write, after the
    /// transaction has locked that collection's row.
    pub const ADD_BYTES: &str = "UPDATE collections SET used_bytes = used_bytes + $2 WHERE id = $1";
}

pub(super) struct ObjectMetaRow {
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
    schedule_tag: Option<String>,
}
from_row!(ObjectMetaRow { id, collection_id, name, etag, content_type, size, uid, component, first_start, last_end, created_at, modified_at, sync_seq, schedule_tag });

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
            schedule_tag: r.schedule_tag,
        })
    }
}

pub(super) struct ObjectRow {
    meta: ObjectMetaRow,
    data: Vec<u8>,
}
from_row!(ObjectRow { data } flatten { meta });

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
pub(super) struct MemberRow {
    collection: CollectionRow,
    object: MaybeObjectMetaRow,
    o_data: Option<Vec<u8>>,
}
from_row!(MemberRow { o_data } flatten { collection, object });

/// A MEMBER_META row: the member row and what a write needs next.
struct MemberMetaRow {
    member: MemberRow,
    child: bool,
    home_locked: bool,
    used_bytes: i64,
}
from_row!(MemberMetaRow { child, home_locked, used_bytes } flatten { member });

impl MemberRow {
    /// The collection, the object's metadata if there is an object, and its bytes if selected.
    pub(super) fn split(self) -> StoreResult<(Collection, Option<ObjectMeta>, Option<Vec<u8>>)> {
        let collection = Collection::try_from(self.collection)?;
        let meta = self.object.into_meta(collection.id)?;
        Ok((collection, meta, self.o_data))
    }
}

/// An object's metadata columns from the nullable side of a LEFT JOIN, prefixed `o_`.
pub(super) struct MaybeObjectMetaRow {
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
    o_schedule_tag: Option<String>,
}
from_row!(MaybeObjectMetaRow { o_id, o_name, o_etag, o_content_type, o_size, o_uid, o_component, o_first_start, o_last_end, o_created_at, o_modified_at, o_sync_seq, o_schedule_tag });

impl MaybeObjectMetaRow {
    /// None when the join found no object.
    pub(super) fn into_meta(self, collection: CollectionId) -> StoreResult<Option<ObjectMeta>> {
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
            schedule_tag: self.o_schedule_tag,
        })?))
    }
}

pub(super) struct ExistingRow {
    pub(super) id: i64,
    pub(super) etag: String,
    pub(super) uid: Option<String>,
    pub(super) size: i64,
    pub(super) schedule_tag: Option<String>,
}
from_row!(ExistingRow { id, etag, uid, size, schedule_tag });

pub(in super::super) struct PutChecksRow {
    /// The ETag and size of the object now at the name; both NULL when there is none.
    etag: Option<String>,
    size: Option<i64>,
    uid: Option<String>,
    schedule_tag: Option<String>,
    child: bool,
    uid_holder: Option<String>,
    tombstone: bool,
}
from_row!(PutChecksRow { etag, size, uid, schedule_tag, child, uid_holder, tombstone });

/// UidConflict if another object (not `except`) in the collection carries `uid`.
pub(super) async fn check_uid_free(
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

pub(super) async fn existing_object(
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
pub(super) async fn add_bytes(conn: &mut Conn, collection: CollectionId, delta: i64) -> StoreResult<()> {
    if delta != 0 {
        sqlx::query(sql::ADD_BYTES)
            .bind(collection.0)
            .bind(delta)
            .execute(conn)
            .await?;
    }
    Ok(())
}

impl Engine {
    /// The collection at `path` joined with its member `name` (MEMBER_META or MEMBER_DATA).
    async fn member_row(&self, query: &'static str, owner: UserId, path: &str, name: &str) -> StoreResult<Option<MemberRow>> {
        Ok(sqlx::query_as(query).bind(owner.0).bind(path).bind(name).fetch_optional(&mut *self.reader().await?).await?)
    }
}

/// A PUT inside a transaction that holds `collection`'s row lock (`bumped`, from `bump_seq`).
/// `counted`: the lock's bump already added this object's size (`bump_seq_bytes`).
pub(super) async fn put_locked(
    conn: &mut Conn,
    collection: CollectionId,
    bumped: &BumpedRow,
    object: NewObject,
    expect: &Expect,
    now: Timestamp,
    counted: bool,
) -> StoreResult<PutOutcome> {
    let checks = put_checks(conn, collection, bumped, &object).await?;
    put_checked(conn, collection, bumped, checks, object, expect, now, counted).await
}

/// What the PUT of `object` must know before it writes (PUT_CHECKS).
pub(in super::super) async fn put_checks(conn: &mut Conn, collection: CollectionId, bumped: &BumpedRow, object: &NewObject) -> StoreResult<PutChecksRow> {
    Ok(sqlx::query_as(sql::PUT_CHECKS)
        .bind(collection.0)
        .bind(&object.name)
        .bind(format!("{}/{}", bumped.path, object.name))
        .bind(object.calendar.as_ref().map(|c| c.uid.as_str()))
        .fetch_one(&mut *conn)
        .await?)
}

/// `put_locked` with its checks read.
#[allow(clippy::too_many_arguments)]
async fn put_checked(
    conn: &mut Conn,
    collection: CollectionId,
    bumped: &BumpedRow,
    checks: PutChecksRow,
    object: NewObject,
    expect: &Expect,
    now: Timestamp,
    counted: bool,
) -> StoreResult<PutOutcome> {
    let cal = object.calendar.as_ref();
    let existed = checks.etag.is_some();
    // The same order of refusals as the separate checks had: precondition, name, UID.
    if !expect_holds(expect, checks.etag.as_deref()) {
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
    // A scheduling object is replaced only by a write that knows it is one (a Schedule-Tag):
    // its attendees must hear of the change (RFC 6638 §3.2), so the caller takes that path.
    if checks.schedule_tag.is_some() && object.schedule_tag.is_none() {
        return Err(StoreError::SchedulingObject);
    }
    let statement = if existed {
        // In place, so the object keeps its id, created_at and dead properties.
        sql::UPDATE_OBJECT
    } else {
        sql::INSERT_OBJECT
    };
    let size = i64::try_from(object.data.len()).unwrap_or(i64::MAX);
    let row = write_row(conn, statement, collection, bumped.sync_seq, &object, now).await?;
    super::alarms::write_slot(conn, row.id, object.alarms, existed, now).await?;
    if checks.tombstone {
        clear_tombstone(conn, collection, &object.name).await?;
    }
    // Counted up front means the new size is in already; only a replaced object's goes out.
    let old = checks.size.unwrap_or(0);
    add_bytes(conn, collection, if counted { -old } else { size - old }).await?;
    Ok(PutOutcome { created: !existed, meta: ObjectMeta::try_from(row)? })
}

/// New objects (inbox messages under names nobody else can have picked, recipients' new
/// copies checked by `new_copy_checks`), each in a collection the transaction holds at the
/// given seq and whose size it has counted: one multi-row INSERT for all of them. A name or
/// UID taken meanwhile fails the statement (UNIQUE). The rows come back in any order; the caller matches them by name.
pub(super) async fn insert_many_locked(conn: &mut Conn, rows: &[(CollectionId, i64, NewObject)], now: Timestamp) -> StoreResult<Vec<ObjectMeta>> {
    const PER_ROW: usize = 15;
    // Placeholders only: "($1, …, $11, $11, $12, …)" per row, the values all bound.
    let values: Vec<String> = (0..rows.len())
        .map(|r| {
            let p = |k: usize| format!("${}", r * PER_ROW + k);
            format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(11), p(12), p(13), p(14), p(15)
            )
        })
        .collect();
    let text = format!(
        "INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, first_start, \
         last_end, created_at, modified_at, sync_seq, instances, instances_until, schedule_tag) VALUES {} RETURNING {}",
        values.join(", "),
        object_meta_cols!()
    );
    let mut query = sqlx::query_as::<_, ObjectMetaRow>(sqlx::AssertSqlSafe(text));
    for (collection, seq, object) in rows {
        let cal = object.calendar.as_ref();
        query = query
            .bind(collection.0)
            .bind(&object.name)
            .bind(&object.data)
            .bind(&object.etag)
            .bind(&object.content_type)
            .bind(i64::try_from(object.data.len()).unwrap_or(i64::MAX))
            .bind(cal.map(|c| c.uid.as_str()))
            .bind(cal.map(|c| c.component.as_str()))
            .bind(cal.and_then(|c| c.first_start))
            .bind(cal.and_then(|c| c.last_end))
            .bind(now)
            .bind(*seq)
            .bind(object.timeline.as_ref().map(|t| t.encoded.as_slice()))
            .bind(object.timeline.as_ref().and_then(|t| t.until))
            .bind(object.schedule_tag.as_deref());
    }
    let metas: Vec<ObjectMeta> = query.fetch_all(&mut *conn).await?.into_iter().map(ObjectMeta::try_from).collect::<StoreResult<_>>()?;
    // New copies with alarms get their schedule rows (matched by collection and name, unique).
    for (collection, _, object) in rows.iter().filter(|(_, _, o)| o.alarms.next_due().is_some()) {
        if let Some(meta) = metas.iter().find(|m| m.collection == *collection && m.name == object.name) {
            super::alarms::write_slot(conn, meta.id.0, object.alarms, false, now).await?;
        }
    }
    Ok(metas)
}

/// Binds a NewObject's values in the order INSERT_OBJECT, INSERT_OBJECT_ONLY and
/// UPDATE_OBJECT take them.
macro_rules! bind_object {
    ($query:expr, $collection:expr, $seq:expr, $object:expr, $now:expr) => {{
        let cal = $object.calendar.as_ref();
        $query
            .bind($collection.0)
            .bind(&$object.name)
            .bind(&$object.data)
            .bind(&$object.etag)
            .bind(&$object.content_type)
            .bind(i64::try_from($object.data.len()).unwrap_or(i64::MAX))
            .bind(cal.map(|c| c.uid.as_str()))
            .bind(cal.map(|c| c.component.as_str()))
            .bind(cal.and_then(|c| c.first_start))
            .bind(cal.and_then(|c| c.last_end))
            .bind($now)
            .bind($seq)
            .bind($object.timeline.as_ref().map(|t| t.encoded.as_slice()))
            .bind($object.timeline.as_ref().and_then(|t| t.until))
            .bind($object.schedule_tag.as_deref())
    }};
}

/// INSERT_OBJECT or UPDATE_OBJECT, which take the same arguments in the same order. Where the
/// engine tells a new row's id without RETURNING (SQLite), the INSERT runs without it and the
/// row is the values bound.
async fn write_row(
    conn: &mut Conn,
    statement: &'static str,
    collection: CollectionId,
    seq: i64,
    object: &NewObject,
    now: Timestamp,
) -> StoreResult<ObjectMetaRow> {
    if statement == sql::INSERT_OBJECT && super::super::insert_without_returning() {
        let done = bind_object!(sqlx::query(sql::INSERT_OBJECT_ONLY), collection, seq, object, now).execute(&mut *conn).await?;
        let id = super::super::inserted_id(&done).ok_or_else(|| corrupt("no id for an inserted object".to_owned()))?;
        return Ok(inserted_row(id, collection, seq, object, now));
    }
    Ok(bind_object!(sqlx::query_as(statement), collection, seq, object, now).fetch_one(&mut *conn).await?)
}

/// The row INSERT_OBJECT wrote as `id`: the values it was bound.
fn inserted_row(id: i64, collection: CollectionId, seq: i64, object: &NewObject, now: Timestamp) -> ObjectMetaRow {
    let cal = object.calendar.as_ref();
    ObjectMetaRow {
        id,
        collection_id: collection.0,
        name: object.name.clone(),
        etag: object.etag.clone(),
        content_type: object.content_type.clone(),
        size: i64::try_from(object.data.len()).unwrap_or(i64::MAX),
        uid: cal.map(|c| c.uid.clone()),
        component: cal.map(|c| c.component.as_str().to_owned()),
        first_start: cal.and_then(|c| c.first_start),
        last_end: cal.and_then(|c| c.last_end),
        created_at: now,
        modified_at: now,
        sync_seq: seq,
        schedule_tag: object.schedule_tag.clone(),
    }
}

/// A CREATE_CHECKED row: the checks, and the new object's id if they allowed it.
struct CreateCheckedRow {
    checks: PutChecksRow,
    inserted_id: Option<i64>,
}
from_row!(CreateCheckedRow { inserted_id } flatten { checks });

/// PostgreSQL's creation in one statement (CREATE_CHECKED), in a transaction that holds
/// `collection`'s row lock at `bumped`. The outcome when it created; the checks when they
/// refused, for `put_checked` to say why.
#[allow(dead_code)] // Only the PostgreSQL engine's compile of this module calls it.
async fn create_checked(
    conn: &mut Conn,
    collection: CollectionId,
    bumped: &BumpedRow,
    object: &NewObject,
    now: Timestamp,
) -> StoreResult<Result<PutOutcome, PutChecksRow>> {
    let row: CreateCheckedRow = bind_object!(sqlx::query_as(sql::CREATE_CHECKED), collection, bumped.sync_seq, object, now)
        .bind(format!("{}/{}", bumped.path, object.name))
        .fetch_one(&mut *conn)
        .await?;
    let Some(id) = row.inserted_id else { return Ok(Err(row.checks)) };
    super::alarms::write_slot(conn, id, object.alarms, false, now).await?;
    if row.checks.tombstone {
        clear_tombstone(conn, collection, &object.name).await?;
    }
    // The bump counted the size already (a creation is `counted`).
    let meta = ObjectMeta::try_from(inserted_row(id, collection, bumped.sync_seq, object, now))?;
    Ok(Ok(PutOutcome { created: true, meta }))
}

/// A DELETE inside a transaction that holds `collection`'s row lock at seq `seq`.
pub(super) async fn delete_locked(
    conn: &mut Conn,
    collection: CollectionId,
    seq: i64,
    name: &str,
    expect: &Expect,
    now: Timestamp,
    scheduling: bool,
) -> StoreResult<()> {
    // A missing target is 404 whatever the conditions say (RFC 7232 §5: failures take
    // precedence over preconditions).
    let existing = existing_object(conn, collection, name).await?.ok_or(StoreError::NotFound)?;
    if !expect_holds(expect, Some(&existing.etag)) {
        return Err(StoreError::PreconditionFailed);
    }
    // Deleting a scheduling object cancels or declines: the caller takes that path (RFC 6638
    // §3.2.3).
    if existing.schedule_tag.is_some() && !scheduling {
        return Err(StoreError::SchedulingObject);
    }
    sqlx::query(sql::DELETE_OBJECT).bind(existing.id).execute(&mut *conn).await?;
    add_bytes(conn, collection, -existing.size).await?;
    write_tombstone(conn, collection, name, seq, now).await
}

impl ObjectStore for Engine {
    async fn member_meta(
        &self,
        owner: UserId,
        path: &str,
        name: &str,
    ) -> StoreResult<Option<Member>> {
        let row: Option<MemberMetaRow> = sqlx::query_as(sql::MEMBER_META)
            .bind(owner.0)
            .bind(path)
            .bind(name)
            .bind(format!("{path}/{name}"))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (collection, object, _) = row.member.split()?;
        Ok(Some(Member { collection, object, child_collection: row.child, home_locked: row.home_locked, used_bytes: row.used_bytes }))
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
        listing::objects_by_names(self, collection, names).await
    }

    async fn list_objects(&self, collection: CollectionId) -> StoreResult<Vec<ObjectMeta>> {
        listing::list_objects(self, collection).await
    }

    async fn list_members(&self, collection: CollectionId, visit: &mut MemberVisitor<'_>) -> StoreResult<usize> {
        listing::list_members(self, collection, visit).await
    }

    async fn member_count(&self, collection: CollectionId) -> StoreResult<usize> {
        listing::member_count(self, collection).await
    }

    async fn list_objects_with_data(
        &self,
        collection: CollectionId,
    ) -> StoreResult<Vec<StoredObject>> {
        listing::list_objects_with_data(self, collection).await
    }

    async fn objects_in_range(
        &self,
        collection: CollectionId,
        component: Option<ComponentKind>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> StoreResult<Vec<Candidate>> {
        listing::objects_in_range(self, collection, component, start, end).await
    }

    async fn put_object(
        &self,
        collection: CollectionId,
        object: NewObject,
        expect: Expect,
    ) -> StoreResult<PutOutcome> {
        let now = now();
        // A creation (If-None-Match: *, as clients create) either adds exactly its size or
        // fails and rolls back: its bytes go into the bump, one statement fewer per PUT.
        let counted = expect == Expect::Absent;
        let bytes = if counted { i64::try_from(object.data.len()).unwrap_or(i64::MAX) } else { 0 };
        // The engine begins and bumps, and SQLite reads the checks, in one round trip.
        let (mut tx, bumped, checks) = self.begin_put(collection, now, bytes, &object).await?;
        let checks = match checks {
            Some(checks) => checks,
            // PostgreSQL: a creation checks and inserts in one statement, anything else checks.
            None if counted => match create_checked(&mut tx, collection, &bumped, &object, now).await? {
                Ok(outcome) => {
                    tx.commit().await.map_err(commit_failed)?;
                    return Ok(outcome);
                }
                Err(checks) => checks,
            },
            None => put_checks(&mut tx, collection, &bumped, &object).await?,
        };
        let outcome = put_checked(&mut tx, collection, &bumped, checks, object, &expect, now, counted).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(outcome)
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
        delete_locked(&mut tx, collection, bumped.sync_seq, name, &expect, now, false).await?;
        tx.commit().await.map_err(commit_failed)?;
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
        transfer::transfer_object(self, source, name, dest, dest_name, overwrite, keep_source).await
    }

    async fn object_dead_props(&self, id: ObjectId) -> StoreResult<Vec<DeadProp>> {
        let rows: Vec<DeadPropRow> = sqlx::query_as(dead_props::sql::OBJECT_PROPS)
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
            dead_props::sql::UPSERT_OBJECT_PROP,
            dead_props::sql::DELETE_OBJECT_PROP,
            id.0,
            &set,
            &remove,
        )
        .await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }
}
