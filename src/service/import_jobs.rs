//! Imports started from the web page (issue 21, decision 0028), tracked in the store: the
//! batches' progress and then the report go to the job's row, so the page's polls may reach any
//! node behind a round-robin balancer while one node runs the import.

use tokio::sync::watch;

use super::import::{ImportReport, ImportTarget, import};
use super::{ServiceError, ServiceResult, now};
use crate::store::{ImportJob, Store, UserId, WebStore};

/// Whether `job` may name a job: 8 to 64 letters, digits, `-` or `_` (the page makes 32 hex).
pub fn valid_id(job: &str) -> bool {
    (8..=64).contains(&job.len()) && job.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh job id, for a form posted without the page's script.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Runs the import of `data` into the target as the user's job `job` (into the calendar the
/// user knows as `calendar`): the row is made first (Conflict when the user already has that
/// job), every batch moves its progress, and the end writes the report or the failure.
pub async fn run(t: &ImportTarget<'_>, user: UserId, job: &str, calendar: &str, data: &[u8]) -> ServiceResult<ImportReport> {
    let store: &Store = t.store;
    if !valid_id(job) {
        return Err(ServiceError::BadRequest("the job id is 8 to 64 letters, digits, '-' or '_'".into()));
    }
    if !store.start_import_job(user, job, calendar, now()).await? {
        return Err(ServiceError::Conflict("an import with this job id exists".into()));
    }
    // The import reports progress from inside its loop, synchronously; the row is written
    // beside it, one write per batch (a watch keeps only the newest value).
    let (tx, mut rx) = watch::channel((0usize, 0usize));
    let work = async move {
        let mut tell = move |done: usize, total: usize| {
            tx.send_replace((done, total));
        };
        import(t, data, &mut tell).await
    };
    let writer = async {
        while rx.changed().await.is_ok() {
            let (done, total) = *rx.borrow_and_update();
            let (done, total) = (i64::try_from(done).unwrap_or(i64::MAX), i64::try_from(total).unwrap_or(i64::MAX));
            if let Err(e) = store.import_progress(user, job, done, total, now()).await {
                tracing::warn!(error = %e, job, "import progress not recorded");
            }
        }
    };
    let (result, ()) = tokio::join!(work, writer);
    let (report, error) = match &result {
        Ok(report) => (serde_json::to_string(report).ok(), None),
        // The reason is shown to the user: a database failure's details stay in the log.
        Err(ServiceError::Store(_) | ServiceError::Internal(_)) => (None, Some("the server failed; try again later".to_owned())),
        Err(e) => (None, Some(e.to_string())),
    };
    store.finish_import_job(user, job, report.as_deref(), error.as_deref(), now()).await?;
    result
}

/// The user's job, as the progress resource and the report page show it.
pub async fn get(store: &Store, user: UserId, job: &str) -> ServiceResult<Option<ImportJob>> {
    if !valid_id(job) {
        return Ok(None);
    }
    Ok(store.import_job(user, job).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids() {
        assert!(valid_id(&new_id()));
        assert!(valid_id("0123456789abcdef"));
        assert!(!valid_id("short"));
        assert!(!valid_id("../../etc/passwd"));
        assert!(!valid_id(&"a".repeat(65)));
    }
}
