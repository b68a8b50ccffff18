//! A scheduling batch's locks and its recipients' checks (`write_scheduling` in sched.rs): its
//! collections locked and bumped in one statement, and the new copies' checks in one.

use sqlx::AssertSqlSafe;

use super::BumpedRow;
use super::sync::clear_tombstone;
use crate::store::{CollectionId, StoreError, StoreResult};

/// "$first, $first+1, …" for `n` values, padded to a power of two so that a few statement
/// texts serve every length (the padding repeats the last value; IN is a set).
pub(super) fn in_list(first: usize, n: usize) -> (String, usize) {
    let binds = n.max(1).next_power_of_two();
    let list: Vec<String> = (first..first + binds).map(|i| format!("${i}")).collect();
    (list.join(", "), binds)
}

pub(super) fn padded<T: Clone>(values: &[T], binds: usize) -> Vec<T> {
    let mut out = values.to_vec();
    if let Some(last) = values.last() {
        out.resize(binds, last.clone());
    }
    out
}

/// Bumps every collection of a batch (`counts`, in ascending id order), each with the bytes
/// known for it, in one statement. NotFound if one of them is gone.
///
/// For engines whose writers run concurrently (`ONE_STATEMENT_LOCKS` false) the statement first takes the rows' locks in a CTE, `SELECT … ORDER BY id FOR UPDATE`, which
/// PostgreSQL locks in the sort's order, the order every writer holding several collections
/// uses, so two batches never wait for each other in a cycle. The UPDATE then changes rows
/// this transaction holds; a row another writer changed while this one waited is updated in
/// its newest version (READ COMMITTED re-reads an updated row), so the seqs returned are
/// current. The lock and the bump were two statements, two round trips under the locks, until
/// decision 0039. SQLite's one writer is the batch's lock already.
pub(super) async fn bump_all(conn: &mut super::Conn, counts: &[(CollectionId, i64)], now: i64) -> StoreResult<Vec<(CollectionId, BumpedRow)>> {
    // "CASE id WHEN $2 THEN $3 WHEN $4 THEN $5 … END" and "IN ($2, $4, …)": placeholders only.
    let cases: Vec<String> = (0..counts.len()).map(|i| format!("WHEN ${} THEN ${}", 2 + 2 * i, 3 + 2 * i)).collect();
    let ids: Vec<String> = (0..counts.len()).map(|i| format!("${}", 2 + 2 * i)).collect();
    let (cases, ids) = (cases.join(" "), ids.join(", "));
    let text = if !super::super::ONE_STATEMENT_LOCKS {
        format!(
            "WITH l AS MATERIALIZED (SELECT id FROM collections WHERE id IN ({ids}) ORDER BY id FOR UPDATE) \
             UPDATE collections c SET sync_seq = c.sync_seq + 1, modified_at = $1, used_bytes = c.used_bytes + \
             CASE c.id {cases} ELSE 0 END FROM l WHERE c.id = l.id RETURNING c.id, c.sync_seq, c.path"
        )
    } else {
        format!(
            "UPDATE collections SET sync_seq = sync_seq + 1, modified_at = $1, used_bytes = used_bytes + \
             CASE id {cases} ELSE 0 END WHERE id IN ({ids}) RETURNING id, sync_seq, path"
        )
    };
    let mut query = sqlx::query_as::<_, (i64, i64, String)>(AssertSqlSafe(text)).bind(now);
    for (id, bytes) in counts {
        query = query.bind(id.0).bind(*bytes);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    if rows.len() != counts.len() {
        return Err(StoreError::NotFound);
    }
    Ok(rows.into_iter().map(|(id, sync_seq, path)| (CollectionId(id), BumpedRow { sync_seq, path })).collect())
}

/// The statement of `new_copy_checks` for `n` copies, and how many rows of four binds
/// (collection id, child path, name, UID) it takes: padded to a power of two, repeating the last
/// copy, so that few statement shapes are prepared.
///
/// Each copy is one row of a VALUES list joined to each table on its unique key, so every copy
/// is one probe per check. The earlier shape, four IN-lists, probed every (collection, name)
/// product, and PostgreSQL planned it afresh at every execution (~0.35 ms at bind and ~0.56 ms
/// to execute alone, ~3.5 ms under eight concurrent invitations, all of it under the batch's
/// row locks). The UID part selects no name: with it, SQLite's planner (no statistics) preferred
/// a scan of each collection through the covering listing index to the (collection_id, uid)
/// unique index (performance stop 15); a conflict is rare, its holder's name is read then.
pub(crate) fn new_copy_checks_sql(n: usize) -> (String, usize) {
    let rows = n.max(1).next_power_of_two();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let p = |k: usize| 4 * r + k;
            format!("(CAST(${} AS BIGINT), CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT))", p(1), p(2), p(3), p(4))
        })
        .collect();
    let text = format!(
        "WITH v (cid, path, name, uid) AS (VALUES {}) \
         SELECT 'c' AS what, c.parent_id AS id, c.path AS name FROM v JOIN collections c ON c.parent_id = v.cid AND c.path = v.path \
         UNION ALL SELECT 't', t.collection_id, t.name FROM v JOIN tombstones t ON t.collection_id = v.cid AND t.name = v.name \
         UNION ALL SELECT 'n', o.collection_id, o.name FROM v JOIN objects o ON o.collection_id = v.cid AND o.name = v.name \
         UNION ALL SELECT 'u:' || o.uid, o.collection_id, '' FROM v JOIN objects o ON o.collection_id = v.cid AND o.uid = v.uid",
        values.join(", ")
    );
    (text, rows)
}

/// The object holding a UID in a collection (UNIQUE (collection_id, uid)).
const UID_HOLDER: &str = "SELECT name FROM objects WHERE collection_id = $1 AND uid = $2";

/// What `put_locked` checks before each new object, for all the new copies of a batch in one
/// statement, refused in its order (the name taken: PreconditionFailed, as `Expect::Absent`;
/// a child collection of that name: AlreadyExists; the UID held by another member:
/// UidConflict), and the tombstones of their names cleared. The INSERT's UNIQUE constraints
/// stay the last word. `copies`: the batch index and collection path of each copy in `rows`.
pub(super) async fn new_copy_checks(
    conn: &mut super::Conn,
    rows: &[(usize, (CollectionId, i64, crate::store::NewObject))],
    copies: &[(usize, String)],
) -> StoreResult<()> {
    struct Copy<'a> {
        index: usize,
        collection: i64,
        name: &'a str,
        path: String,
        uid: Option<&'a str>,
    }
    let mine: Vec<Copy<'_>> = copies
        .iter()
        .filter_map(|(index, path)| {
            rows.iter().find(|(i, _)| i == index).map(|(_, (c, _, o))| Copy {
                index: *index,
                collection: c.0,
                name: o.name.as_str(),
                path: format!("{path}/{}", o.name),
                uid: o.calendar.as_ref().map(|cal| cal.uid.as_str()),
            })
        })
        .collect();
    let Some(last) = mine.last() else { return Ok(()) };
    let n = mine.len();
    let (text, rows) = new_copy_checks_sql(n);
    let mut query = sqlx::query_as::<_, (String, i64, String)>(AssertSqlSafe(text));
    // Padded with the last copy again (its rows found twice change no verdict). A copy
    // without a UID (none is) matches nothing: its own name cannot be a UID here.
    for m in mine.iter().chain(std::iter::repeat_n(last, rows - n)) {
        query = query.bind(m.collection).bind(m.path.clone()).bind(m.name.to_owned()).bind(m.uid.unwrap_or("").to_owned());
    }
    let found = query.fetch_all(&mut *conn).await?;
    let has = |what: &str, collection: i64, name: &str| found.iter().any(|(w, c, n)| w == what && *c == collection && n == name);
    for m in &mine {
        let refused = |error| Err(StoreError::InBatch { index: m.index, error: Box::new(error) });
        if has("n", m.collection, m.name) {
            return refused(StoreError::PreconditionFailed);
        }
        if has("c", m.collection, &m.path) {
            return refused(StoreError::AlreadyExists);
        }
        if let Some(uid) = m.uid {
            let what = format!("u:{uid}");
            // The name is new (checked above), so any holder of the UID is another object.
            if found.iter().any(|(w, c, _)| *w == what && *c == m.collection) {
                let existing_name: String = sqlx::query_scalar(UID_HOLDER).bind(m.collection).bind(uid).fetch_one(&mut *conn).await?;
                return refused(StoreError::UidConflict { existing_name });
            }
        }
    }
    for m in &mine {
        if has("t", m.collection, m.name) {
            clear_tombstone(conn, CollectionId(m.collection), m.name).await?;
        }
    }
    Ok(())
}
