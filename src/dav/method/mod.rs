//! One file per method; each handler runs: resolve → authorize → preconditions → service →
//! respond.

pub mod copy_move;
pub mod delete;
pub mod expand_property;
pub mod freebusy;
pub mod get;
pub mod lock;
pub mod mkcol;
pub mod options;
pub mod post;
pub mod principal_search;
pub mod propfind;
pub mod proppatch;
pub mod put;
pub mod report;
pub mod share;
pub mod unlock;
