//! The iMIP sender (RFC 6047): drains the `itip_outbox` by SMTP. Each round claims the due rows
//! with a lease, builds each mail (`mail::compose`), sends it through lettre's pooled async
//! transport and settles the row with the recipient's SCHEDULE-STATUS in one transaction
//! (`service::scheduling::imip`). Safe on every node at once (claims skip each other's rows);
//! docs/decisions/0017-imip-sending.md.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use lettre::Address;
use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cache::Health;
use crate::cache::breaker::{Backoff, Breaker, Permit, Transition};
use crate::calendar::ValidateOptions;
use crate::config::Config;
use crate::mail::{Action, Envelope, compose, mailto_address, message_id};
use crate::sched::ScheduleStatus;
use crate::service::ServiceResult;
use crate::service::scheduling::imip::settle;
use crate::service::scheduling::rsvp;
use crate::store::{ClaimedItip, ItipOutcome, OutboxKind, SchedStore, Store, Timestamp, UserId};

/// The drain's settings, from `[imip]` (config.rs explains each).
#[derive(Debug, Clone)]
pub struct ImipSettings {
    pub poll: Duration,
    pub batch: u32,
    pub lease_secs: i64,
    pub retry_initial_secs: i64,
    pub retry_max_secs: i64,
    pub max_age_secs: i64,
    /// A reminder not sent within this long fails: late, it is noise (`reminders.max_late`).
    pub reminder_max_age_secs: i64,
    pub per_hour: i64,
    pub per_day: i64,
    /// Messages on the wire at once (and the SMTP pool's size).
    pub concurrency: usize,
    pub breaker: Backoff,
    /// How a copy is validated when its SCHEDULE-STATUS is written.
    pub validate: ValidateOptions,
}

impl ImipSettings {
    pub fn from_config(config: &Config) -> ImipSettings {
        let c = &config.imip;
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        ImipSettings {
            poll: Duration::from_millis(c.poll_ms),
            batch: c.batch,
            lease_secs: secs(c.lease_secs),
            retry_initial_secs: secs(c.retry_initial_secs.max(1)),
            retry_max_secs: secs(c.retry_max_secs.max(1)),
            max_age_secs: secs(c.max_age_hours).saturating_mul(3600),
            reminder_max_age_secs: secs(config.reminders.max_late_minutes).saturating_mul(60),
            per_hour: i64::from(c.per_hour),
            per_day: i64::from(c.per_day),
            concurrency: usize::try_from(c.concurrency.max(1)).unwrap_or(1),
            breaker: Backoff { initial: Duration::from_millis(c.breaker_initial_ms), max: Duration::from_millis(c.breaker_max_ms) },
            validate: ValidateOptions { min_date_time: config.min_date_time(), max_date_time: config.max_date_time() },
        }
    }
}

/// What one round did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    /// Put back untried: over a send limit, or the breaker open.
    pub deferred: u64,
    /// Settlements refused because the lease had run out (another node took the row).
    pub lost: u64,
}

impl std::ops::AddAssign for Drained {
    fn add_assign(&mut self, o: Drained) {
        self.sent += o.sent;
        self.retried += o.retried;
        self.failed += o.failed;
        self.deferred += o.deferred;
        self.lost += o.lost;
    }
}

/// Messages by how their send ended, since start, for `/metrics` (read at scrape time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCounts {
    pub sent: u64,
    /// A 4xx answer or an unreachable relay: the message is retried later.
    pub temp_failed: u64,
    /// Refused for good (5xx), unbuildable, or too old to send.
    pub failed: u64,
}

#[derive(Default)]
struct SendCounters {
    sent: AtomicU64,
    temp_failed: AtomicU64,
    failed: AtomicU64,
}

/// Sends per owner in the last hour and day: read once per round, then counted here.
type Counts = Mutex<HashMap<UserId, (i64, i64)>>;

/// The SMTP side: transport, sender, breaker. One per node.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    settings: ImipSettings,
    breaker: Mutex<Breaker>,
    /// The server's public URL, for the RSVP link of invitations (none without it: a link
    /// must be absolute to work from a mailbox).
    public_url: Option<String>,
    sends: SendCounters,
}

/// How one send ended.
enum Sent {
    Ok,
    /// The server refused it for good (5xx, RFC 5321 §4.2.1), or it cannot be built.
    Permanent(String),
    /// The server answered 4xx: try again later.
    Transient(String),
    /// No answer (connection, TLS, timeout): try later, and tell the breaker.
    Unreachable(String),
}

impl Mailer {
    /// A mailer for `smtp_url` (lettre's URL form) sending as `mail_from`. Nothing is
    /// contacted here: the pool connects on the first send.
    pub fn new(smtp_url: &str, mail_from: &str, settings: ImipSettings, smtp_timeout: Duration) -> anyhow::Result<Mailer> {
        let sender: Mailbox = mail_from.parse().map_err(|e| anyhow::anyhow!("mail_from {mail_from:?}: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
            .timeout(Some(smtp_timeout))
            .pool_config(PoolConfig::new().max_size(u32::try_from(settings.concurrency).unwrap_or(u32::MAX)))
            .build();
        let breaker = Mutex::new(Breaker::new(settings.breaker));
        Ok(Mailer { transport, sender, settings, breaker, public_url: None, sends: SendCounters::default() })
    }

    /// Invitations carry an RSVP link under `public_url` (service::scheduling::rsvp).
    pub fn with_rsvp_links(mut self, public_url: Option<String>) -> Mailer {
        self.public_url = public_url;
        self
    }

    pub fn settings(&self) -> &ImipSettings {
        &self.settings
    }

    /// What this node's sends came to since start.
    pub fn sends(&self) -> SendCounts {
        let c = &self.sends;
        SendCounts {
            sent: c.sent.load(Ordering::Relaxed),
            temp_failed: c.temp_failed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A few assignments under the lock: a panic cannot leave it half-changed.
        lock(&self.breaker)
    }

    /// One round at `now` (Unix seconds; tests pass their own): claims due rows until none are
    /// left, sends them `concurrency` at a time, settles each. Concurrent, because one SMTP
    /// connection carries ~25 messages a second at best: the client's end of DATA is a small
    /// write held back (Nagle) until the server's delayed ACK of the body, 40 ms on Linux.
    pub async fn drain_once(&self, store: &Store, now: Timestamp) -> ServiceResult<Drained> {
        use futures_util::stream::{self, StreamExt};
        let mut done = Drained::default();
        let counts: Counts = Mutex::new(HashMap::new());
        loop {
            let s = &self.settings;
            let claimed = store.claim_external(now, now.saturating_add(s.lease_secs), s.batch).await?;
            let full = claimed.len() >= usize::try_from(s.batch).unwrap_or(usize::MAX);
            let results: Vec<ServiceResult<Drained>> = stream::iter(claimed)
                .map(|row| self.handle(store, row, now, &counts))
                .buffer_unordered(s.concurrency)
                .collect()
                .await;
            for r in results {
                done += r?;
            }
            // With the relay unreachable the rest would only be claimed and put back: leave
            // them for a later round.
            let relay_up = matches!(self.breaker().health(Instant::now()), Health::Up);
            if !full || !relay_up {
                return Ok(done);
            }
        }
    }

    async fn handle(&self, store: &Store, row: ClaimedItip, now: Timestamp, counts: &Counts) -> ServiceResult<Drained> {
        let mut done = Drained::default();
        let s = &self.settings;
        let m = &row.item.message;
        let give_back = |at| ItipOutcome::Retry { at, error: None, counted: false };
        // A reminder is a finished email: no SCHEDULE-STATUS to write, no organizer's limit
        // (the reminders have their own cap), and its own age limit.
        let reminder = row.item.kind == OutboxKind::Reminder;
        let max_age = if reminder { s.reminder_max_age_secs } else { s.max_age_secs };
        let status_of = |status: ScheduleStatus| (!reminder).then_some(status);
        let (outcome, status) = if now.saturating_sub(row.item.created_at) > max_age {
            let error = row.item.last_error.clone().unwrap_or_else(|| "not sent in time".into());
            (ItipOutcome::Failed { error: format!("too old: {error}") }, status_of(ScheduleStatus::TemporaryFailure))
        } else if !reminder && !self.reserve(store, m.owner, now, counts).await? {
            // Over the organizer's limit: back in a minute, the attempt not counted.
            done.deferred += 1;
            tracing::info!(id = row.item.id, owner = m.owner.0, "iMIP send limit reached; message waits");
            (give_back(now.saturating_add(60)), None)
        } else {
            let permit = self.breaker().admit(Instant::now());
            match permit {
                None => {
                    // Back when the breaker lets a probe through (at least a second away).
                    done.deferred += 1;
                    let wait = match self.breaker().health(Instant::now()) {
                        Health::Down { retry_in } => i64::try_from(retry_in.as_secs()).unwrap_or(i64::MAX).max(1),
                        Health::Up | Health::Probing => 1,
                    };
                    (give_back(now.saturating_add(wait)), None)
                }
                Some(permit) => {
                    let sent = if reminder {
                        self.send_reminder(&row).await
                    } else {
                        let actions = self.answer_actions(store, &row, now).await;
                        self.send(&row, actions).await
                    };
                    self.tell_breaker(permit, &sent);
                    match sent {
                        Sent::Ok => (ItipOutcome::Sent { at: now }, status_of(ScheduleStatus::Sent)),
                        Sent::Permanent(error) => (ItipOutcome::Failed { error }, status_of(ScheduleStatus::PermanentFailure)),
                        Sent::Transient(error) | Sent::Unreachable(error) => {
                            let at = now.saturating_add(self.backoff(row.item.attempts));
                            (ItipOutcome::Retry { at, error: Some(error), counted: true }, None)
                        }
                    }
                }
            }
        };
        match &outcome {
            ItipOutcome::Sent { .. } => {
                done.sent += 1;
                self.sends.sent.fetch_add(1, Ordering::Relaxed);
            }
            ItipOutcome::Failed { error } => {
                done.failed += 1;
                self.sends.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = row.item.id, recipient = %m.recipient, uid = %m.uid, %error, "iMIP message failed for good");
            }
            ItipOutcome::Retry { error: Some(error), .. } => {
                done.retried += 1;
                self.sends.temp_failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(id = row.item.id, attempts = row.item.attempts, %error, "iMIP send failed; will retry");
            }
            ItipOutcome::Retry { error: None, .. } => {}
        }
        if !settle(store, &s.validate, &row, outcome, status).await? {
            done.lost += 1;
            tracing::warn!(id = row.item.id, "iMIP lease ran out before the send was recorded; another node holds the row");
        }
        Ok(done)
    }

    /// Exponential backoff by attempts made: initial, 2×, 4×, … up to the maximum.
    fn backoff(&self, attempts: i64) -> i64 {
        let s = &self.settings;
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        s.retry_initial_secs.saturating_mul(1_i64 << shift).min(s.retry_max_secs)
    }

    /// Whether the owner may send one more now; if so it is counted at once (a send that then
    /// fails only makes the round more careful).
    async fn reserve(&self, store: &Store, owner: UserId, now: Timestamp, counts: &Counts) -> ServiceResult<bool> {
        let known = lock(counts).contains_key(&owner);
        if !known {
            let c = store.external_sent_since(owner, now.saturating_sub(3600), now.saturating_sub(86_400)).await?;
            lock(counts).entry(owner).or_insert(c);
        }
        let mut counts = lock(counts);
        let c = counts.entry(owner).or_insert((0, 0));
        if c.0 < self.settings.per_hour && c.1 < self.settings.per_day {
            (c.0, c.1) = (c.0 + 1, c.1 + 1);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The RSVP link of an invitation (issue 16): Accept, Maybe or Decline on a page that asks
    /// before it answers. A link that cannot be made leaves the mail without one (the iTIP part
    /// still lets the recipient's mail program answer).
    async fn answer_actions(&self, store: &Store, row: &ClaimedItip, now: Timestamp) -> Vec<Action> {
        let Some(public_url) = &self.public_url else {
            return Vec::new();
        };
        let m = &row.item.message;
        if m.method != "REQUEST" {
            return Vec::new();
        }
        let key = match rsvp::signing_key(store).await {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(id = row.item.id, error = %e, "no RSVP signing key; invitation sent without its link");
                return Vec::new();
            }
        };
        let text = String::from_utf8_lossy(&m.data);
        rsvp::invitation_link(public_url, &key, m.owner, &text, &m.recipient, now)
            .map(|url| vec![Action { label: "Accept, maybe or decline".into(), url }])
            .unwrap_or_default()
    }

    async fn send(&self, row: &ClaimedItip, actions: Vec<Action>) -> Sent {
        let m = &row.item.message;
        let envelope = Envelope {
            sender: self.sender.clone(),
            recipient: m.recipient.clone(),
            message_id: message_id(row.item.id, &m.recipient, &self.sender),
            date: SystemTime::now(),
            actions,
        };
        let text = String::from_utf8_lossy(&m.data);
        let message = match compose(&envelope, &text) {
            Ok(message) => message,
            Err(e) => return Sent::Permanent(e.to_string()),
        };
        let sent = classify(self.transport.send(message).await);
        if matches!(sent, Sent::Ok) {
            tracing::info!(id = row.item.id, message_id = %envelope.message_id, recipient = %m.recipient, method = %m.method, "iMIP message sent");
        }
        sent
    }

    /// A reminder row holds the whole message (built when its alarm fired, with its
    /// deterministic Message-ID): it goes out as it is, to its one recipient.
    async fn send_reminder(&self, row: &ClaimedItip) -> Sent {
        let m = &row.item.message;
        let to: Address = match mailto_address(&m.recipient).parse() {
            Ok(to) => to,
            Err(e) => return Sent::Permanent(format!("invalid address {:?}: {e}", m.recipient)),
        };
        let envelope = match lettre::address::Envelope::new(Some(self.sender.email.clone()), vec![to]) {
            Ok(envelope) => envelope,
            Err(e) => return Sent::Permanent(e.to_string()),
        };
        let sent = classify(self.transport.send_raw(&envelope, &m.data).await);
        if matches!(sent, Sent::Ok) {
            tracing::info!(id = row.item.id, recipient = %m.recipient, uid = %m.uid, "reminder sent");
        }
        sent
    }

    fn tell_breaker(&self, permit: Permit, sent: &Sent) {
        let now = Instant::now();
        let transition = match sent {
            Sent::Unreachable(_) => self.breaker().failed(permit, now),
            // Any answer, even a refusal, shows the relay is there.
            Sent::Ok | Sent::Permanent(_) | Sent::Transient(_) => self.breaker().succeeded(permit),
        };
        match transition {
            Transition::Opened { retry_in } => tracing::warn!(?retry_in, "SMTP relay unreachable; iMIP sending paused"),
            Transition::Closed => tracing::info!("SMTP relay reachable again; iMIP sending resumed"),
            Transition::Reopened { .. } | Transition::None => {}
        }
    }
}

/// How an SMTP answer ends a send.
fn classify<T>(result: Result<T, lettre::transport::smtp::Error>) -> Sent {
    match result {
        Ok(_) => Sent::Ok,
        Err(e) if e.is_permanent() => Sent::Permanent(e.to_string()),
        // The message itself cannot go this way (e.g. a non-ASCII address and a relay
        // without SMTPUTF8, RFC 6531): retrying would not help, and the relay is fine.
        Err(e) if e.is_client() => Sent::Permanent(e.to_string()),
        // 4xx, or an answer that could not be read: the relay is there, try later.
        Err(e) if e.is_transient() || e.is_response() => Sent::Transient(e.to_string()),
        Err(e) => Sent::Unreachable(e.to_string()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Map updates only: a panic cannot leave it inconsistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `drain_once` every `poll` until `stop` turns true. A failed round is logged and the
/// next one tries again; the rows stay in the outbox meanwhile.
pub fn spawn_imip(mailer: std::sync::Arc<Mailer>, store: Store, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let every = mailer.settings.poll;
    super::spawn_every(every, stop, move || {
        let (mailer, store) = (mailer.clone(), store.clone());
        async move {
            match mailer.drain_once(&store, crate::service::now()).await {
                Ok(round) if round == Drained::default() => {}
                // What the round did and what is left (issue 16: depth, oldest age, counts).
                Ok(round) => match store.outbox_stats().await {
                    Ok(o) => tracing::info!(
                        sent = round.sent, retried = round.retried, failed = round.failed, deferred = round.deferred,
                        pending = o.pending, oldest_pending_age = o.oldest_pending.map(|t| crate::service::now().saturating_sub(t)),
                        "iMIP outbox round"
                    ),
                    Err(e) => tracing::warn!(error = %e, "reading the iMIP outbox's numbers failed"),
                },
                Err(e) => tracing::warn!(error = %e, "iMIP outbox round failed; retrying later"),
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mailer(initial: i64, max: i64) -> Mailer {
        let mut settings = ImipSettings::from_config(&Config::default());
        (settings.retry_initial_secs, settings.retry_max_secs) = (initial, max);
        Mailer::new("smtp://127.0.0.1:1", "Kalends <c@example.org>", settings, Duration::from_secs(1)).unwrap()
    }

    #[tokio::test]
    async fn backoff_doubles_to_its_maximum() {
        let m = mailer(60, 3600);
        let steps: Vec<i64> = (1..=8).map(|a| m.backoff(a)).collect();
        assert_eq!(steps, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(m.backoff(1_000), 3600);
    }

    #[tokio::test]
    async fn bad_settings_are_refused() {
        let settings = ImipSettings::from_config(&Config::default());
        assert!(Mailer::new("ftp://x", "c@example.org", settings.clone(), Duration::from_secs(1)).is_err());
        assert!(Mailer::new("smtp://x", "nope", settings, Duration::from_secs(1)).is_err());
    }
}
