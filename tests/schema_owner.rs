//! Every table can be keyed by its owner (issue 22, docs/scaling.md): each row reaches one row
//! of `users` through NOT NULL foreign keys, so the owner's id can become a distribution
//! column (Citus) or a partition key, filled in by following those keys. Read from each
//! engine's catalog after all migrations, so a table added later is checked too; a table with
//! no owner must be listed in `GLOBAL` with the reason, and is then a reference table.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, PgConnection, Row, SqliteConnection};

/// Tables that belong to no user, and why (docs/scaling.md: replicated to every shard as
/// reference tables, or kept on the coordinator).
const GLOBAL: &[(&str, &str)] = &[
    ("_sqlx_migrations", "the schema's migration history, one per database"),
    ("users", "the owners themselves; their id is the distribution column"),
    ("rsvp_keys", "the server's RSVP signing keys, read by every node: a reference table"),
    ("alarm_backfill", "one row: the cursor of the reminder backfill pass over all objects"),
];

/// A foreign key: `table.column` (NOT NULL or not) → `target`.
#[derive(Debug)]
struct Fk {
    table: String,
    column: String,
    not_null: bool,
    target: String,
}

/// The path of NOT NULL keys from `table` to `users`, e.g. objects.collection_id →
/// collections.owner_id → users; None when there is none.
fn path_to_users(table: &str, fks: &[Fk], seen: &mut BTreeSet<String>) -> Option<Vec<String>> {
    if table == "users" {
        return Some(vec![]);
    }
    if !seen.insert(table.to_owned()) {
        return None;
    }
    fks.iter().filter(|f| f.table == table && f.not_null).find_map(|f| {
        let mut rest = path_to_users(&f.target, fks, seen)?;
        rest.insert(0, format!("{}.{} → {}", f.table, f.column, f.target));
        Some(rest)
    })
}

/// The tables that reach no owner and are not listed as global (and fails on a listed one that
/// does reach an owner: the list would be wrong).
fn unowned(tables: &[String], fks: &[Fk], engine: &str) -> Vec<String> {
    assert!(tables.iter().any(|t| t == "objects") && tables.iter().any(|t| t == "users"), "{engine}: the catalog read found {tables:?}");
    let global: BTreeMap<&str, &str> = GLOBAL.iter().copied().collect();
    let mut unowned = Vec::new();
    for table in tables {
        let path = path_to_users(table, fks, &mut BTreeSet::new());
        match (path, global.get(table.as_str())) {
            (Some(path), None) => println!("{engine}: {table}: {}", path.join(", ")),
            (None, Some(why)) => println!("{engine}: {table}: global ({why})"),
            (Some(_), Some(_)) if table == "users" => {}
            (Some(path), Some(_)) => panic!("{engine}: {table} is listed as global but reaches its owner: {}", path.join(", ")),
            (None, None) => unowned.push(table.clone()),
        }
    }
    unowned
}

fn check(tables: &[String], fks: &[Fk], engine: &str) {
    let unowned = unowned(tables, fks, engine);
    assert!(
        unowned.is_empty(),
        "{engine}: no NOT NULL foreign keys lead from {unowned:?} to users; give each row its owner (a key to users, or to a table that has one), or list the table in GLOBAL with the reason"
    );
}

#[tokio::test]
async fn every_sqlite_table_reaches_its_owner() {
    let (store, dir) = support::sqlite_store().await;
    drop(store);
    let url = format!("sqlite://{}", dir.path().join("kalends.db").display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut fks = Vec::new();
    for table in &tables {
        // An INTEGER PRIMARY KEY is the rowid: never NULL, though the pragma says nothing.
        let not_null: BTreeMap<String, bool> = sqlx::query("SELECT name, \"notnull\" OR (pk > 0 AND upper(type) = 'INTEGER') FROM pragma_table_info($1)")
            .bind(table)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) != 0))
            .collect();
        for row in sqlx::query("SELECT \"from\", \"table\" FROM pragma_foreign_key_list($1)").bind(table).fetch_all(&mut conn).await.unwrap() {
            let column: String = row.get(0);
            let not_null = not_null.get(&column).copied().unwrap_or(false);
            fks.push(Fk { table: table.clone(), column, not_null, target: row.get(1) });
        }
    }
    check(&tables, &fks, "sqlite");
}

#[tokio::test]
async fn every_postgres_table_reaches_its_owner() {
    let (store, pg) = support::postgres_store().await;
    drop(store);
    let mut conn = PgConnection::connect(pg.url()).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let fks = sqlx::query(
        "SELECT c.conrelid::regclass::text, a.attname::text, a.attnotnull, c.confrelid::regclass::text \
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| Fk { table: r.get(0), column: r.get(1), not_null: r.get(2), target: r.get(3) })
    .collect::<Vec<_>>();
    conn.close().await.unwrap();
    check(&tables, &fks, "postgres");
}

#[test]
fn a_table_without_an_owner_is_found() {
    let fks = vec![
        Fk { table: "collections".into(), column: "owner_id".into(), not_null: true, target: "users".into() },
        Fk { table: "objects".into(), column: "collection_id".into(), not_null: true, target: "collections".into() },
        Fk { table: "loose".into(), column: "collection_id".into(), not_null: false, target: "collections".into() },
    ];
    assert_eq!(path_to_users("objects", &fks, &mut BTreeSet::new()).unwrap().len(), 2);
    assert_eq!(path_to_users("loose", &fks, &mut BTreeSet::new()), None, "a nullable key leads nowhere for sure");
    let tables: Vec<String> = ["users", "collections", "objects", "loose"].map(String::from).to_vec();
    assert_eq!(unowned(&tables, &fks, "test"), ["loose"]);
}
