//! Kalends: a CalDAV/iCalendar server.
//!
//! Crate map (imports point inward: http → dav → service → calendar/store):
//! - [`app`]: composition root — store choice, bootstrap, server start/stop.
//! - [`config`]: typed configuration (TOML file + `KALENDS_*` environment).
//! - [`http`]: the hyper edge — accept loop, Basic auth, body limits, request log.
//! - [`api`]: the JSON API (issue 20); so far the JSON event ↔ iCalendar conversion.
//! - [`dav`]: WebDAV/CalDAV wire format: XML, headers, properties, one file per method.
//! - [`error`]: the one place errors become HTTP statuses and DAV:error bodies.
//! - [`service`]: use-cases (users, auth, collections, objects); no HTTP or XML.
//! - [`calendar`]: pure iCalendar domain (validate, index, export, time zones).
//! - [`feed`]: public iCalendar feeds rendered from a calendar (full, masked, busy); pure.
//! - [`device`]: device setup for one account (Apple .mobileconfig, the DAVx5 QR code); pure.
//! - [`sched`]: pure iTIP domain (RFC 6638 implicit scheduling on RFC 5546): what to store and send.
//! - [`store`]: storage ports and the SQLite / PostgreSQL engines.
//! - [`cache`]: the cache port (Redis behind a circuit breaker, or in process); failures are misses.
//! - [`worker`]: background loops beside the server (sync tombstone pruning).
//! - [`metrics`]: the Prometheus registry behind `GET /metrics`; [`logs`]: text or JSON log lines.

// mimalloc instead of glibc malloc, here so every binary linking the library gets it (the
// server, its tests and the benchmark alike): listings allocate rows on sqlx's SQLite threads
// and free them on the runtime's, which glibc answers with per-thread arenas that keep the
// memory (decision 0009). SQLite's own allocations go to the same allocator through the build
// flags in .cargo/config.toml, which also makes this library the one that links mimalloc's C
// entry points into every binary (decision 0011).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod api;
pub mod web;
pub mod app;
pub mod cache;
pub mod calendar;
pub mod config;
pub mod dav;
pub mod device;
pub mod error;
pub mod feed;
pub mod http;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod sched;
pub mod service;
pub mod store;
pub mod worker;
