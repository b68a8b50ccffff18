//! COPY and MOVE of collections (with everything below them) and of objects: their SQL and the
//! bodies of `CollectionStore::transfer_collection` and `ObjectStore::transfer_object`.

use super::collections::{self, CollectionRow, below, collection_in, is_below};
use super::objects::{self, add_bytes, check_uid_free, existing_object};
use super::sync::{clear_tombstone, write_tombstone};
use super::{Conn, Engine, bump_seq, collect, corrupt, lock_collections, now, unique_is_already_exists};
use crate::store::retry::commit_failed;
use crate::store::{
    Collection, CollectionId, CollectionTransfer, CollectionTransferKind, ObjectId, ObjectStore, StoreError, StoreResult,
    Timestamp,
};

/// This capability's SQL, shared by both engines.
pub mod sql {
    pub const CHILD_COLLECTION_EXISTS: &str =
        "SELECT id FROM collections WHERE parent_id = $1 AND path = $2";
    pub const COLLECTION_PATH: &str = "SELECT path FROM collections WHERE id = $1";
    /// Collections strictly below a path: `$2` is the path with a '/' appended and `$3` its
    /// length in characters. `substr` rather than `LIKE`, which would read `%` and `_` in a
    /// collection name as wildcards; both engines count characters in `substr` and `length`.
    pub const DESCENDANTS: &str = concat!(
        "SELECT ",
        collection_cols!(),
        " FROM collections WHERE owner_id = $1 AND substr(path, 1, $3) = $2"
    );
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
         modified_at, transparent) SELECT owner_id, $2, $3, kind, displayname, description, \
         timezone, color, calendar_order, components, $4, $4, transparent FROM collections \
         WHERE id = $1 RETURNING id";
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
    pub const COPY_BYTES: &str =
        "UPDATE collections SET used_bytes = (SELECT used_bytes FROM collections WHERE id = $1) WHERE id = $2";
    pub const MOVE_OBJECT: &str =
        "UPDATE objects SET collection_id = $2, name = $3, sync_seq = $4 WHERE id = $1";
    pub const COPY_OBJECT: &str = "INSERT INTO objects (collection_id, name, data, etag, \
         content_type, size, uid, component, first_start, last_end, instances, instances_until, \
         created_at, modified_at, sync_seq, schedule_tag) SELECT $2, $3, data, etag, content_type, \
         size, uid, component, first_start, last_end, instances, instances_until, $4, $4, $5, \
         schedule_tag FROM objects WHERE id = $1 RETURNING id, size";
    pub const COPY_OBJECT_PROPS: &str = "INSERT INTO object_props (object_id, namespace, name, \
         xml) SELECT $2, namespace, name, xml FROM object_props WHERE object_id = $1";
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
        super::alarms::copy_member_slots(conn, from, CollectionId(id), now).await?;
        // The copy holds the same members, so the same bytes (the counter is not copied with
        // the row: a shallow copy has no members).
        sqlx::query(sql::COPY_BYTES).bind(from.0).bind(id).execute(&mut *conn).await?;
    }
    Ok(CollectionId(id))
}

/// `CollectionStore::transfer_collection`.
pub(super) async fn transfer_collection(store: &Engine, t: CollectionTransfer) -> StoreResult<bool> {
    let now = now();
    let mut tx = store.begin_write().await?;
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
    let existing_collection: Option<i64> = sqlx::query_scalar(collections::sql::COLLECTION_ID_BY_PATH)
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
        sqlx::query(collections::sql::DELETE_COLLECTION)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    match (&dest_parent, &existing_object) {
        (Some(parent), Some(object)) => {
            // A member of the parent goes: a change sync-collection reports.
            let bumped = bump_seq(&mut tx, parent.id, now).await?;
            sqlx::query(objects::sql::DELETE_OBJECT)
                .bind(object.id)
                .execute(&mut *tx)
                .await?;
            add_bytes(&mut tx, parent.id, -object.size).await?;
            write_tombstone(&mut tx, parent.id, &t.dest_name, bumped.sync_seq, now).await?;
        }
        (Some(parent), None) => {
            sqlx::query(collections::sql::TOUCH_COLLECTION)
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
                sqlx::query(collections::sql::TOUCH_COLLECTION)
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
    tx.commit().await.map_err(commit_failed)?;
    Ok(!existed)
}

/// `ObjectStore::transfer_object`.
pub(super) async fn transfer_object(
    store: &Engine,
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
        return match store.object_meta(source, name).await? {
            None => Err(StoreError::NotFound),
            Some(_) if !overwrite => Err(StoreError::PreconditionFailed),
            Some(_) => Ok(false),
        };
    }
    let mut tx = store.begin_write().await?;
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
    if let Some(old) = target.as_ref().and_then(|t| t.uid.as_ref())
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
        sqlx::query(collections::sql::DELETE_COLLECTION)
            .bind(child)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(target) = &target {
        sqlx::query(objects::sql::DELETE_OBJECT)
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
        super::alarms::copy_slot(&mut tx, src.id, copy, now).await?;
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
    tx.commit().await.map_err(commit_failed)?;
    Ok(target.is_none() && child.is_none())
}
