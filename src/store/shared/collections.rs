//! Collections: their SQL, row, path helpers, `insert_collection` (MKCOL, MKCALENDAR and a new
//! user's home) and `impl CollectionStore` (COPY and MOVE are in `transfer.rs`).

use sqlx::FromRow;

use super::dead_props::{self, DeadPropRow, patch_dead_props};
use super::objects::existing_object;
use crate::store::retry::commit_failed;
use super::{Conn, Db, Engine, collect, corrupt, now, transfer, unique_is_already_exists};
use crate::store::{
    Collection, CollectionId, CollectionKind, CollectionPatch, CollectionProps, CollectionStore, CollectionTransfer,
    ComponentSet, DeadProp, NewCollection, StoreError, StoreResult, Timestamp, UserId,
};

/// This capability's SQL, shared by both engines.
pub mod sql {
    pub const INSERT_COLLECTION: &str = concat!(
        "INSERT INTO collections (owner_id, parent_id, path, kind, displayname, description, \
         timezone, color, calendar_order, components, created_at, modified_at, role, transparent, \
         default_calendar_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14) RETURNING ",
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
    pub const TOUCH_COLLECTION: &str =
        "UPDATE collections SET modified_at = $2 WHERE id = $1 RETURNING id";
    pub const SET_COLLECTION_PROPS: &str = "UPDATE collections SET displayname = $2, \
         description = $3, timezone = $4, color = $5, calendar_order = $6, components = $7, \
         transparent = $8, default_calendar_id = $9 WHERE id = $1";
    pub const DELETE_COLLECTION: &str = "DELETE FROM collections WHERE id = $1";
    pub const SUBTREE_BYTES: &str = "SELECT CAST(COALESCE(SUM(o.size), 0) AS BIGINT) \
         FROM objects o JOIN collections c ON c.id = o.collection_id \
         WHERE c.owner_id = $1 AND (c.path = $2 OR substr(c.path, 1, $4) = $3)";
}

pub(super) struct CollectionRow {
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
    role: Option<String>,
    transparent: i64,
    default_calendar_id: Option<i64>,
}
from_row!(CollectionRow { id, owner_id, parent_id, path, kind, displayname, description, timezone, color, calendar_order, components, sync_seq, created_at, modified_at, role, transparent, default_calendar_id });

impl TryFrom<CollectionRow> for Collection {
    type Error = StoreError;

    fn try_from(r: CollectionRow) -> StoreResult<Self> {
        let kind = match (r.kind.as_str(), r.role.as_deref()) {
            ("calendar", None) => CollectionKind::Calendar,
            ("plain", None) => CollectionKind::Plain,
            ("plain", Some("inbox")) => CollectionKind::Inbox,
            ("plain", Some("outbox")) => CollectionKind::Outbox,
            (kind, role) => return Err(corrupt(format!("collection {}: kind {kind:?}, role {role:?}", r.id))),
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
                transparent: r.transparent != 0,
                default_calendar: r.default_calendar_id.map(CollectionId),
            },
            sync_seq: r.sync_seq,
            created_at: r.created_at,
            modified_at: r.modified_at,
            share: None,
        })
    }
}

/// The `kind` column: the scheduling boxes are plain collections with a `role`.
fn kind_str(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "calendar",
        CollectionKind::Plain | CollectionKind::Inbox | CollectionKind::Outbox => "plain",
    }
}

fn role_str(kind: CollectionKind) -> Option<&'static str> {
    match kind {
        CollectionKind::Inbox => Some("inbox"),
        CollectionKind::Outbox => Some("outbox"),
        CollectionKind::Calendar | CollectionKind::Plain => None,
    }
}

struct ParentRow {
    owner_id: i64,
    path: String,
}
from_row!(ParentRow { owner_id, path });

/// `path` with a '/' appended and its length in characters: the arguments of the `substr`
/// prefix tests that find what lies below `path`.
pub(super) fn below(path: &str) -> (String, i32) {
    let prefix = format!("{path}/");
    let chars = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    (prefix, chars)
}

/// Whether `path` lies strictly below `ancestor` (both below the same home).
pub(super) fn is_below(path: &str, ancestor: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

pub(super) async fn collection_in(conn: &mut Conn, id: CollectionId) -> StoreResult<Option<Collection>> {
    let row: Option<CollectionRow> = sqlx::query_as(sql::COLLECTION_BY_ID)
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.map(Collection::try_from).transpose()
}

/// Inserts one collection after checking that its path continues its parent's (by one non-empty
/// segment; NotFound otherwise, as for a missing parent) and that the parent has no object of
/// that name (AlreadyExists, like a taken path).
pub(super) async fn insert_collection(
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
        .bind(role_str(new.kind))
        .bind(i64::from(props.transparent))
        .bind(props.default_calendar.map(|c| c.0))
        .fetch_one(&mut *conn)
        .await
        .map_err(unique_is_already_exists)?;
    let collection = Collection::try_from(row)?;
    patch_dead_props(
        conn,
        dead_props::sql::UPSERT_COLLECTION_PROP,
        dead_props::sql::DELETE_COLLECTION_PROP,
        collection.id.0,
        &new.dead_props,
        &[],
    )
    .await?;
    Ok(collection)
}

impl CollectionStore for Engine {
    async fn create_collection(&self, new: NewCollection) -> StoreResult<Collection> {
        let mut tx = self.begin_write().await?;
        let collection = insert_collection(&mut tx, &new, now()).await?;
        tx.commit().await.map_err(commit_failed)?;
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
                .bind(i64::from(props.transparent))
                .bind(props.default_calendar.map(|c| c.0))
                .execute(&mut *tx)
                .await?;
        }
        patch_dead_props(
            &mut tx,
            dead_props::sql::UPSERT_COLLECTION_PROP,
            dead_props::sql::DELETE_COLLECTION_PROP,
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
        tx.commit().await.map_err(commit_failed)?;
        Ok(collection)
    }

    async fn collection_dead_props(&self, id: CollectionId) -> StoreResult<Vec<DeadProp>> {
        let rows: Vec<DeadPropRow> = sqlx::query_as(dead_props::sql::COLLECTION_PROPS)
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
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }

    async fn transfer_collection(&self, t: CollectionTransfer) -> StoreResult<bool> {
        transfer::transfer_collection(self, t).await
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
