//! Composition root: opens the store chosen by the database URL and the cache chosen by the
//! Redis URL, bootstraps the first user, wires the DAV context and authenticator, and runs the
//! HTTP server until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cache::{Cache, RedisCache, RedisSettings};
use crate::config::Config;
use crate::dav::resource::Paths;
use crate::dav::{DavContext, DavLimits};
use crate::http::limit::RateLimits;
use crate::http::metrics::{MetricsAccess, serve_metrics};
use crate::http::server::{HttpState, serve};
use crate::metrics::Metrics;
use crate::service::auth::Authenticator;
use crate::service::scheduling::inbound::{Receipt, receive};
use crate::service::users::bootstrap_admin;
use crate::store::Store;
use crate::service::reminders::{ReminderSettings, Sender};
use crate::worker::imip::{ImipSettings, Mailer, spawn_imip};
use crate::worker::reminders::spawn_reminders;

/// Opens and migrates the configured database (creating the data dir for SQLite).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if !url.starts_with("postgres") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    }
    Store::open(&url).await.with_context(|| format!("cannot open database {}", redact(&url)))
}

/// The cache the configuration asks for: Redis when `redis_url` is set, else in process.
/// Redis is not contacted here (the first request connects), so a server started while Redis is
/// down serves at once and uses Redis once it answers; only a malformed URL is an error.
pub fn open_cache(config: &Config) -> anyhow::Result<Cache> {
    let cache = match &config.redis_url {
        Some(url) => {
            let settings = RedisSettings {
                prefix: config.cache.redis_prefix.clone(),
                timeout: Duration::from_millis(config.cache.redis_timeout_ms),
                ..RedisSettings::new(url.as_str())
            };
            let cache = RedisCache::open(settings).with_context(|| format!("redis_url {}", redact(url)))?;
            tracing::info!(
                url = %redact(url),
                prefix = %cache.prefix(),
                timeout = ?cache.timeout(),
                "cache: Redis (connects on first use; answers without it while unreachable)"
            );
            Cache::Redis(cache)
        }
        None => {
            tracing::info!(max_entries = config.cache.memory_max_entries, "cache: in process (no redis_url)");
            Cache::memory(config.cache.memory_max_entries)
        }
    };
    Ok(cache)
}

/// A running server: its address, and a handle to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub store: Store,
    /// The server's cache, so tests can see which backend it uses and how it is doing.
    pub cache: Cache,
    /// Where `metrics_listen` is bound (tests bind port 0 and read it here).
    pub metrics_addr: Option<SocketAddr>,
    /// The server's metrics, so tests (and the rate limiter's) can count into them.
    pub metrics: Arc<Metrics>,
    /// The clock lock expiry is decided on, so tests can move it forward.
    pub clock: crate::service::clock::Clock,
    stop: watch::Sender<bool>,
    /// Shared with the HTTP state: set first, so `/readyz` answers 503 through the grace.
    draining: Arc<AtomicBool>,
    grace: Duration,
    task: JoinHandle<()>,
    purge: JoinHandle<()>,
    timelines: JoinHandle<()>,
    imip: Option<JoinHandle<()>>,
    reminders: Option<JoinHandle<()>>,
    metrics_task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Drains and stops: `/readyz` turns 503 at once while requests are still served for the
    /// grace (`shutdown.grace_ms`), so a load balancer moves traffic away first; then the
    /// listener closes, open requests get up to `shutdown.deadline_ms`, and the background
    /// workers stop after their current item. Returns when all of them have.
    pub async fn stop(self) {
        self.draining.store(true, Ordering::Release);
        tracing::info!(grace = ?self.grace, "draining: /readyz answers 503; still serving through the grace");
        tokio::time::sleep(self.grace).await;
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Some(metrics) = self.metrics_task {
            let _ = metrics.await;
        }
        let _ = self.purge.await;
        let _ = self.timelines.await;
        if let Some(imip) = self.imip {
            let _ = imip.await;
        }
        if let Some(reminders) = self.reminders {
            let _ = reminders.await;
        }
    }
}

/// `limits.concurrent_listings`, or twice the CPU cores: listings are CPU work (on the runtime
/// and, for SQLite, the connection threads), so more at once only add memory.
fn concurrent_listings(config: &Config) -> usize {
    match config.limits.concurrent_listings {
        Some(n) => usize::try_from(n.max(1)).unwrap_or(usize::MAX),
        None => 2 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    }
}

/// The iMIP sender when `smtp_url` is set (docs/decisions/0017-imip-sending.md); without it the
/// outbox keeps its messages (SCHEDULE-STATUS 1.0) until email is configured. A malformed URL
/// or sender is an error; the relay itself is not contacted here.
pub fn open_mailer(config: &Config) -> anyhow::Result<Option<Arc<Mailer>>> {
    let (Some(url), Some(from)) = (&config.smtp_url, &config.mail_from) else {
        tracing::info!("email: off (no smtp_url); invitations to people outside the server wait in the outbox");
        return Ok(None);
    };
    let settings = ImipSettings::from_config(config);
    let mailer = Mailer::new(url, from, settings, Duration::from_secs(config.imip.smtp_timeout_secs.max(1)))
        .with_context(|| format!("smtp_url {}", redact(url)))?
        .with_rsvp_links(config.public_url.clone());
    if config.public_url.is_none() {
        tracing::info!("email: invitations carry no RSVP link (no public_url to link to)");
    }
    tracing::info!(url = %redact(url), from = %from, "email: iMIP invitations sent through SMTP");
    Ok(Some(Arc::new(mailer)))
}

/// The reminder sender's settings when reminders are on and email is configured (issue 19);
/// without email the schedules are still kept, and reminders start with it.
fn reminder_sender(config: &Config, email: bool) -> Option<(ReminderSettings, Sender)> {
    let settings = ReminderSettings::from_config(config);
    if !settings.enabled {
        tracing::info!("reminders: off (reminders.enabled = false)");
        return None;
    }
    let mailbox = config.mail_from.as_deref().and_then(|from| from.parse().ok()).filter(|_| email)?;
    tracing::info!(max_late_minutes = config.reminders.max_late_minutes, "reminders: VALARMs are emailed");
    Some((settings, Sender { mailbox, key: None }))
}

/// What every DAV handler (and the scheduling use-cases outside HTTP) needs.
pub fn dav_context(config: &Config, store: Store, cache: Cache) -> DavContext {
    DavContext {
        store,
        paths: Paths::new(config.base_path()).with_public_authority(config.public_authority()),
        limits: DavLimits {
            max_resource_size: config.limits.max_resource_size,
            min_date_time: config.min_date_time(),
            max_date_time: config.max_date_time(),
            max_instances: config.limits.max_instances,
            quota_bytes: config.limits.quota_bytes,
            max_attendees_per_instance: config.limits.max_attendees_per_instance,
            max_external_recipients: config.imip.max_recipients,
            freebusy_lookup: config.scheduling.freebusy_lookup,
            max_locks_per_user: config.limits.max_locks_per_user,
            lock_max_timeout_secs: config.limits.lock_max_timeout_secs,
        },
        cache,
        listings: Arc::new(tokio::sync::Semaphore::new(concurrent_listings(config))),
        alarm_wake: Arc::new(tokio::sync::Notify::new()),
        public_url: config.public_url.clone(),
        clock: crate::service::clock::Clock::default(),
    }
}

/// `kalends imip receive`: one email from the MTA through the inbound scheduling pipeline,
/// with the server's configuration and database. A database that cannot be opened is a
/// temporary failure (the MTA keeps the message and tries again).
pub async fn imip_receive(config: &Config, raw: &[u8]) -> Receipt {
    // Input that is not mail is refused before the database is opened: no retry helps it.
    if let Err(e) = crate::service::scheduling::mail::parse(raw) {
        return Receipt::NotMail(e.to_string());
    }
    let store = match open_store(config).await {
        Ok(s) => s,
        Err(e) => return Receipt::TempFail(format!("{e:#}")),
    };
    let dav = dav_context(config, store, Cache::memory(16));
    receive(&dav.sched(), config.scheduling.external_invitations, raw).await
}

/// Starts serving on `listener` with an already opened store (tests bind 127.0.0.1:0).
pub fn start(config: &Config, store: Store, listener: TcpListener) -> anyhow::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let cache = open_cache(config)?;
    let dav = dav_context(config, store.clone(), cache.clone());
    let clock = dav.clock.clone();
    let draining = Arc::new(AtomicBool::new(false));
    let mailer = open_mailer(config)?;
    let metrics = Arc::new(Metrics::new(&config.node_name_on(addr.port()), store.clone(), cache.clone(), mailer.clone()));
    let metrics_access = MetricsAccess::new(config.metrics_token.as_deref());
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(bind_now(at).with_context(|| format!("cannot listen on metrics_listen {at}"))?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let state = Arc::new(HttpState {
        dav,
        auth: Authenticator::new(
            store.clone(),
            Duration::from_secs(config.auth.cache_ttl_secs),
            Duration::from_millis(config.auth.user_cache_ms),
        ),
        limits: RateLimits::new(&config.rate_limit, &cache),
        max_body: config.limits.max_request_body,
        max_header_bytes: config.limits.max_header_bytes,
        draining: draining.clone(),
        shutdown_deadline: Duration::from_millis(config.shutdown.deadline_ms),
        metrics: metrics.clone(),
        metrics_access: metrics_access.clone(),
    });
    let (stop, mut stopped) = watch::channel(false);
    let retention = Duration::from_secs(u64::from(config.limits.tombstone_retention_days) * 86_400);
    let purge = crate::worker::spawn_purge(store.clone(), retention, crate::worker::PURGE_EVERY, stopped.clone());
    let timelines = crate::worker::spawn_timelines(store.clone(), crate::worker::TIMELINES_EVERY, stopped.clone());
    let reminders = reminder_sender(config, mailer.is_some())
        .map(|(settings, sender)| spawn_reminders(store.clone(), settings, sender, state.dav.alarm_wake.clone(), stopped.clone()));
    let imip = mailer.map(|mailer| spawn_imip(mailer, store.clone(), stopped.clone()));
    let metrics_task = metrics_listener.map(|listener| {
        let mut stopped = stopped.clone();
        let paths = state.dav.paths.clone();
        if let Some(addr) = metrics_addr {
            tracing::info!(%addr, "metrics: GET /metrics served on metrics_listen");
        }
        tokio::spawn(serve_metrics(listener, metrics.clone(), metrics_access, paths, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    let task = tokio::spawn(async move {
        serve(listener, state, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await;
    });
    let grace = Duration::from_millis(config.shutdown.grace_ms);
    let server = RunningServer {
        addr,
        store,
        cache,
        metrics_addr,
        metrics,
        clock,
        stop,
        draining,
        grace,
        task,
        purge,
        timelines,
        imip,
        reminders,
        metrics_task,
    };
    Ok(server)
}

/// Binds `addr` at once (inside the runtime), so a taken port fails the start, not later.
fn bind_now(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// `kalends serve`: open, bootstrap, listen, and run until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if let Some(password) = bootstrap_admin(&store).await? {
        // Shown once: the database keeps only the argon2id hash.
        println!("Created user 'admin' with password: {password}");
        println!("Change it with: kalends user passwd admin --password-stdin");
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let server = start(&config, store.clone(), listener)?;
    tracing::info!(addr = %server.addr, engine = store.engine(), "Kalends is serving");
    shutdown_signal().await;
    tracing::info!("shutting down");
    // An operator who signals again does not want to wait out the grace and deadline: the
    // process exits at once, dropping whatever is still under way.
    tokio::select! {
        () = server.stop() => tracing::info!("stopped"),
        () = shutdown_signal() => tracing::warn!("second signal: exiting without waiting for the drain"),
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Hides a password in a database or Redis URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(super::redact("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(super::redact("redis://u:p@ss@h"), "redis://u:***@h");
        assert_eq!(super::redact("redis://h:6379"), "redis://h:6379");
    }

    #[tokio::test]
    async fn email_follows_smtp_url() {
        let mut config = crate::config::Config::default();
        assert!(super::open_mailer(&config).expect("email off").is_none(), "email is off without smtp_url");
        config.mail_from = Some("Kalends <c@example.org>".into());
        // Nothing listens on port 1: the relay is not contacted at start.
        config.smtp_url = Some("smtp://127.0.0.1:1".into());
        assert!(super::open_mailer(&config).expect("a mailer").is_some());
        config.smtp_url = Some("smtpx://u:secret@h".into());
        let err = super::open_mailer(&config).err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("smtp_url") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn the_cache_follows_redis_url() {
        let mut config = crate::config::Config::default();
        assert_eq!(super::open_cache(&config).map(|c| c.backend()).ok(), Some("memory"));
        // Nothing listens on port 1, and that is fine: the server must start without Redis.
        config.redis_url = Some("redis://127.0.0.1:1".into());
        assert_eq!(super::open_cache(&config).map(|c| c.backend()).ok(), Some("redis"));
        config.redis_url = Some("redis://:secret@[::1".into());
        let err = super::open_cache(&config).err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("redis_url") && !err.contains("secret"), "{err}");
    }
}
