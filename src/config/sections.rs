//! The configuration's sections (`[imip]`, `[limits]`, `[rate_limit]`, …): their fields, what
//! each means, and their defaults.

use serde::Deserialize;

use crate::cache::RedisSettings;

/// Rate limits (docs/decisions/0021-rate-limits.md). A unit is one cheap request; the cost
/// table is `http::limit::cost`. Generous to clients, hard on floods: a DAVx5, Apple or
/// Thunderbird first sync of a 5,000-event calendar runs untouched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Each authenticated principal: units refilled per second, and the bucket's size.
    pub principal_per_second: u32,
    pub principal_burst: u32,
    /// Requests without credentials (and RSVP links), per client address (IPv6 by /64).
    pub anonymous_per_minute: u32,
    pub anonymous_burst: u32,
    /// Failed logins per minute per address and per user name; beyond, 429 without checking
    /// the password.
    pub login_failures_per_minute: u32,
    /// Reverse proxies whose `Forwarded`/`X-Forwarded-For` name the client (CIDRs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A request short of units by less than this waits for them instead of getting 429.
    pub soft_delay_ms: u64,
    /// Nodes sharing the limits through Redis: while Redis is unreachable each node enforces
    /// its 1/nodes share alone.
    pub nodes: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            principal_per_second: 100,
            principal_burst: 1_000,
            anonymous_per_minute: 120,
            anonymous_burst: 60,
            login_failures_per_minute: 10,
            trusted_proxies: Vec::new(),
            soft_delay_ms: 500,
            nodes: 1,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// tracing-subscriber's human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, its fields at the top level, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is neither \"text\" nor \"json\"")),
        }
    }
}

/// How the server stops on SIGTERM/SIGINT (and `RunningServer::stop`): `/readyz` turns 503 at
/// once, requests are still served for `grace_ms` so a load balancer sees it and moves traffic
/// away, then the listener closes and open requests get up to `deadline_ms` to finish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    pub grace_ms: u64,
    pub deadline_ms: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { grace_ms: 5000, deadline_ms: 30_000 }
    }
}

/// RFC 6638 scheduling between the server's users.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulingConfig {
    /// Who may ask for a user's busy time through the outbox (RFC 6638 §5): `users` (every
    /// user of this server sees every other user's free/busy, nothing more) or `nobody` (each
    /// user only their own).
    pub freebusy_lookup: FreeBusyLookup,
    /// What an invitation (REQUEST, CANCEL) from an organizer outside the server does when it
    /// arrives by email (`kalends imip receive`): `inbox` (only the user's scheduling inbox) or
    /// `calendar` (also applied to their calendar, as an invitation from a local organizer is).
    pub external_invitations: ExternalInvitations,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExternalInvitations {
    /// Anyone can send email: a stranger's invitation must not write into a calendar unasked.
    #[default]
    Inbox,
    Calendar,
}

/// How the iMIP outbox is drained (docs/decisions/0017-imip-sending.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImipConfig {
    /// How often a node looks for due messages, in milliseconds.
    pub poll_ms: u64,
    /// Messages claimed per round.
    pub batch: u32,
    /// How long a claimed message is held by its node before another may take it (a node that
    /// died mid-send is recovered after this), in seconds.
    pub lease_secs: u64,
    /// The first retry after a temporary failure, doubled per attempt up to `retry_max_secs`.
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    /// A message not sent within this many hours fails (SCHEDULE-STATUS 5.1).
    pub max_age_hours: u64,
    /// Per organizer: messages sent per hour and per day at most; more wait.
    pub per_hour: u32,
    pub per_day: u32,
    /// Outside recipients one change may send to (each gets an email); more get
    /// SCHEDULE-STATUS 5.3 and nothing is sent to them. Keeps one account from mass-mailing.
    pub max_recipients: u32,
    /// Messages a node sends at once, each on its own pooled SMTP connection.
    pub concurrency: u32,
    /// One SMTP command's timeout, in seconds.
    pub smtp_timeout_secs: u64,
    /// The circuit breaker in front of the relay: open this long after a connection failure,
    /// doubling up to the maximum, in milliseconds.
    pub breaker_initial_ms: u64,
    pub breaker_max_ms: u64,
}

/// Reminders the server emails itself (issue 19, docs/decisions/0024-reminders.md). They go
/// out through `smtp_url` and the iMIP outbox; without `smtp_url` nothing is sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReminderConfig {
    /// Whether this node sends reminders at all (schedules are kept either way, so turning it
    /// on later loses nothing that is still ahead).
    pub enabled: bool,
    /// A fire more than this many minutes late (the server or the relay was down) is dropped
    /// with a log line, not sent.
    pub max_late_minutes: u64,
    /// Reminder emails per user per hour at most: a guard against runaway data (a minutely
    /// alarm), high enough that a busy person gets every reminder.
    pub per_user_per_hour: u32,
    /// EMAIL alarms may go to addresses other than the owner's own. Off by default: an alarm
    /// in a calendar would otherwise mail anybody its author names.
    pub email_others: bool,
    /// Objects one round takes (one transaction).
    pub batch: u32,
    /// The longest a sender sleeps without looking (writes on other nodes wake nobody here).
    pub max_sleep_secs: u64,
}

impl Default for ReminderConfig {
    fn default() -> Self {
        ReminderConfig {
            enabled: true,
            max_late_minutes: 120,
            per_user_per_hour: 60,
            email_others: false,
            batch: 200,
            max_sleep_secs: 30,
        }
    }
}

impl Default for ImipConfig {
    fn default() -> Self {
        ImipConfig {
            poll_ms: 5_000,
            batch: 50,
            lease_secs: 300,
            retry_initial_secs: 60,
            retry_max_secs: 3_600,
            max_age_hours: 72,
            per_hour: 200,
            per_day: 1_000,
            max_recipients: 50,
            concurrency: 16,
            smtp_timeout_secs: 30,
            breaker_initial_ms: 1_000,
            breaker_max_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FreeBusyLookup {
    #[default]
    Users,
    Nobody,
}

impl Default for SchedulingConfig {
    fn default() -> Self {
        SchedulingConfig { freebusy_lookup: FreeBusyLookup::Users, external_invitations: ExternalInvitations::Inbox }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_request_body: usize,
    /// RFC 4791 §5.2.5 max-resource-size, in bytes.
    pub max_resource_size: usize,
    /// Largest total size of request headers, in bytes (431 beyond).
    pub max_header_bytes: usize,
    /// RFC 4791 §5.2.6/§5.2.7, as RFC 5545 UTC date-times.
    pub min_date_time: String,
    pub max_date_time: String,
    /// RFC 4791 §5.2.8 max-instances.
    pub max_instances: u32,
    /// RFC 4791 §5.2.9 max-attendees-per-instance: a scheduling object inviting more people to
    /// one instance is refused.
    pub max_attendees_per_instance: u32,
    /// Bytes of calendar data a user may store (quota-available-bytes).
    pub quota_bytes: i64,
    /// How long a deletion stays reportable to sync-collection (RFC 6578 §3.6). A client
    /// offline for longer gets DAV:valid-sync-token and resyncs in full.
    pub tombstone_retention_days: u32,
    /// Whole-collection listings (PROPFIND Depth 1 over the members, sync-collection, a
    /// calendar's export) built at once; more wait their turn. Each holds the collection's
    /// metadata and its answer in memory, so this bounds the server's peak memory on big
    /// calendars. None: twice the number of CPU cores.
    pub concurrent_listings: Option<u32>,
    /// WebDAV locks (RFC 4918 §6) one user may hold at once; a LOCK beyond is refused (503).
    pub max_locks_per_user: u32,
    /// The longest a lock lasts without a refresh (RFC 4918 §10.7): a longer or `Infinite`
    /// Timeout gets this, so a crashed client's lock ends.
    pub lock_max_timeout_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// How long a verified credential is trusted without running argon2 again.
    pub cache_ttl_secs: u64,
    /// How long a user's row is used without reading it again, in milliseconds: a user deleted
    /// or a password changed with the CLI stops working within this time (a new password works
    /// at once). 0 reads the row on every request.
    pub user_cache_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Put before every Redis key, so deployments sharing one Redis keep apart.
    pub redis_prefix: String,
    /// The longest one Redis call may take before it counts as a miss and opens the breaker.
    pub redis_timeout_ms: u64,
    /// How many entries the in-process cache (used without Redis) holds at most.
    pub memory_max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_prefix: RedisSettings::DEFAULT_PREFIX.into(),
            redis_timeout_ms: RedisSettings::DEFAULT_TIMEOUT.as_millis() as u64,
            memory_max_entries: 10_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_body: 10 * 1024 * 1024,
            max_resource_size: 2 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            min_date_time: "19000101T000000Z".into(),
            max_date_time: "21001231T235959Z".into(),
            max_instances: 10_000,
            max_attendees_per_instance: 100,
            quota_bytes: 1024 * 1024 * 1024,
            tombstone_retention_days: 180,
            concurrent_listings: None,
            max_locks_per_user: 1000,
            lock_max_timeout_secs: 3600,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { cache_ttl_secs: 300, user_cache_ms: 1000 }
    }
}
