//! One object written: a PUT's checks and its INSERT or UPDATE (on PostgreSQL a creation's
//! checks and INSERT in one statement), and the writes scheduling batches share
//! (`insert_many_locked`). `objects.rs` has the rest of the objects' capability and calls these
//! from `put_object`.

use sqlx::FromRow;

use super::objects::{ObjectMetaRow, add_bytes, inserted_row};
use super::sync::clear_tombstone;
use super::{BumpedRow, Conn, Db, corrupt, expect_holds};
use crate::store::{CollectionId, Expect, NewObject, ObjectMeta, PutOutcome, StoreError, StoreResult, Timestamp};

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

/// The PUT's SQL, shared by both engines.
pub mod sql {
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
    /// PostgreSQL, creations (If-None-Match: *) to collection `$1` batched (`pg_creations.rs`,
    /// decision 0038), in a transaction that holds its row lock: one INSERT of them all at
    /// seqs after the collection's in arrival order (`$2`…`$15` are arrays with an element per
    /// creation), skipping any whose name or UID is taken (ON CONFLICT DO NOTHING: the unique
    /// indexes decide, whatever the plan) or whose name a child collection has; then, from
    /// the rows inserted, the collection's bump (its seq to the highest, their bytes), their
    /// alarm schedules and the clearing of their names' tombstones (probed by key as an array:
    /// a plan that reads the calendar's every tombstone could otherwise stay cached). One statement, one round
    /// trip for the batch; the rows that come back are those inserted. A creation skipped
    /// leaves its seq unused, a gap no sync token minds; the caller writes it alone, which
    /// says why it is refused.
    #[allow(dead_code)] // Only the PostgreSQL engine's compile of this module sends it.
    pub const CREATE_BATCH: &str = "WITH r AS (\
         SELECT u.name COLLATE \"C\" AS name, u.data, u.etag, u.content_type, u.size, u.uid, u.component, \
         u.first_start, u.last_end, u.instances, u.instances_until, u.schedule_tag, u.next_due, u.now, u.k \
         FROM unnest($2::text[], $3::bytea[], $4::text[], $5::text[], $6::int8[], $7::text[], $8::text[], \
         $9::int8[], $10::int8[], $11::bytea[], $12::int8[], $13::text[], $14::int8[], $15::int8[]) \
         WITH ORDINALITY AS u(name, data, etag, content_type, size, uid, component, first_start, last_end, \
         instances, instances_until, schedule_tag, next_due, now, k)), \
         s AS (SELECT sync_seq, path FROM collections WHERE id = $1), \
         i AS (INSERT INTO objects (collection_id, name, data, etag, content_type, size, uid, component, \
         first_start, last_end, created_at, modified_at, sync_seq, instances, instances_until, schedule_tag) \
         SELECT $1, r.name, r.data, r.etag, r.content_type, r.size, r.uid, r.component, r.first_start, \
         r.last_end, r.now, r.now, s.sync_seq + r.k, r.instances, r.instances_until, r.schedule_tag \
         FROM r CROSS JOIN s WHERE NOT EXISTS (SELECT 1 FROM collections WHERE parent_id = $1 \
         AND path = s.path || '/' || r.name) ORDER BY r.k \
         ON CONFLICT DO NOTHING RETURNING id, name, sync_seq, size, created_at), \
         b AS (UPDATE collections SET sync_seq = (SELECT max(sync_seq) FROM i), \
         modified_at = (SELECT max(created_at) FROM i), used_bytes = used_bytes + (SELECT sum(size) FROM i) \
         WHERE id = $1 AND EXISTS (SELECT 1 FROM i)), \
         a AS (INSERT INTO alarm_schedule (object_id, next_due, fired_through) \
         SELECT i.id, r.next_due, r.now FROM i JOIN r ON r.name = i.name WHERE r.next_due IS NOT NULL), \
         t AS (DELETE FROM tombstones WHERE collection_id = $1 AND name = ANY (ARRAY(SELECT name FROM i))) \
         SELECT id, name, sync_seq FROM i";
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
}

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
pub(super) async fn put_checked(
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
pub(super) async fn create_checked(
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


