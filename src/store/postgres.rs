//! PostgreSQL engine (placeholder until the store lands).
#![allow(unused_variables)]

use super::*;

#[derive(Clone)]
pub struct PgStore;

impl PgStore {
    pub async fn open(url: &str) -> StoreResult<Self> {
        todo!()
    }
}

impl UserStore for PgStore {
    async fn create_user(&self, user: NewUser, home: Vec<NewCollection>) -> StoreResult<User> {
        todo!()
    }
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        todo!()
    }
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        todo!()
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        todo!()
    }
    async fn count_users(&self) -> StoreResult<i64> {
        todo!()
    }
    async fn set_password(&self, name: &str, password_hash: &str) -> StoreResult<()> {
        todo!()
    }
    async fn delete_user(&self, name: &str) -> StoreResult<()> {
        todo!()
    }
    async fn used_bytes(&self, owner: UserId) -> StoreResult<i64> {
        todo!()
    }
}

impl CollectionStore for PgStore {
    async fn create_collection(&self, new: NewCollection) -> StoreResult<Collection> {
        todo!()
    }
    async fn collection_by_path(&self, owner: UserId, path: &str) -> StoreResult<Option<Collection>> {
        todo!()
    }
    async fn collection_by_id(&self, id: CollectionId) -> StoreResult<Option<Collection>> {
        todo!()
    }
    async fn child_collections(&self, owner: UserId, parent: Option<CollectionId>) -> StoreResult<Vec<Collection>> {
        todo!()
    }
    async fn patch_collection(&self, id: CollectionId, patch: CollectionPatch) -> StoreResult<Collection> {
        todo!()
    }
    async fn collection_dead_props(&self, id: CollectionId) -> StoreResult<Vec<DeadProp>> {
        todo!()
    }
    async fn delete_collection(&self, id: CollectionId) -> StoreResult<()> {
        todo!()
    }
}

impl ObjectStore for PgStore {
    async fn object_meta(&self, collection: CollectionId, name: &str) -> StoreResult<Option<ObjectMeta>> {
        todo!()
    }
    async fn object(&self, collection: CollectionId, name: &str) -> StoreResult<Option<StoredObject>> {
        todo!()
    }
    async fn objects_by_names(&self, collection: CollectionId, names: &[String]) -> StoreResult<Vec<StoredObject>> {
        todo!()
    }
    async fn list_objects(&self, collection: CollectionId) -> StoreResult<Vec<ObjectMeta>> {
        todo!()
    }
    async fn list_objects_with_data(&self, collection: CollectionId) -> StoreResult<Vec<StoredObject>> {
        todo!()
    }
    async fn objects_in_range(&self, collection: CollectionId, component: Option<ComponentKind>, start: Option<Timestamp>, end: Option<Timestamp>) -> StoreResult<Vec<StoredObject>> {
        todo!()
    }
    async fn put_object(&self, collection: CollectionId, object: NewObject, expect: Expect) -> StoreResult<PutOutcome> {
        todo!()
    }
    async fn delete_object(&self, collection: CollectionId, name: &str, expect: Expect) -> StoreResult<()> {
        todo!()
    }
    async fn transfer_object(&self, source: CollectionId, name: &str, dest: CollectionId, dest_name: &str, overwrite: bool, keep_source: bool) -> StoreResult<bool> {
        todo!()
    }
    async fn object_dead_props(&self, id: ObjectId) -> StoreResult<Vec<DeadProp>> {
        todo!()
    }
    async fn patch_object_props(&self, id: ObjectId, set: Vec<DeadProp>, remove: Vec<(String, String)>) -> StoreResult<()> {
        todo!()
    }
}

impl SyncStore for PgStore {
    async fn changes_since(&self, collection: CollectionId, since: Option<i64>, limit: Option<usize>) -> StoreResult<SyncDelta> {
        todo!()
    }
    async fn prune_tombstones(&self, before: Timestamp) -> StoreResult<u64> {
        todo!()
    }
}
