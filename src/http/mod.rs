//! The hyper edge: accepting connections, authentication, rate limits, body limits, request
//! logging and metrics, and the web page's sessions (web.rs).
//! Hyper types stop here; the DAV layer receives `http` parts and whole bodies.

pub mod auth;
pub mod feed;
pub mod health;
pub mod limit;
pub mod metrics;
pub mod reminders;
pub mod rsvp;
pub mod server;
pub mod web;
