//! Keeps the layering true: inner modules never name outer layers or wire formats
//! (architecture.md §1). A forbidden use in any file of a folder fails the test with its place.

use std::path::Path;

/// (folder under src/, forbidden substrings)
const RULES: &[(&str, &[&str])] = &[
    ("calendar", &["hyper", "http::", "quick_xml", "sqlx", "crate::dav", "crate::api", "crate::http", "crate::store", "crate::service", "crate::cache", "crate::sched", "tokio"]),
    // iTIP is pure like calendar/, which it may use: text in, text and messages out.
    ("feed", &["hyper", "http::", "quick_xml", "sqlx", "crate::dav", "crate::api", "crate::http", "crate::store", "crate::service", "crate::cache", "crate::sched", "crate::app", "tokio"]),
    ("sched", &["hyper", "http::", "quick_xml", "sqlx", "crate::dav", "crate::api", "crate::http", "crate::store", "crate::service", "crate::cache", "crate::app", "crate::worker", "tokio"]),
    ("store", &["hyper", "http::", "quick_xml", "crate::dav", "crate::api", "crate::http", "crate::service", "crate::cache"]),
    // A port beside store/: bytes in, bytes out; it knows no wire format, SQL or caller.
    ("cache", &["hyper", "http::", "quick_xml", "sqlx", "xml", "crate::dav", "crate::api", "crate::http", "crate::service", "crate::store", "crate::calendar", "crate::sched", "crate::app", "crate::config"]),
    // iMIP composition is pure: iTIP text in, a MIME message out; the worker sends it.
    ("mail", &["hyper", "http::", "quick_xml", "sqlx", "tokio", "AsyncSmtpTransport", "crate::dav", "crate::api", "crate::http", "crate::store", "crate::service", "crate::cache", "crate::app", "crate::worker"]),
    // Device setup is pure: a server address and a user in, a profile or an SVG out.
    ("device", &["hyper", "http::", "quick_xml", "sqlx", "tokio", "crate::dav", "crate::api", "crate::http", "crate::store", "crate::service", "crate::cache", "crate::app", "crate::web"]),
    ("service", &["hyper", "http::", "quick_xml", "sqlx", "crate::dav", "crate::api", "crate::http"]),
    ("dav", &["hyper", "sqlx", "crate::http", "crate::app"]),
    // The JSON API is an outer layer treated like dav/: service/, sched/, calendar/ are inward.
    ("api", &["hyper", "sqlx", "crate::http", "crate::app"]),
    // The web page is another such edge, over the API and the services.
    ("web", &["hyper", "sqlx", "crate::http", "crate::app"]),
    // Background loops call the store and services; they speak no wire format.
    ("worker", &["hyper", "http::", "quick_xml", "sqlx", "crate::dav", "crate::api", "crate::http"]),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn inner_layers_do_not_import_outer_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut scanned = 0;
    for (folder, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(folder), &mut files);
        assert!(!files.is_empty(), "no sources under src/{folder}");
        for file in files {
            scanned += 1;
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for f in *forbidden {
                    if code.contains(f) {
                        violations.push(format!("{}:{}: uses {f}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(scanned > 10, "scanned only {scanned} files");
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}
