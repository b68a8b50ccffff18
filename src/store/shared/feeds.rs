//! FeedStore: feed links (migration 0009). Every statement joins the link's calendar, whose
//! owner and path a listing shows and whose sync_seq a feed request needs.

use sqlx::FromRow;

use super::collections::CollectionRow;
use super::{Db, Engine};
use crate::feed::{FeedMode, FeedSettings};
use crate::store::retry::commit_failed;
use crate::store::{Collection, FeedId, FeedLink, FeedStore, NewFeedLink, StoreError, StoreResult, Timestamp, UserId};

/// A link's columns, prefixed so they do not collide with the joined collection's.
macro_rules! feed_cols {
    () => {
        "f.id AS feed_id, f.label AS feed_label, f.mode AS feed_mode, f.alarms AS feed_alarms, \
         f.attendees AS feed_attendees, f.expires_at AS feed_expires_at, f.created_at AS feed_created_at, \
         f.last_used_at AS feed_last_used_at, f.previous_until AS feed_previous_until"
    };
}

pub(crate) mod sql {
    pub const INSERT: &str = "INSERT INTO feed_links (collection_id, token_hash, label, mode, alarms, attendees, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    pub const BY_ID: &str = concat!("SELECT ", feed_cols!(), ", ", c_collection_cols!(), " FROM feed_links f JOIN collections c ON c.id = f.collection_id WHERE f.id = $1");
    pub const BY_OWNER: &str = concat!(
        "SELECT ", feed_cols!(), ", ", c_collection_cols!(),
        " FROM feed_links f JOIN collections c ON c.id = f.collection_id WHERE c.owner_id = $1 ORDER BY f.id"
    );
    pub const BY_TOKEN: &str = concat!(
        "SELECT ", feed_cols!(), ", ", c_collection_cols!(),
        " FROM feed_links f JOIN collections c ON c.id = f.collection_id \
         WHERE f.token_hash = $1 OR (f.previous_hash = $1 AND f.previous_until > $2)"
    );
    pub const DELETE: &str = "DELETE FROM feed_links WHERE id = $1";
    pub const ROTATE: &str = "UPDATE feed_links SET previous_hash = token_hash, previous_until = $3, token_hash = $2 WHERE id = $1";
    pub const TOUCH: &str = "UPDATE feed_links SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)";
}

struct FeedRow {
    feed_id: i64,
    feed_label: String,
    feed_mode: String,
    feed_alarms: i64,
    feed_attendees: i64,
    feed_expires_at: Option<i64>,
    feed_created_at: i64,
    feed_last_used_at: Option<i64>,
    feed_previous_until: Option<i64>,
    collection: CollectionRow,
}
from_row!(FeedRow {
    feed_id, feed_label, feed_mode, feed_alarms, feed_attendees, feed_expires_at, feed_created_at, feed_last_used_at, feed_previous_until
} flatten { collection });

impl FeedRow {
    fn into_parts(self) -> StoreResult<(FeedLink, Collection)> {
        let collection = Collection::try_from(self.collection)?;
        let mode = FeedMode::parse(&self.feed_mode)
            .ok_or_else(|| super::corrupt(format!("feed link {}: mode {:?}", self.feed_id, self.feed_mode)))?;
        let link = FeedLink {
            id: FeedId(self.feed_id),
            collection: collection.id,
            owner: collection.owner,
            calendar_path: collection.path.clone(),
            label: self.feed_label,
            settings: FeedSettings { mode, alarms: self.feed_alarms != 0, attendees: self.feed_attendees != 0 },
            expires_at: self.feed_expires_at,
            created_at: self.feed_created_at,
            last_used_at: self.feed_last_used_at,
            previous_until: self.feed_previous_until,
        };
        Ok((link, collection))
    }
}

impl FeedStore for Engine {
    async fn create_feed(&self, new: NewFeedLink) -> StoreResult<FeedLink> {
        let mut tx = self.begin_write().await?;
        let (id,): (i64,) = sqlx::query_as(sql::INSERT)
            .bind(new.collection.0)
            .bind(new.token_hash)
            .bind(new.label)
            .bind(new.settings.mode.as_str())
            .bind(i64::from(new.settings.alarms))
            .bind(i64::from(new.settings.attendees))
            .bind(new.expires_at)
            .bind(new.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match e {
                // The calendar went meanwhile (its row is the foreign key's target).
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound,
                e => StoreError::Database(e),
            })?;
        let row: FeedRow = sqlx::query_as(sql::BY_ID).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(row.into_parts()?.0)
    }

    async fn feeds_of_owner(&self, owner: UserId) -> StoreResult<Vec<FeedLink>> {
        let rows: Vec<FeedRow> = sqlx::query_as(sql::BY_OWNER).bind(owner.0).fetch_all(&mut *self.reader().await?).await?;
        rows.into_iter().map(|r| r.into_parts().map(|(link, _)| link)).collect()
    }

    async fn feed_by_id(&self, id: FeedId) -> StoreResult<Option<FeedLink>> {
        let row: Option<FeedRow> = sqlx::query_as(sql::BY_ID).bind(id.0).fetch_optional(&mut *self.reader().await?).await?;
        row.map(|r| r.into_parts().map(|(link, _)| link)).transpose()
    }

    async fn feed_by_token(&self, hash: &[u8], now: Timestamp) -> StoreResult<Option<(FeedLink, Collection)>> {
        let row: Option<FeedRow> = sqlx::query_as(sql::BY_TOKEN).bind(hash).bind(now).fetch_optional(&mut *self.reader().await?).await?;
        row.map(FeedRow::into_parts).transpose()
    }

    async fn delete_feed(&self, id: FeedId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::DELETE).bind(id.0).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() > 0)
    }

    async fn rotate_feed(&self, id: FeedId, new_hash: Vec<u8>, previous_until: Timestamp) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::ROTATE).bind(id.0).bind(new_hash).bind(previous_until).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_feed(&self, id: FeedId, now: Timestamp, since: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::TOUCH).bind(id.0).bind(now).bind(since).execute(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(())
    }
}
