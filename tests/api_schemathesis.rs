//! The JSON API against its own OpenAPI document (issue 20), by schemathesis (PyPI, pinned in
//! conformance/requirements.txt): it generates requests for every operation from the schema,
//! valid and invalid, and checks that none gets a 5xx and that every answer's status, media
//! type, headers and body are ones the document declares. Both engines; the seed is fixed so a
//! failure repeats.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;

use harness::*;
use kalends::store::UserStore;

async fn the_api_keeps_the_promises_of_its_document(engine: Engine) {
    let s = start_server(engine).await;
    // An administrator, so the user routes are exercised past their 403.
    s.store.set_admin("alice", true).await.unwrap();
    let alice = s.store.user_by_name("alice").await.unwrap().unwrap();
    let secret = kalends::service::app_passwords::create(&s.store, alice.id, "schemathesis").await.unwrap().secret;
    let cli = std::env::var_os("KALENDS_TEST_SCHEMATHESIS").map(std::path::PathBuf::from).unwrap_or_default();
    assert!(
        cli.is_file(),
        "KALENDS_TEST_SCHEMATHESIS must name the schemathesis program (tools/test-all sets it from `conformance/run --venv-api`)"
    );
    let (schema, base) = (format!("{}/api/v1/openapi.json", s.base), s.base.clone());
    // schemathesis keeps a cache of its findings in its working directory: a temporary one.
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(cli)
            .current_dir(cwd)
            .args(["run", &schema, "--url", &base, "--header", &format!("Authorization: Bearer {secret}")])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"])
            .args(["--max-examples", "30", "--seed", "20261205", "--workers", "1", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found problems:\n{report}");
    assert!(report.contains("passed") || report.contains("Passed"), "schemathesis ran nothing:\n{report}");
    s.stop().await;
}

on_both_engines!(the_api_keeps_the_promises_of_its_document);
