//! ShareStore: calendars shared between users (migration 0010, decision 0023). A sharee's view
//! of a shared collection is the owner's collection row with the share's segment as its path,
//! the sharee's per-user properties laid over the owner's, and the grant.

use sqlx::FromRow;

use super::collections::CollectionRow;
use crate::store::retry::commit_failed;
use super::{Db, Engine, collect, corrupt};
use crate::store::{
    Access, Collection, CollectionId, Share, ShareGrant, ShareProps, ShareStore, StoreError, StoreResult, Timestamp, UserId,
};

/// This capability's SQL, shared by both engines.
mod sql {
    /// One share with its collection's owner and path and its sharee, as `ShareRow` reads it.
    macro_rules! share_select {
        () => {
            "SELECT s.id, s.collection_id, o.name AS owner_name, c.path, s.sharee_id, \
             u.name AS sharee_name, u.email AS sharee_email, s.access, s.segment, s.created_at \
             FROM shares s JOIN collections c ON c.id = s.collection_id \
             JOIN users o ON o.id = c.owner_id JOIN users u ON u.id = s.sharee_id "
        };
    }
    /// The owner's collection row, the share's columns (`s_`) and the owner (`o_`).
    macro_rules! view_select {
        () => {
            concat!(
                "SELECT ",
                c_collection_cols!(),
                ", s.id AS s_id, s.access AS s_access, s.segment AS s_segment, \
                 s.displayname AS s_displayname, s.color AS s_color, \
                 s.calendar_order AS s_calendar_order, s.transparent AS s_transparent, \
                 o.name AS o_name, o.email AS o_email \
                 FROM shares s JOIN collections c ON c.id = s.collection_id \
                 JOIN users o ON o.id = c.owner_id "
            )
        };
    }
    /// Inserts the share, or changes the access of the one that exists.
    pub const UPSERT: &str = "INSERT INTO shares (collection_id, sharee_id, segment, access, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (collection_id, sharee_id) DO UPDATE SET access = excluded.access \
         RETURNING id, segment = $3";
    pub const BY_ID: &str = concat!(share_select!(), "WHERE s.id = $1");
    pub const DELETE: &str = "DELETE FROM shares WHERE collection_id = $1 AND sharee_id = $2";
    pub const BY_OWNER: &str = concat!(share_select!(), "WHERE c.owner_id = $1 ORDER BY c.path, u.name");
    pub const OF_COLLECTION: &str = concat!(share_select!(), "WHERE s.collection_id = $1 ORDER BY u.name");
    pub const TO_SHAREE: &str = concat!(share_select!(), "WHERE s.sharee_id = $1 ORDER BY s.segment");
    pub const VIEWS: &str = concat!(view_select!(), "WHERE s.sharee_id = $1 ORDER BY s.segment");
    pub const VIEW: &str = concat!(view_select!(), "WHERE s.sharee_id = $1 AND s.segment = $2");
    pub const SET_PROPS: &str = "UPDATE shares SET displayname = $2, color = $3, calendar_order = $4, \
         transparent = $5 WHERE id = $1";
}

struct ShareRow {
    id: i64,
    collection_id: i64,
    owner_name: String,
    path: String,
    sharee_id: i64,
    sharee_name: String,
    sharee_email: Option<String>,
    access: String,
    segment: String,
    created_at: i64,
}
from_row!(ShareRow { id, collection_id, owner_name, path, sharee_id, sharee_name, sharee_email, access, segment, created_at });

fn access(id: i64, s: &str) -> StoreResult<Access> {
    Access::parse(s).ok_or_else(|| corrupt(format!("share {id}: access {s:?}")))
}

impl TryFrom<ShareRow> for Share {
    type Error = StoreError;

    fn try_from(r: ShareRow) -> StoreResult<Self> {
        Ok(Share {
            access: access(r.id, &r.access)?,
            id: r.id,
            collection: CollectionId(r.collection_id),
            owner_name: r.owner_name,
            path: r.path,
            sharee: UserId(r.sharee_id),
            sharee_name: r.sharee_name,
            sharee_email: r.sharee_email,
            segment: r.segment,
            created_at: r.created_at,
        })
    }
}

struct ViewRow {
    collection: CollectionRow,
    s_id: i64,
    s_access: String,
    s_segment: String,
    s_displayname: Option<String>,
    s_color: Option<String>,
    s_calendar_order: Option<String>,
    s_transparent: Option<i64>,
    o_name: String,
    o_email: Option<String>,
}
from_row!(ViewRow { s_id, s_access, s_segment, s_displayname, s_color, s_calendar_order, s_transparent, o_name, o_email } flatten { collection });

impl TryFrom<ViewRow> for Collection {
    type Error = StoreError;

    fn try_from(r: ViewRow) -> StoreResult<Self> {
        let mut c = Collection::try_from(r.collection)?;
        let grant = ShareGrant {
            id: r.s_id,
            access: access(r.s_id, &r.s_access)?,
            owner_name: r.o_name,
            owner_email: r.o_email,
            owner_path: std::mem::replace(&mut c.path, r.s_segment),
            per_user: ShareProps {
                displayname: r.s_displayname,
                color: r.s_color,
                order: r.s_calendar_order,
                transparent: r.s_transparent.map(|t| t != 0),
            },
        };
        // caldav-sharing §5.5.3: the sharee's own values where they set one.
        let (mine, p) = (&grant.per_user, &mut c.props);
        p.displayname = mine.displayname.clone().or(p.displayname.take());
        p.color = mine.color.clone().or(p.color.take());
        p.order = mine.order.clone().or(p.order.take());
        p.transparent = mine.transparent.unwrap_or(p.transparent);
        c.share = Some(grant);
        Ok(c)
    }
}

impl ShareStore for Engine {
    async fn put_share(&self, collection: CollectionId, sharee: UserId, access: Access, segment: &str, now: Timestamp) -> StoreResult<(Share, bool)> {
        let mut tx = self.begin_write().await?;
        // `segment = $3`: the segment asked for was stored, so the share is new (an existing
        // one keeps its segment, which clients have bookmarked).
        let (id, created): (i64, bool) = sqlx::query_as(sql::UPSERT)
            .bind(collection.0)
            .bind(sharee.0)
            .bind(segment)
            .bind(access.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let row: ShareRow = sqlx::query_as(sql::BY_ID).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok((Share::try_from(row)?, created))
    }

    async fn delete_share(&self, collection: CollectionId, sharee: UserId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::DELETE).bind(collection.0).bind(sharee.0).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() > 0)
    }

    async fn shares_by_owner(&self, owner: UserId) -> StoreResult<Vec<Share>> {
        let rows: Vec<ShareRow> = sqlx::query_as(sql::BY_OWNER).bind(owner.0).fetch_all(&mut *self.reader().await?).await?;
        collect(rows)
    }

    async fn shares_of(&self, collection: CollectionId) -> StoreResult<Vec<Share>> {
        let rows: Vec<ShareRow> =
            sqlx::query_as(sql::OF_COLLECTION).bind(collection.0).fetch_all(&mut *self.reader().await?).await?;
        collect(rows)
    }

    async fn shares_to(&self, sharee: UserId) -> StoreResult<Vec<Share>> {
        let rows: Vec<ShareRow> = sqlx::query_as(sql::TO_SHAREE).bind(sharee.0).fetch_all(&mut *self.reader().await?).await?;
        collect(rows)
    }

    async fn shared_views(&self, sharee: UserId) -> StoreResult<Vec<Collection>> {
        let rows: Vec<ViewRow> = sqlx::query_as(sql::VIEWS).bind(sharee.0).fetch_all(&mut *self.reader().await?).await?;
        collect(rows)
    }

    async fn shared_view(&self, sharee: UserId, segment: &str) -> StoreResult<Option<Collection>> {
        let row: Option<ViewRow> =
            sqlx::query_as(sql::VIEW).bind(sharee.0).bind(segment).fetch_optional(&mut *self.reader().await?).await?;
        row.map(Collection::try_from).transpose()
    }

    async fn set_share_props(&self, id: i64, props: ShareProps) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::SET_PROPS)
            .bind(id)
            .bind(&props.displayname)
            .bind(&props.color)
            .bind(&props.order)
            .bind(props.transparent.map(i64::from))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }
}
