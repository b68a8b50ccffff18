//! RsvpStore: the RSVP signing keys (migration 0007).

use super::Engine;
use crate::store::retry::commit_failed;
use crate::store::{RsvpKey, RsvpStore, StoreResult, Timestamp};

mod sql {
    pub const KEYS: &str = "SELECT id, secret, created_at, retired_at FROM rsvp_keys ORDER BY id DESC";
    pub const RETIRE: &str = "UPDATE rsvp_keys SET retired_at = $1 WHERE retired_at IS NULL";
    pub const DELETE_RETIRED: &str = "DELETE FROM rsvp_keys WHERE retired_at IS NOT NULL AND retired_at < $1";
    pub const INSERT: &str =
        "INSERT INTO rsvp_keys (secret, created_at) VALUES ($1, $2) RETURNING id, secret, created_at, retired_at";
}

type KeyRow = (i64, Vec<u8>, i64, Option<i64>);

fn key((id, secret, created_at, retired_at): KeyRow) -> RsvpKey {
    RsvpKey { id, secret, created_at, retired_at }
}

impl RsvpStore for Engine {
    async fn rsvp_keys(&self) -> StoreResult<Vec<RsvpKey>> {
        let rows: Vec<KeyRow> = sqlx::query_as(sql::KEYS).fetch_all(&mut *self.reader().await?).await?;
        Ok(rows.into_iter().map(key).collect())
    }

    async fn add_rsvp_key(&self, secret: Vec<u8>, now: Timestamp, rotate: bool, delete_retired_before: Timestamp) -> StoreResult<RsvpKey> {
        let mut tx = self.begin_write().await?;
        if rotate {
            sqlx::query(sql::DELETE_RETIRED).bind(delete_retired_before).execute(&mut *tx).await?;
            sqlx::query(sql::RETIRE).bind(now).execute(&mut *tx).await?;
        }
        let row: KeyRow = sqlx::query_as(sql::INSERT).bind(secret).bind(now).fetch_one(&mut *tx).await?;
        tx.commit().await.map_err(commit_failed)?;
        Ok(key(row))
    }
}
