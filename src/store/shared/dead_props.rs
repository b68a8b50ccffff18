//! Dead properties (PROPPATCH) of collections and objects: the SQL of both tables, their row and
//! `patch_dead_props`. The trait methods that read and patch them are with their owners.

use sqlx::FromRow;

use super::{Conn, Db};
use crate::store::{DeadProp, StoreResult};

/// The SQL of `collection_props` and `object_props`, shared by both engines.
pub mod sql {
    pub const COLLECTION_PROPS: &str = "SELECT namespace, name, xml FROM collection_props \
         WHERE collection_id = $1 ORDER BY namespace, name";
    pub const UPSERT_COLLECTION_PROP: &str = "INSERT INTO collection_props \
         (collection_id, namespace, name, xml) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (collection_id, namespace, name) DO UPDATE SET xml = excluded.xml";
    pub const DELETE_COLLECTION_PROP: &str = "DELETE FROM collection_props \
         WHERE collection_id = $1 AND namespace = $2 AND name = $3";
    pub const OBJECT_PROPS: &str = "SELECT namespace, name, xml FROM object_props \
         WHERE object_id = $1 ORDER BY namespace, name";
    pub const UPSERT_OBJECT_PROP: &str = "INSERT INTO object_props \
         (object_id, namespace, name, xml) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (object_id, namespace, name) DO UPDATE SET xml = excluded.xml";
    pub const DELETE_OBJECT_PROP: &str =
        "DELETE FROM object_props WHERE object_id = $1 AND namespace = $2 AND name = $3";
}

pub(super) struct DeadPropRow {
    namespace: String,
    name: String,
    xml: String,
}
from_row!(DeadPropRow { namespace, name, xml });

impl From<DeadPropRow> for DeadProp {
    fn from(r: DeadPropRow) -> Self {
        DeadProp {
            namespace: r.namespace,
            name: r.name,
            xml: r.xml,
        }
    }
}

/// Applies a dead-property patch; `upsert`/`delete` are the table's statements, keyed by `owner`.
pub(super) async fn patch_dead_props(
    conn: &mut Conn,
    upsert: &'static str,
    delete: &'static str,
    owner: i64,
    set: &[DeadProp],
    remove: &[(String, String)],
) -> StoreResult<()> {
    for p in set {
        sqlx::query(upsert)
            .bind(owner)
            .bind(&p.namespace)
            .bind(&p.name)
            .bind(&p.xml)
            .execute(&mut *conn)
            .await?;
    }
    for (namespace, name) in remove {
        sqlx::query(delete)
            .bind(owner)
            .bind(namespace)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
