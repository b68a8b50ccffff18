//! Listings, reads of a whole collection or many of its members (PROPFIND Depth 1, multiget,
//! calendar-query candidates, export): their SQL, rows and the bodies of those `ObjectStore`
//! methods.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, FromRow};

use super::objects::{ObjectMetaRow, ObjectRow};
use super::{Db, Engine, collect, corrupt};
use crate::store::{
    Candidate, CollectionId, ComponentKind, ListedObject, MemberData, MemberVisitor, ObjectMeta, StoreError, StoreResult,
    StoredObject, Timeline, Timestamp,
};

/// This capability's SQL, shared by both engines.
pub mod sql {
    /// The prefix of the multiget query; `objects_by_names` appends the `IN (…)` list.
    pub const OBJECTS_BY_NAMES_PREFIX: &str = concat!(
        "SELECT ",
        listed_cols!(),
        ", uid IS NOT NULL AS calendar, data FROM objects WHERE collection_id = $1 AND name IN ("
    );
    pub const LIST_OBJECTS: &str = concat!(
        "SELECT ",
        object_meta_cols!(),
        " FROM objects WHERE collection_id = $1 ORDER BY name"
    );
    /// Only what a listing shows (`ListedObject`), all of it in `objects_listing`.
    pub const LIST_MEMBERS: &str =
        concat!("SELECT ", listed_cols!(), " FROM objects WHERE collection_id = $1 ORDER BY name");
    pub const MEMBER_COUNT: &str = "SELECT COUNT(*) FROM objects WHERE collection_id = $1";
    pub const LIST_OBJECTS_WITH_DATA: &str = concat!(
        "SELECT ",
        object_cols!(),
        " FROM objects WHERE collection_id = $1 ORDER BY name"
    );
    /// Candidates for a time range. The COALESCE expressions must match the `objects_time_range`
    /// index in the migrations character for character, or the planners cannot use it. Both
    /// comparisons are inclusive: the result is a superset for the exact RFC 4791 §9.9 test,
    /// which counts zero-length instances at `start` and VTODO DUE/COMPLETED/CREATED at `end`.
    /// No ORDER BY: `objects_in_range` sorts the rows itself. In SQL the sort copied every
    /// candidate's whole row, its bytes included, through a temporary B-tree (SQLite) after
    /// the index range scan had produced them.
    pub const OBJECTS_IN_RANGE: &str = concat!(
        "SELECT ",
        object_cols!(),
        ", instances, instances_until FROM objects WHERE collection_id = $1 \
         AND COALESCE(last_end, 9223372036854775807) >= $2 \
         AND COALESCE(first_start, -9223372036854775807) <= $3 \
         AND component IS NOT NULL AND ($4 IS NULL OR component = $4)"
    );
}

/// Keeps the multiget's bind count far below both engines' limits (SQLite 32766, PostgreSQL
/// 65535) while still answering any real REPORT in one statement.
const MULTIGET_CHUNK: usize = 4_096;
/// Multiget IN lists up to this length are kept prepared. Lists are padded to a power of two,
/// so that is at most nine statements per connection; each client asks in a batch size of its
/// own (DAVx5 10, the benchmark 50), and parsing and planning the statement anew was a few per
/// cent of every multiget.
const MULTIGET_PREPARED: usize = 256;

struct ListedRow {
    name: String,
    etag: String,
    content_type: String,
    size: i64,
    created_at: i64,
    modified_at: i64,
    schedule_tag: Option<String>,
}
from_row!(ListedRow { name, etag, content_type, size, created_at, modified_at, schedule_tag });

impl From<ListedRow> for ListedObject {
    fn from(r: ListedRow) -> Self {
        ListedObject {
            name: r.name,
            etag: r.etag,
            content_type: r.content_type,
            size: r.size,
            created_at: r.created_at,
            modified_at: r.modified_at,
            schedule_tag: r.schedule_tag,
        }
    }
}

struct MemberDataRow {
    listed: ListedRow,
    calendar: bool,
    data: Vec<u8>,
}
from_row!(MemberDataRow { calendar, data } flatten { listed });

/// An OBJECTS_IN_RANGE row: the object and its timeline columns.
struct CandidateRow {
    object: ObjectRow,
    instances: Option<Vec<u8>>,
    instances_until: Option<i64>,
}
from_row!(CandidateRow { instances, instances_until } flatten { object });

impl TryFrom<CandidateRow> for Candidate {
    type Error = StoreError;

    fn try_from(r: CandidateRow) -> StoreResult<Self> {
        let until = r.instances_until;
        Ok(Candidate {
            object: r.object.try_into()?,
            timeline: r.instances.map(|encoded| Timeline { encoded, until }),
        })
    }
}

/// `ObjectStore::objects_by_names`.
pub(super) async fn objects_by_names(
    store: &Engine,
    collection: CollectionId,
    names: &[String],
) -> StoreResult<Vec<MemberData>> {
    let mut found = Vec::with_capacity(names.len());
    for chunk in names.chunks(MULTIGET_CHUNK) {
        let Some(last) = chunk.last() else { continue };
        // The list is padded to a power of two with its last name (IN is a set, so the
        // repeats change nothing), so a few statement texts serve every length.
        let binds = chunk.len().next_power_of_two();
        // The IN list is "$2, $3, …": placeholders only, every name is a bound argument.
        let placeholders: Vec<String> = (2..binds + 2).map(|i| format!("${i}")).collect();
        let text = format!(
            "{}{})",
            sql::OBJECTS_BY_NAMES_PREFIX,
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, MemberDataRow>(AssertSqlSafe(text))
            .persistent(binds <= MULTIGET_PREPARED)
            .bind(collection.0);
        for name in chunk.iter().chain(std::iter::repeat_n(last, binds - chunk.len())) {
            query = query.bind(name);
        }
        for row in query.fetch_all(&mut *store.reader().await?).await? {
            found.push(MemberData { member: row.listed.into(), calendar: row.calendar, data: row.data });
        }
    }
    found.sort_by(|a, b| a.member.name.cmp(&b.member.name));
    // A name asked for twice is returned once.
    found.dedup_by(|a, b| a.member.name == b.member.name);
    Ok(found)
}

/// `ObjectStore::list_objects`.
pub(super) async fn list_objects(store: &Engine, collection: CollectionId) -> StoreResult<Vec<ObjectMeta>> {
    let rows: Vec<ObjectMetaRow> = sqlx::query_as(sql::LIST_OBJECTS)
        .bind(collection.0)
        .fetch_all(&mut *store.reader().await?)
        .await?;
    collect(rows)
}

/// `ObjectStore::list_members`.
pub(super) async fn list_members(store: &Engine, collection: CollectionId, visit: &mut MemberVisitor<'_>) -> StoreResult<usize> {
    let mut conn = store.reader().await?;
    let mut rows = sqlx::query_as::<_, ListedRow>(sql::LIST_MEMBERS)
        .bind(collection.0)
        .fetch(&mut *conn);
    let mut visited = 0;
    while let Some(row) = rows.try_next().await? {
        visit(row.into())?;
        visited += 1;
    }
    Ok(visited)
}

/// `ObjectStore::member_count`.
pub(super) async fn member_count(store: &Engine, collection: CollectionId) -> StoreResult<usize> {
    let count: i64 = sqlx::query_scalar(sql::MEMBER_COUNT)
        .bind(collection.0)
        .fetch_one(&mut *store.reader().await?)
        .await?;
    usize::try_from(count).map_err(|_| corrupt(format!("collection {}: {count} members", collection.0)))
}

/// `ObjectStore::list_objects_with_data`.
pub(super) async fn list_objects_with_data(
    store: &Engine,
    collection: CollectionId,
) -> StoreResult<Vec<StoredObject>> {
    let rows: Vec<ObjectRow> = sqlx::query_as(sql::LIST_OBJECTS_WITH_DATA)
        .bind(collection.0)
        .fetch_all(&mut *store.reader().await?)
        .await?;
    collect(rows)
}

/// `ObjectStore::objects_in_range`.
pub(super) async fn objects_in_range(
    store: &Engine,
    collection: CollectionId,
    component: Option<ComponentKind>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> StoreResult<Vec<Candidate>> {
    // An open side becomes the widest bound, so one statement (and one index range) serves
    // every combination.
    let rows: Vec<CandidateRow> = sqlx::query_as(sql::OBJECTS_IN_RANGE)
        .bind(collection.0)
        .bind(start.unwrap_or(i64::MIN))
        .bind(end.unwrap_or(i64::MAX))
        .bind(component.map(ComponentKind::as_str))
        .fetch_all(&mut *store.reader().await?)
        .await?;
    let mut candidates: Vec<Candidate> = collect(rows)?;
    // Names are unique in a collection, so the order is total; bytewise on both engines.
    candidates.sort_unstable_by(|a, b| a.object.meta.name.cmp(&b.object.meta.name));
    Ok(candidates)
}
