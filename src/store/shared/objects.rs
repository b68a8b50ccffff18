//! Objects, one at a time: their SQL, rows, helpers and `impl ObjectStore` (listings are in
//! `listing.rs`, COPY and MOVE in `transfer.rs`).

use sqlx::FromRow;

use super::collections::CollectionRow;
use super::dead_props::{self, DeadPropRow, patch_dead_props};
use super::put::{create_checked, put_checked, put_checks};
use super::sync::write_tombstone;
use crate::store::retry::commit_failed;
use super::{Conn, Db, Engine, bump_seq, corrupt, expect_holds, listing, now, transfer};
use crate::store::{
    CalendarIndex, Candidate, Collection, CollectionId, ComponentKind, DeadProp, Expect, Member, MemberData, MemberVisitor,
    NewObject, ObjectId, ObjectMeta, ObjectStore, PutOutcome, StoreError, StoreResult, StoredObject, Timestamp, UserId,
};

/// This capability's SQL, shared by both engines.
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
    pub const DELETE_OBJECT: &str = "DELETE FROM objects WHERE id = $1";
    pub const OBJECT_COLLECTION: &str = "SELECT collection_id FROM objects WHERE id = $1";
    pub const STAMP_OBJECT: &str =
        "UPDATE objects SET sync_seq = $3 WHERE id = $1 AND collection_id = $2";
    /// Moves a collection's byte counter by $2; run by every object write, after the
    /// transaction has locked that collection's row.
    pub const ADD_BYTES: &str = "UPDATE collections SET used_bytes = used_bytes + $2 WHERE id = $1";
}

pub(super) struct ObjectMetaRow {
    pub(super) id: i64,
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

/// The row INSERT_OBJECT wrote as `id`: the values it was bound.
pub(super) fn inserted_row(id: i64, collection: CollectionId, seq: i64, object: &NewObject, now: Timestamp) -> ObjectMetaRow {
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

/// `inserted_row` as the object's metadata (PostgreSQL's batched creations, postgres.rs).
#[allow(dead_code)] // Only the PostgreSQL engine's compile of this module calls it.
pub(in super::super) fn inserted_meta(id: i64, collection: CollectionId, seq: i64, object: &NewObject, now: Timestamp) -> StoreResult<ObjectMeta> {
    ObjectMeta::try_from(inserted_row(id, collection, seq, object, now))
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
        // A creation (If-None-Match: *, as clients create) is the engine's: PostgreSQL batches
        // a calendar's waiting creations (pg_creations.rs), SQLite writes it as any PUT.
        if expect == Expect::Absent {
            return self.create(collection, object, now).await;
        }
        self.put_one(collection, object, expect, now).await
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

impl Engine {
    /// One PUT written alone at `now`: begun and bumped, checked, written and committed.
    pub(crate) async fn put_one(&self, collection: CollectionId, object: NewObject, expect: Expect, now: Timestamp) -> StoreResult<PutOutcome> {
        // A creation either adds exactly its size or fails and rolls back: its bytes go into
        // the bump, one statement fewer per PUT.
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
}
