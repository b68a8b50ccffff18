//! The schema migrations of both engines, embedded in the binary and handed to sqlx's migrator.
//!
//! sqlx's `migrate!` macro would embed them too, but it is a proc macro that links the SQLite
//! driver into the compiler, and this build routes SQLite's allocations to mimalloc by renaming
//! its `malloc` (decision 0011), which a proc macro cannot load. The files are embedded with
//! `include_str!` instead and described exactly as sqlx describes a directory of migrations
//! (version and description from the file name, checksum of the whole text), so databases
//! migrated by earlier builds see the same versions and checksums.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// One engine's migrations: each file's name and text, in version order.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(&'static [(&'static str, &'static str)]);

/// Every file in `migrations/<engine>/`, in order. A test checks these lists against the
/// directories, so a new file cannot be forgotten here.
macro_rules! embed {
    ($engine:literal: $($file:literal),+ $(,)?) => {
        Embedded(&[$(($file, include_str!(concat!("../../migrations/", $engine, "/", $file)))),+])
    };
}

pub const SQLITE: Embedded = embed!("sqlite":
    "0001_init.sql",
    "0002_collection_bytes.sql",
    "0003_objects_listing.sql",
    "0004_timelines.sql",
    "0005_scheduling.sql",
    "0006_imip_outbox.sql",
    "0007_rsvp_keys.sql",
    "0008_time_range_calendar_only.sql",
    "0009_feeds.sql",
    "0010_shares.sql",
    "0011_reminders.sql",
    "0012_app_passwords.sql",
    "0013_locks.sql",
    "0014_web.sql",
);

pub const POSTGRES: Embedded = embed!("postgres":
    "0001_init.sql",
    "0002_collection_bytes.sql",
    "0003_objects_listing.sql",
    "0004_timelines.sql",
    "0005_scheduling.sql",
    "0006_imip_outbox.sql",
    "0007_rsvp_keys.sql",
    "0008_time_range_calendar_only.sql",
    "0009_feeds.sql",
    "0010_shares.sql",
    "0011_reminders.sql",
    "0012_app_passwords.sql",
    "0013_locks.sql",
    "0014_web.sql",
);

impl Embedded {
    /// The migrations as sqlx's directory source would read them.
    fn migrations(self) -> Result<Vec<Migration>, String> {
        self.0
            .iter()
            .map(|&(file, sql)| {
                // `<version>_<description>.sql`, underscores read as spaces (sqlx's rule).
                let (version, rest) = file.split_once('_').ok_or_else(|| format!("{file}: no version"))?;
                let version: i64 = version.parse().map_err(|_| format!("{file}: version is not a number"))?;
                let description = rest.strip_suffix(".sql").ok_or_else(|| format!("{file}: not .sql"))?;
                Ok(Migration::new(
                    version,
                    Cow::Owned(description.replace('_', " ")),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                ))
            })
            .collect()
    }

    /// A migrator over these migrations.
    pub async fn migrator(self) -> Result<Migrator, sqlx::migrate::MigrateError> {
        Migrator::new(self).await
    }
}

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { self.migrations().map_err(BoxDynError::from) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file names in `migrations/<engine>/`, sorted.
    fn files(engine: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (engine, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let listed: Vec<String> = embedded.0.iter().map(|(f, _)| (*f).to_owned()).collect();
            assert_eq!(listed, files(engine), "{engine}");
        }
    }

    #[tokio::test]
    async fn migrations_read_as_sqlx_reads_the_directory() {
        for (engine, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
            let ours = embedded.migrations().expect("embedded migrations");
            let theirs = dir.as_path().resolve().await.expect("directory source");
            assert_eq!(ours.len(), theirs.len(), "{engine}");
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(
                    (a.version, &a.description, a.migration_type, &a.checksum, a.no_tx),
                    (b.version, &b.description, b.migration_type, &b.checksum, b.no_tx),
                    "{engine}"
                );
                assert_eq!(a.sql.as_str(), b.sql.as_str(), "{engine}");
            }
        }
    }
}
