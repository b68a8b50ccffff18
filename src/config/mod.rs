//! Typed configuration: defaults, then an optional TOML file (`--config FILE`), then `KALENDS_*`
//! environment overrides. Unknown TOML keys are errors that name the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod sections;

pub use sections::*;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {name}: {message}")]
    Env { name: &'static str, message: String },
}

/// The whole configuration. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (KALENDS_LISTEN).
    pub listen: SocketAddr,
    /// Where the embedded SQLite database lives (KALENDS_DATA_DIR).
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; default: `kalends.db` in `data_dir` (KALENDS_DATABASE_URL).
    pub database_url: Option<String>,
    /// Optional Redis for shared caches (KALENDS_REDIS_URL).
    pub redis_url: Option<String>,
    /// Absolute base URL clients see, when behind a proxy (KALENDS_PUBLIC_URL), e.g.
    /// `https://cal.example.org/dav/`. Its path becomes the prefix of every href.
    pub public_url: Option<String>,
    /// tracing filter, e.g. `info` or `kalends=debug` (KALENDS_LOG).
    pub log: String,
    /// `text` (default) or `json`: one JSON object per line (KALENDS_LOG_FORMAT).
    pub log_format: LogFormat,
    /// A separate address serving only `GET /metrics` (KALENDS_METRICS_LISTEN), e.g. on a
    /// network only Prometheus reaches.
    pub metrics_listen: Option<SocketAddr>,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`, on the main listener
    /// and on `metrics_listen` alike (KALENDS_METRICS_TOKEN). With neither set, `/metrics` is
    /// not served at all.
    pub metrics_token: Option<String>,
    /// SMTP relay for invitations to people outside the server (iMIP, RFC 6047), in lettre's
    /// URL form: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`, `smtps://host`
    /// (KALENDS_SMTP_URL). Without it email is off and external recipients stay at
    /// SCHEDULE-STATUS 1.0 (queued) until it is set.
    pub smtp_url: Option<String>,
    /// The sender of those emails, e.g. `Kalends <calendar@example.org>` (KALENDS_MAIL_FROM);
    /// required with `smtp_url`. Mails show the organizer's name with this address.
    pub mail_from: Option<String>,
    pub imip: ImipConfig,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub cache: CacheConfig,
    pub scheduling: SchedulingConfig,
    pub shutdown: ShutdownConfig,
    pub rate_limit: RateLimitConfig,
    pub reminders: ReminderConfig,
    /// This node's name in every log line and in `kalends_node_info` (KALENDS_NODE); default
    /// the host name and the listening port, e.g. `cal1:5232`, so that two nodes on one host
    /// differ too (decision 0031).
    pub node_name: Option<String>,
}


impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5232)),
            data_dir: PathBuf::from("./kalends-data"),
            database_url: None,
            redis_url: None,
            public_url: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            metrics_listen: None,
            metrics_token: None,
            smtp_url: None,
            mail_from: None,
            imip: ImipConfig::default(),
            limits: Limits::default(),
            auth: AuthConfig::default(),
            cache: CacheConfig::default(),
            scheduling: SchedulingConfig::default(),
            shutdown: ShutdownConfig::default(),
            rate_limit: RateLimitConfig::default(),
            reminders: ReminderConfig::default(),
            node_name: None,
        }
    }
}


impl Config {
    /// Defaults, then `file` (if any), then the environment given as (name, value) pairs.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            // toml's message names the unknown key and where it is; keep it on one line.
            message: e.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }

    fn apply_env(&mut self, env: impl IntoIterator<Item = (String, String)>) -> Result<(), ConfigError> {
        for (name, value) in env {
            match name.as_str() {
                "KALENDS_LISTEN" => {
                    self.listen = value.parse().map_err(|e| ConfigError::Env {
                        name: "KALENDS_LISTEN",
                        message: format!("{value:?}: {e}"),
                    })?;
                }
                "KALENDS_DATA_DIR" => self.data_dir = PathBuf::from(value),
                "KALENDS_DATABASE_URL" => self.database_url = non_empty(value),
                "KALENDS_REDIS_URL" => self.redis_url = non_empty(value),
                "KALENDS_PUBLIC_URL" => self.public_url = non_empty(value),
                "KALENDS_LOG" => self.log = value,
                "KALENDS_LOG_FORMAT" => {
                    self.log_format =
                        value.parse().map_err(|message| ConfigError::Env { name: "KALENDS_LOG_FORMAT", message })?;
                }
                "KALENDS_METRICS_LISTEN" if value.is_empty() => self.metrics_listen = None,
                "KALENDS_METRICS_LISTEN" => {
                    self.metrics_listen = Some(value.parse().map_err(|e| ConfigError::Env {
                        name: "KALENDS_METRICS_LISTEN",
                        message: format!("{value:?}: {e}"),
                    })?);
                }
                "KALENDS_METRICS_TOKEN" => self.metrics_token = non_empty(value),
                "KALENDS_NODE" => self.node_name = non_empty(value),
                "KALENDS_SMTP_URL" => self.smtp_url = non_empty(value),
                "KALENDS_MAIL_FROM" => self.mail_from = non_empty(value),
                "KALENDS_REMINDERS" => {
                    self.reminders.enabled = match value.as_str() {
                        "on" | "true" | "1" => true,
                        "off" | "false" | "0" => false,
                        _ => {
                            return Err(ConfigError::Env { name: "KALENDS_REMINDERS", message: format!("{value:?}: use on or off") });
                        }
                    };
                }
                "KALENDS_RATE_LIMIT" => {
                    self.rate_limit.enabled = match value.as_str() {
                        "on" | "true" | "1" => true,
                        "off" | "false" | "0" => false,
                        _ => {
                            return Err(ConfigError::Env { name: "KALENDS_RATE_LIMIT", message: format!("{value:?}: use on or off") });
                        }
                    };
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_url {
            public_base(url).map_err(|message| ConfigError::Env { name: "public_url", message })?;
        }
        if let Some(from) = &self.mail_from
            && from.parse::<lettre::message::Mailbox>().is_err()
        {
            return Err(ConfigError::Env { name: "mail_from", message: format!("{from:?} is not an address like `Kalends <calendar@example.org>`") });
        }
        if self.smtp_url.is_some() && self.mail_from.is_none() {
            return Err(ConfigError::Env { name: "mail_from", message: "required when smtp_url is set".into() });
        }
        if self.imip.batch == 0 || self.imip.lease_secs == 0 || self.imip.poll_ms == 0 {
            return Err(ConfigError::Env { name: "imip", message: "batch, lease_secs and poll_ms must be at least 1".into() });
        }
        let rl = &self.rate_limit;
        for (name, value) in [
            ("rate_limit.principal_per_second", rl.principal_per_second),
            ("rate_limit.principal_burst", rl.principal_burst),
            ("rate_limit.anonymous_per_minute", rl.anonymous_per_minute),
            ("rate_limit.anonymous_burst", rl.anonymous_burst),
            ("rate_limit.login_failures_per_minute", rl.login_failures_per_minute),
            ("rate_limit.nodes", rl.nodes),
        ] {
            if value == 0 {
                return Err(ConfigError::Env { name, message: "must be at least 1 (turn limits off with rate_limit.enabled = false)".into() });
            }
        }
        if self.metrics_token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            // An empty token would be a token anyone can send.
            return Err(ConfigError::Env { name: "metrics_token", message: "must not be empty".into() });
        }
        if self.cache.redis_timeout_ms == 0 {
            // A zero timeout would turn every Redis call into a failure.
            return Err(ConfigError::Env { name: "cache.redis_timeout_ms", message: "must be at least 1".into() });
        }
        for (name, value) in [
            ("limits.min_date_time", &self.limits.min_date_time),
            ("limits.max_date_time", &self.limits.max_date_time),
        ] {
            if parse_utc(value).is_none() {
                return Err(ConfigError::Env {
                    name,
                    message: format!("{value:?} is not a UTC date-time like 19000101T000000Z"),
                });
            }
        }
        Ok(())
    }

    /// The database URL in use: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("kalends.db").display()),
        }
    }

    /// The node's name: `node_name`, else `<host name>:<listening port>`.
    pub fn node_name(&self) -> String {
        self.node_name_on(self.listen.port())
    }

    /// The node's name when it listens on `port` (which `listen` may leave to the system).
    pub fn node_name_on(&self, port: u16) -> String {
        if let Some(name) = &self.node_name {
            return name.clone();
        }
        // Linux names the host here; elsewhere /etc/hostname usually does.
        let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|f| std::fs::read_to_string(f).ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "kalends".to_owned());
        format!("{host}:{port}")
    }

    /// The `host[:port]` of the public URL, when one is configured.
    pub fn public_authority(&self) -> Option<String> {
        let url = self.public_url.as_deref()?;
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
        let authority = rest.split('/').next().unwrap_or("");
        (!authority.is_empty()).then(|| authority.to_owned())
    }

    /// The href prefix (path of the public URL without trailing slash; "" when none).
    pub fn base_path(&self) -> String {
        self.public_url
            .as_deref()
            .and_then(|u| public_base(u).ok())
            .unwrap_or_default()
    }

    pub fn min_date_time(&self) -> i64 {
        parse_utc(&self.limits.min_date_time).unwrap_or(i64::MIN)
    }

    pub fn max_date_time(&self) -> i64 {
        parse_utc(&self.limits.max_date_time).unwrap_or(i64::MAX)
    }
}

fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

/// The path part of a public URL, without trailing slash.
fn public_base(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    Ok(path.trim_end_matches('/').to_owned())
}

/// Parses an RFC 5545 UTC DATE-TIME (`YYYYMMDDTHHMMSSZ`) to Unix seconds.
pub fn parse_utc(value: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|dt| dt.and_utc().timestamp())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn defaults_then_env() {
        let c = Config::load(None, env(&[("KALENDS_LISTEN", "0.0.0.0:8080"), ("OTHER", "x")])).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.database_url(), "sqlite://./kalends-data/kalends.db");
        let c = Config::load(None, env(&[("KALENDS_DATABASE_URL", "postgres://h/db")])).unwrap();
        assert_eq!(c.database_url(), "postgres://h/db");
    }

    #[test]
    fn the_node_is_named_by_setting_or_host_and_port() {
        let c = Config::load(None, env(&[("KALENDS_LISTEN", "127.0.0.1:5240")])).unwrap();
        let name = c.node_name();
        assert!(name.ends_with(":5240") && name.len() > ":5240".len(), "{name}");
        assert!(c.node_name_on(6000).ends_with(":6000"));
        let c = Config::load(None, env(&[("KALENDS_NODE", "cal-a")])).unwrap();
        assert_eq!(c.node_name(), "cal-a");
        assert_eq!(c.node_name_on(6000), "cal-a");
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\n[limits]\nmax_bodyy = 3\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("max_bodyy"), "{err}");
    }

    #[test]
    fn file_values_and_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\npublic_url = \"https://x.org/dav/\"\n").unwrap();
        let c = Config::load(Some(&path), env(&[("KALENDS_LISTEN", "127.0.0.1:2")])).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.base_path(), "/dav");
    }

    #[test]
    fn shutdown_settings() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!((c.shutdown.grace_ms, c.shutdown.deadline_ms), (5000, 30_000));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[shutdown]\ngrace_ms = 0\ndeadline_ms = 100\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!((c.shutdown.grace_ms, c.shutdown.deadline_ms), (0, 100));
    }

    #[test]
    fn rate_limit_settings() {
        let c = Config::load(None, env(&[])).unwrap();
        assert!(c.rate_limit.enabled);
        assert_eq!((c.rate_limit.principal_per_second, c.rate_limit.principal_burst), (100, 1_000));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[rate_limit]\nprincipal_burst = 7\ntrusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(c.rate_limit.principal_burst, 7);
        assert_eq!(c.rate_limit.trusted_proxies.len(), 2);
        std::fs::write(&path, "[rate_limit]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").unwrap();
        assert!(Config::load(Some(&path), env(&[])).is_err(), "a CIDR that is not one");
        std::fs::write(&path, "[rate_limit]\nanonymous_burst = 0\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("rate_limit.anonymous_burst"), "{err}");
        let off = Config::load(None, env(&[("KALENDS_RATE_LIMIT", "off")])).unwrap();
        assert!(!off.rate_limit.enabled);
        assert!(Config::load(None, env(&[("KALENDS_RATE_LIMIT", "maybe")])).is_err());
    }

    #[test]
    fn cache_settings() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.redis_url, None);
        assert_eq!((c.cache.redis_prefix.as_str(), c.cache.redis_timeout_ms), ("kalends:", 250));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "redis_url = \"redis://h\"\n[cache]\nredis_prefix = \"a:\"\nmemory_max_entries = 5\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(c.redis_url.as_deref(), Some("redis://h"));
        assert_eq!((c.cache.redis_prefix.as_str(), c.cache.memory_max_entries), ("a:", 5));
        let c = Config::load(Some(&path), env(&[("KALENDS_REDIS_URL", "")])).unwrap();
        assert_eq!(c.redis_url, None, "an empty KALENDS_REDIS_URL turns Redis off");
        std::fs::write(&path, "[cache]\nredis_timeout_ms = 0\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("cache.redis_timeout_ms"), "{err}");
    }

    #[test]
    fn email_settings() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!((c.smtp_url, c.imip.per_hour, c.imip.per_day), (None, 200, 1000));
        let c = Config::load(None, env(&[("KALENDS_SMTP_URL", "smtp://h:25"), ("KALENDS_MAIL_FROM", "Kalends <c@example.org>")])).unwrap();
        assert_eq!((c.smtp_url.as_deref(), c.mail_from.as_deref()), (Some("smtp://h:25"), Some("Kalends <c@example.org>")));
        let err = Config::load(None, env(&[("KALENDS_SMTP_URL", "smtp://h:25")])).unwrap_err().to_string();
        assert!(err.contains("mail_from"), "{err}");
        assert!(Config::load(None, env(&[("KALENDS_MAIL_FROM", "not an address")])).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[imip]\nper_hour = 5\nretry_initial_secs = 1\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!((c.imip.per_hour, c.imip.retry_initial_secs, c.imip.batch), (5, 1, 50));
    }

    #[test]
    fn log_format_and_metrics_settings() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!((c.log_format, c.metrics_listen, c.metrics_token), (LogFormat::Text, None, None));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "log_format = \"json\"\nmetrics_listen = \"127.0.0.1:9464\"\nmetrics_token = \"s3cret\"\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9464));
        assert_eq!(c.metrics_token.as_deref(), Some("s3cret"));
        let c = Config::load(
            Some(&path),
            env(&[("KALENDS_LOG_FORMAT", "text"), ("KALENDS_METRICS_LISTEN", ""), ("KALENDS_METRICS_TOKEN", "t2")]),
        )
        .unwrap();
        assert_eq!((c.log_format, c.metrics_listen, c.metrics_token.as_deref()), (LogFormat::Text, None, Some("t2")));
        let c = Config::load(None, env(&[("KALENDS_METRICS_LISTEN", "[::1]:9000"), ("KALENDS_LOG_FORMAT", "json")])).unwrap();
        assert_eq!((c.metrics_listen.map(|a| a.port()), c.log_format), (Some(9000), LogFormat::Json));
        // Unknown values name their key, in the file and in the environment.
        std::fs::write(&path, "log_format = \"xml\"\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("log_format") && err.contains("xml"), "{err}");
        let err = Config::load(None, env(&[("KALENDS_LOG_FORMAT", "xml")])).unwrap_err().to_string();
        assert!(err.contains("KALENDS_LOG_FORMAT") && err.contains("xml"), "{err}");
        let err = Config::load(None, env(&[("KALENDS_METRICS_LISTEN", "nope")])).unwrap_err().to_string();
        assert!(err.contains("KALENDS_METRICS_LISTEN"), "{err}");
        std::fs::write(&path, "metrics_token = \" \"\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("metrics_token"), "{err}");
    }

    #[test]
    fn bad_values_refused() {
        assert!(Config::load(None, env(&[("KALENDS_LISTEN", "nope")])).is_err());
        assert!(Config::load(None, env(&[("KALENDS_PUBLIC_URL", "ftp://x")])).is_err());
        assert_eq!(parse_utc("19700101T000100Z"), Some(60));
    }
}
