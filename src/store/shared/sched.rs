//! Scheduling (RFC 6638): the boxes, users by address, a user's copies of one UID, the
//! scheduling transaction (its locks and batch checks in sched_batch.rs) and the external message queue (its claims with a lease, its
//! coalescing and its settlement; the engines differ only in how a claim skips locked rows,
//! `claim_lock!`); `impl SchedStore`.

use sqlx::{AssertSqlSafe, FromRow};

use super::objects::{MemberRow, delete_locked};
use super::put::{insert_many_locked, put_locked};
use super::sched_batch::{bump_all, in_list, new_copy_checks, padded};
use super::users::UserRow;
use crate::store::retry::commit_failed;
use super::{Db, Engine, bump_seq, bump_seq_bytes, now};
use crate::store::sched::lock_order;
use crate::store::{
    ClaimedItip, Collection, CollectionId, CollectionKind, DeliveryTarget, Expect, ExternalItip, ItipOutcome, ItipSettle,
    NewExternalItip, OutboxKind, OutboxStats, SchedStore, SchedWrite, SchedWritten, StoreError, UidHolder, StoreResult, StoredObject, Timestamp, User, UserId,
};

/// This capability's SQL, shared by both engines.
pub mod sql {
    pub const SCHEDULING_BOX: &str =
        concat!("SELECT ", collection_cols!(), " FROM collections WHERE owner_id = $1 AND role = $2");
    pub const USERS_BY_EMAIL: &str =
        concat!("SELECT ", user_cols!(), " FROM users WHERE lower(email) = lower($1) ORDER BY id");
    /// Per calendar of the owner, the member with the UID (the UNIQUE (collection_id, uid)
    /// index answers each).
    pub const OBJECTS_WITH_UID: &str = concat!(
        "SELECT ",
        member_cols!(),
        ", o.data AS o_data FROM collections c JOIN objects o \
         ON o.collection_id = c.id AND o.uid = $2 WHERE c.owner_id = $1 AND c.kind = 'calendar' \
         ORDER BY c.id"
    );
    /// Who keeps an object with this UID (an inbound REPLY without ORGANIZER is routed by it).
    pub const OWNERS_OF_UID: &str = "SELECT DISTINCT c.owner_id FROM collections c JOIN objects o \
         ON o.collection_id = c.id WHERE o.uid = $1 AND c.kind = 'calendar' ORDER BY c.owner_id LIMIT 100";
    /// The batched lookups end in an IN list of placeholders (`in_list`).
    pub const USERS_BY_EMAILS_PREFIX: &str =
        concat!("SELECT ", user_cols!(), " FROM users WHERE lower(email) IN (");
    pub const INBOXES_PREFIX: &str =
        concat!("SELECT ", collection_cols!(), " FROM collections WHERE role = 'inbox' AND owner_id IN (");
    /// Each user's calendars that take events (VEVENT is bit 1), the inbox's chosen default
    /// first, then `calendar` (every user's first one), then by path: the first row of a user
    /// is where an invitation without a copy lands (RFC 6638 §9.2).
    pub const EVENT_CALENDARS_PREFIX: &str = concat!(
        "SELECT ",
        c_collection_cols!(),
        " FROM collections c JOIN collections i ON i.owner_id = c.owner_id AND i.role = 'inbox' \
         WHERE c.kind = 'calendar' AND (c.components & 1) = 1 AND c.owner_id IN ("
    );
    pub const EVENT_CALENDARS_ORDER: &str =
        ") ORDER BY c.owner_id, CASE WHEN c.id = i.default_calendar_id THEN 0 WHEN c.path = 'calendar' THEN 1 ELSE 2 END, c.path";
    /// The owner's calendar objects among a list of UIDs (the list and `)` follow).
    pub const UID_HOLDERS_PREFIX: &str = "SELECT o.uid, c.id, c.path, o.name FROM collections c JOIN objects o \
         ON o.collection_id = c.id WHERE c.owner_id = $1 AND c.kind = 'calendar' AND o.uid IN (";
    pub const COPIES_PREFIX: &str = concat!(
        "SELECT ",
        member_cols!(),
        ", o.data AS o_data FROM collections c JOIN objects o \
         ON o.collection_id = c.id AND o.uid = $1 WHERE c.kind = 'calendar' AND c.owner_id IN ("
    );
    pub const QUEUE_EXTERNAL: &str = "INSERT INTO itip_outbox (owner_id, recipient, method, uid, \
         data, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";
    macro_rules! external_cols {
        () => {
            "id, owner_id, recipient, method, uid, data, created_at, state, attempts, next_attempt_at, last_error, sent_at, kind"
        };
    }
    pub const PENDING_EXTERNAL: &str =
        concat!("SELECT ", external_cols!(), " FROM itip_outbox WHERE state = 'pending' ORDER BY id LIMIT $1");
    pub const EXTERNAL_OF: &str = concat!("SELECT ", external_cols!(), " FROM itip_outbox WHERE owner_id = $1 ORDER BY id");
    /// Coalescing: a REQUEST carries the recipient's whole view (decision 0015) and a CANCEL of
    /// the whole event ends it, so either makes every older pending REQUEST of the same (owner,
    /// UID, recipient) pointless. Rows a worker holds (claimed, lease running) may be on the
    /// wire already and are left alone.
    pub const SUPERSEDE: &str = "UPDATE itip_outbox SET state = 'superseded', claim = NULL \
         WHERE owner_id = $1 AND uid = $2 AND lower(recipient) = lower($3) AND method = 'REQUEST' \
         AND state = 'pending' AND id < $4 AND (claim IS NULL OR next_attempt_at <= $5)";
    /// A claim: the due rows get the worker's token, one more attempt, and `next_attempt_at` set
    /// to the lease's end, so a row whose worker died is due again when the lease ends.
    pub const CLAIM: &str = concat!(
        "UPDATE itip_outbox SET claim = $1, next_attempt_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM itip_outbox WHERE state = 'pending' AND next_attempt_at <= $3 \
         ORDER BY next_attempt_at, id LIMIT $4",
        claim_lock!(),
        ") RETURNING ",
        external_cols!()
    );
    /// Settlements hold only while the claim does (`claim = $2`).
    pub const SETTLE_SENT: &str = "UPDATE itip_outbox SET state = 'sent', sent_at = $3, claim = NULL, \
         last_error = NULL WHERE id = $1 AND claim = $2 AND state = 'pending'";
    pub const SETTLE_RETRY: &str = "UPDATE itip_outbox SET next_attempt_at = $3, \
         last_error = COALESCE($4, last_error), attempts = attempts - $5, claim = NULL \
         WHERE id = $1 AND claim = $2 AND state = 'pending'";
    pub const SETTLE_FAILED: &str = "UPDATE itip_outbox SET state = 'failed', last_error = $3, claim = NULL \
         WHERE id = $1 AND claim = $2 AND state = 'pending'";
    pub const OUTBOX_STATS: &str = "SELECT state, COUNT(*), MIN(created_at) FROM itip_outbox GROUP BY state";
    pub const PRUNE_EXTERNAL: &str = "DELETE FROM itip_outbox WHERE state <> 'pending' AND created_at < $1";
    pub const SENT_SINCE: &str = "SELECT COALESCE(SUM(CASE WHEN sent_at > $2 THEN 1 ELSE 0 END), 0), COUNT(*) \
         FROM itip_outbox WHERE owner_id = $1 AND sent_at > $3 AND kind = 'itip'";
}

struct ExternalRow {
    id: i64,
    owner_id: i64,
    recipient: String,
    method: String,
    uid: String,
    data: Vec<u8>,
    created_at: i64,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
    kind: String,
}
from_row!(ExternalRow { id, owner_id, recipient, method, uid, data, created_at, state, attempts, next_attempt_at, last_error, sent_at, kind });

impl From<ExternalRow> for ExternalItip {
    fn from(r: ExternalRow) -> Self {
        ExternalItip {
            id: r.id,
            message: NewExternalItip {
                owner: UserId(r.owner_id),
                recipient: r.recipient,
                method: r.method,
                uid: r.uid,
                data: r.data,
            },
            created_at: r.created_at,
            state: r.state,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            sent_at: r.sent_at,
            kind: if r.kind == "reminder" { OutboxKind::Reminder } else { OutboxKind::Itip },
        }
    }
}

/// Queues one external message, superseding the older pending REQUESTs it makes pointless.
async fn queue_external(conn: &mut super::Conn, m: &NewExternalItip, now: Timestamp) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(sql::QUEUE_EXTERNAL)
        .bind(m.owner.0)
        .bind(&m.recipient)
        .bind(&m.method)
        .bind(&m.uid)
        .bind(&m.data)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    // A REQUEST carries the recipient's whole view; a CANCEL without RECURRENCE-ID calls the
    // whole event off (RFC 5546 §3.2.5): either makes older pending REQUESTs pointless.
    let whole_cancel = m.method.eq_ignore_ascii_case("CANCEL") && !m.data.windows(13).any(|w| w == b"RECURRENCE-ID");
    if m.method.eq_ignore_ascii_case("REQUEST") || whole_cancel {
        sqlx::query(sql::SUPERSEDE).bind(m.owner.0).bind(&m.uid).bind(&m.recipient).bind(id).bind(now).execute(&mut *conn).await?;
    }
    Ok(id)
}

/// Records a send's end on its row, if the claim still holds (else NotFound).
async fn settle(conn: &mut super::Conn, s: &ItipSettle) -> StoreResult<()> {
    let query = match &s.outcome {
        ItipOutcome::Sent { at } => sqlx::query(sql::SETTLE_SENT).bind(s.id).bind(&s.claim).bind(*at),
        ItipOutcome::Retry { at, error, counted } => sqlx::query(sql::SETTLE_RETRY)
            .bind(s.id)
            .bind(&s.claim)
            .bind(*at)
            .bind(error.as_deref())
            .bind(if *counted { 0_i64 } else { 1 }),
        ItipOutcome::Failed { error } => sqlx::query(sql::SETTLE_FAILED).bind(s.id).bind(&s.claim).bind(error.as_str()),
    };
    match query.execute(&mut *conn).await?.rows_affected() {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

fn claim_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn role(kind: CollectionKind) -> Option<&'static str> {
    match kind {
        CollectionKind::Inbox => Some("inbox"),
        CollectionKind::Outbox => Some("outbox"),
        CollectionKind::Calendar | CollectionKind::Plain => None,
    }
}

impl SchedStore for Engine {
    async fn scheduling_box(&self, owner: UserId, kind: CollectionKind) -> StoreResult<Option<Collection>> {
        let Some(role) = role(kind) else {
            return Ok(None);
        };
        let row: Option<super::collections::CollectionRow> = sqlx::query_as(sql::SCHEDULING_BOX)
            .bind(owner.0)
            .bind(role)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.map(Collection::try_from).transpose()
    }

    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(sql::USERS_BY_EMAIL)
            .bind(email)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn objects_with_uid(&self, owner: UserId, uid: &str) -> StoreResult<Vec<(Collection, StoredObject)>> {
        let rows: Vec<MemberRow> = sqlx::query_as(sql::OBJECTS_WITH_UID)
            .bind(owner.0)
            .bind(uid)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let (collection, Some(meta), Some(data)) = row.split()? {
                out.push((collection, StoredObject { meta, data }));
            }
        }
        Ok(out)
    }

    async fn uid_holders(&self, owner: UserId, uids: &[String]) -> StoreResult<Vec<UidHolder>> {
        // 256 per statement: far below either engine's bind limit, and few statement shapes.
        const CHUNK: usize = 256;
        let mut out = Vec::new();
        let mut conn = self.reader().await?;
        for chunk in uids.chunks(CHUNK) {
            let (list, binds) = in_list(2, chunk.len());
            let text = format!("{}{list})", sql::UID_HOLDERS_PREFIX);
            let mut query = sqlx::query_as::<_, (String, i64, String, String)>(AssertSqlSafe(text)).bind(owner.0);
            for uid in padded(chunk, binds) {
                query = query.bind(uid);
            }
            for (uid, collection, path, name) in query.fetch_all(&mut *conn).await? {
                out.push(UidHolder { uid, collection: CollectionId(collection), path, name });
            }
        }
        Ok(out)
    }

    async fn write_scheduling(&self, writes: Vec<SchedWrite>) -> StoreResult<Vec<SchedWritten>> {
        let now = now();
        let order = lock_order(&writes);
        // Left before the COMMIT: the next batch's lock statement then waits only for it.
        let gate = self.enter_scheduling(&order).await?;
        let mut tx = self.begin_write().await?;
        let mut counts = Vec::new();
        for id in order {
            let known: i64 = writes.iter().filter_map(SchedWrite::known_bytes).filter(|(c, _)| *c == id).map(|(_, b)| b).sum();
            counts.push((id, known));
        }
        let locked = if counts.len() > 1 {
            bump_all(&mut tx, &counts, now).await?
        } else {
            let mut locked = Vec::new();
            for &(id, known) in &counts {
                let bumped = if known == 0 { bump_seq(&mut tx, id, now).await? } else { bump_seq_bytes(&mut tx, id, now, known).await? };
                locked.push((id, bumped));
            }
            locked
        };
        let mut done: Vec<Option<SchedWritten>> = Vec::with_capacity(writes.len());
        // New copies and inbox messages go in one multi-row INSERT after the other writes.
        let mut deliveries: Vec<(usize, (CollectionId, i64, crate::store::NewObject))> = Vec::new();
        // The new objects among them (not the inbox messages): their index in the batch and
        // their collection's path.
        let mut copies: Vec<(usize, String)> = Vec::new();
        for (index, write) in writes.into_iter().enumerate() {
            let in_batch = |error| StoreError::InBatch { index, error: Box::new(error) };
            let written = match write {
                // A new object, the sender's or a recipient's copy, joins the multi-row INSERT:
                // its checks are batched below, with the refusals `put_locked` would give it,
                // each reported at its own index (the sender's is the client's answer).
                SchedWrite::Put { collection, object, expect: Expect::Absent } => {
                    match locked.iter().find(|(id, _)| *id == collection).map(|(_, b)| b) {
                        Some(bumped) => {
                            copies.push((index, bumped.path.clone()));
                            deliveries.push((index, (collection, bumped.sync_seq, object)));
                            done.push(None);
                            continue;
                        }
                        None => Err(StoreError::NotFound),
                    }
                }
                SchedWrite::Put { collection, object, expect } => {
                    let bumped = locked.iter().find(|(id, _)| *id == collection).map(|(_, b)| b).ok_or(StoreError::NotFound);
                    // Not a creation (those went above), so its bytes are not counted yet.
                    match bumped {
                        Ok(bumped) => put_locked(&mut tx, collection, bumped, object, &expect, now, false).await.map(SchedWritten::Put),
                        Err(e) => Err(e),
                    }
                }
                SchedWrite::Deliver { collection, object } => {
                    let seq = locked.iter().find(|(id, _)| *id == collection).map(|(_, b)| b.sync_seq);
                    match seq {
                        Some(seq) => {
                            deliveries.push((index, (collection, seq, object)));
                            done.push(None);
                            continue;
                        }
                        None => Err(StoreError::NotFound),
                    }
                }
                SchedWrite::Delete { collection, name, expect } => {
                    let seq = locked.iter().find(|(id, _)| *id == collection).map(|(_, b)| b.sync_seq).ok_or(StoreError::NotFound);
                    match seq {
                        Ok(seq) => delete_locked(&mut tx, collection, seq, &name, &expect, now, true).await.map(|()| SchedWritten::Deleted),
                        Err(e) => Err(e),
                    }
                }
                SchedWrite::External(m) => queue_external(&mut tx, &m, now).await.map(SchedWritten::Queued),
                SchedWrite::Settle(s) => settle(&mut tx, &s).await.map(|()| SchedWritten::Settled),
            };
            done.push(Some(written.map_err(in_batch)?));
        }
        if !copies.is_empty() {
            new_copy_checks(&mut tx, &deliveries, &copies).await?;
        }
        if !deliveries.is_empty() {
            let rows: Vec<_> = deliveries.iter().map(|(_, r)| r.clone()).collect();
            // Reported at the first recipient's copy, or else inbox message (planned again),
            // not at the sender's object, which the checks found free under the locks.
            let first = copies.iter().map(|(i, _)| *i).chain(deliveries.iter().map(|(i, _)| *i)).find(|&i| i > 0).unwrap_or(0);
            let metas = insert_many_locked(&mut tx, &rows, now).await.map_err(|error| {
                // A name or UID taken since the copies were read (UNIQUE): planned again, as a
                // failed `Expect::Absent` is.
                let error = match error {
                    StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation() => StoreError::PreconditionFailed,
                    other => other,
                };
                StoreError::InBatch { index: first, error: Box::new(error) }
            })?;
            for meta in metas {
                let at = deliveries.iter().find(|(_, (c, _, o))| *c == meta.collection && o.name == meta.name).map(|(i, _)| *i);
                if let Some(i) = at {
                    done[i] = Some(SchedWritten::Put(crate::store::PutOutcome { created: true, meta }));
                }
            }
        }
        drop(gate);
        tx.commit().await.map_err(commit_failed)?;
        done.into_iter().map(|d| d.ok_or_else(|| StoreError::Database(sqlx::Error::RowNotFound))).collect()
    }

    async fn users_by_emails(&self, emails: &[String]) -> StoreResult<Vec<User>> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let lowered: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
        let (list, binds) = in_list(1, lowered.len());
        let text = format!("{}{list}) ORDER BY id", sql::USERS_BY_EMAILS_PREFIX);
        let mut query = sqlx::query_as::<_, UserRow>(AssertSqlSafe(text));
        for e in padded(&lowered, binds) {
            query = query.bind(e);
        }
        let rows = query.fetch_all(&mut *self.reader().await?).await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    async fn delivery_targets(&self, users: &[UserId], uid: &str) -> StoreResult<Vec<DeliveryTarget>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
        let mut conn = self.reader().await?;
        let (list, binds) = in_list(1, ids.len());
        let mut query = sqlx::query_as::<_, super::collections::CollectionRow>(AssertSqlSafe(format!("{}{list})", sql::INBOXES_PREFIX)));
        for id in padded(&ids, binds) {
            query = query.bind(id);
        }
        let inboxes = query.fetch_all(&mut *conn).await?;
        let mut query = sqlx::query_as::<_, super::collections::CollectionRow>(AssertSqlSafe(format!(
            "{}{list}{}",
            sql::EVENT_CALENDARS_PREFIX,
            sql::EVENT_CALENDARS_ORDER
        )));
        for id in padded(&ids, binds) {
            query = query.bind(id);
        }
        let calendars = query.fetch_all(&mut *conn).await?;
        let (list, binds) = in_list(2, ids.len());
        let mut query = sqlx::query_as::<_, MemberRow>(AssertSqlSafe(format!("{}{list}) ORDER BY c.id", sql::COPIES_PREFIX))).bind(uid);
        for id in padded(&ids, binds) {
            query = query.bind(id);
        }
        let copies = query.fetch_all(&mut *conn).await?;
        let mut out: Vec<DeliveryTarget> = users.iter().map(|&user| DeliveryTarget { user, inbox: None, default_calendar: None, copy: None }).collect();
        for row in inboxes {
            let c = Collection::try_from(row)?;
            if let Some(t) = out.iter_mut().find(|t| t.user == c.owner) {
                t.inbox = Some(c);
            }
        }
        for row in calendars {
            let c = Collection::try_from(row)?;
            if let Some(t) = out.iter_mut().find(|t| t.user == c.owner && t.default_calendar.is_none()) {
                t.default_calendar = Some(c);
            }
        }
        for row in copies {
            if let (c, Some(meta), Some(data)) = row.split()?
                && let Some(t) = out.iter_mut().find(|t| t.user == c.owner && t.copy.is_none())
            {
                t.copy = Some((c, StoredObject { meta, data }));
            }
        }
        Ok(out)
    }

    async fn owners_of_uid(&self, uid: &str) -> StoreResult<Vec<UserId>> {
        let rows: Vec<(i64,)> = sqlx::query_as(sql::OWNERS_OF_UID).bind(uid).fetch_all(&mut *self.reader().await?).await?;
        Ok(rows.into_iter().map(|(id,)| UserId(id)).collect())
    }

    async fn pending_external(&self, limit: u32) -> StoreResult<Vec<ExternalItip>> {
        let rows: Vec<ExternalRow> = sqlx::query_as(sql::PENDING_EXTERNAL)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows.into_iter().map(ExternalItip::from).collect())
    }

    async fn external_of(&self, owner: UserId) -> StoreResult<Vec<ExternalItip>> {
        let rows: Vec<ExternalRow> =
            sqlx::query_as(sql::EXTERNAL_OF).bind(owner.0).fetch_all(&mut *self.reader().await?).await?;
        Ok(rows.into_iter().map(ExternalItip::from).collect())
    }

    async fn claim_external(&self, now: Timestamp, lease_until: Timestamp, limit: u32) -> StoreResult<Vec<ClaimedItip>> {
        let claim = claim_token();
        // SQLite: one statement under BEGIN IMMEDIATE, so no other writer runs between its
        // read and its write. PostgreSQL: rows locked by another claim are skipped.
        let mut tx = self.begin_write().await?;
        let rows: Vec<ExternalRow> = sqlx::query_as(sql::CLAIM)
            .bind(&claim)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await.map_err(commit_failed)?;
        let mut out: Vec<ClaimedItip> =
            rows.into_iter().map(|r| ClaimedItip { item: ExternalItip::from(r), claim: claim.clone() }).collect();
        out.sort_by_key(|c| c.item.id);
        Ok(out)
    }

    async fn external_sent_since(&self, owner: UserId, hour: Timestamp, day: Timestamp) -> StoreResult<(i64, i64)> {
        let counts: (i64, i64) = sqlx::query_as(sql::SENT_SINCE)
            .bind(owner.0)
            .bind(hour)
            .bind(day)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(counts)
    }

    async fn outbox_stats(&self) -> StoreResult<OutboxStats> {
        let rows: Vec<(String, i64, Option<i64>)> =
            sqlx::query_as(sql::OUTBOX_STATS).fetch_all(&mut *self.reader().await?).await?;
        let mut stats = OutboxStats::default();
        for (state, count, oldest) in rows {
            match state.as_str() {
                "pending" => (stats.pending, stats.oldest_pending) = (count, oldest),
                "sent" => stats.sent = count,
                "failed" => stats.failed = count,
                _ => stats.superseded += count,
            }
        }
        Ok(stats)
    }

    async fn prune_external(&self, before: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql::PRUNE_EXTERNAL).bind(before).execute(&mut *tx).await?.rows_affected();
        tx.commit().await.map_err(commit_failed)?;
        Ok(done)
    }
}
