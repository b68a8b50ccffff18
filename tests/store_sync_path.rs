//! `delta_at_path`, the sync REPORT's one lookup: the collection at a path with its delta since
//! a token, on both engines. It must answer exactly what `collection_by_path` and then
//! `changes_since` answer, and nothing of a collection the token names but the path does not.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use kalends::store::{
    CalendarIndex, Collection, CollectionId, CollectionKind, CollectionProps, CollectionStore, ComponentKind,
    ComponentSet, Expect, NewCollection, NewObject, NewUser, ObjectStore, Store, StoreError, SyncStore, User, UserId,
    UserStore,
};

contract_tests!(
    the_delta_at_a_path_is_the_delta_of_its_collection,
    a_token_of_another_collection_reads_nothing_of_it,
    tokens_out_of_range_are_refused_at_the_path,
);

fn home(path: &str) -> NewCollection {
    NewCollection {
        owner: UserId(0),
        parent: None,
        path: path.to_owned(),
        kind: CollectionKind::Calendar,
        props: CollectionProps { components: ComponentSet::ALL, ..CollectionProps::default() },
        dead_props: Vec::new(),
    }
}

async fn user_with(store: &Store, name: &str, paths: &[&str]) -> (User, Vec<Collection>) {
    let new = NewUser { name: name.to_owned(), email: None, password_hash: format!("$argon2id$hash-of-{name}") };
    let user = store.create_user(new, paths.iter().map(|p| home(p)).collect()).await.unwrap();
    let mut collections = Vec::new();
    for path in paths {
        collections.push(store.collection_by_path(user.id, path).await.unwrap().unwrap());
    }
    (user, collections)
}

fn event(name: &str, version: u32) -> NewObject {
    let data = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{name}\r\nSEQUENCE:{version}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    NewObject {
        name: name.to_owned(),
        data: data.into_bytes(),
        content_type: "text/calendar; charset=utf-8".to_owned(),
        etag: format!("\"{name}-{version}\""),
        calendar: Some(CalendarIndex { uid: name.to_owned(), component: ComponentKind::Event, first_start: Some(1_000), last_end: Some(2_000) }),
        timeline: None,
        schedule_tag: None,
        alarms: Default::default(),
    }
}

async fn put(store: &Store, collection: &Collection, object: NewObject) {
    store.put_object(collection.id, object, Expect::Any).await.unwrap();
}

async fn delete(store: &Store, collection: &Collection, name: &str) {
    store.delete_object(collection.id, name, Expect::Any).await.unwrap();
}

/// Changes, removals, a re-creation and a rename (two entries at one seq), so the deltas have
/// every kind of entry and a group the limit must not split.
async fn busy_calendar(store: &Store) -> (User, Collection) {
    let (alice, collections) = user_with(store, "alice", &["default", "work"]).await;
    let default = &collections[0];
    for name in ["a.ics", "b.ics", "c.ics", "d.ics"] {
        put(store, default, event(name, 1)).await; // 1..=4
    }
    put(store, default, event("a.ics", 2)).await; // 5
    delete(store, default, "b.ics").await; // 6
    store.transfer_object(default.id, "c.ics", default.id, "e.ics", false, false).await.unwrap(); // 7
    put(store, default, event("b.ics", 2)).await; // 8
    delete(store, default, "d.ics").await; // 9
    put(store, &collections[1], event("w.ics", 1)).await;
    let default = store.collection_by_path(alice.id, "default").await.unwrap().unwrap();
    (alice, default)
}

async fn the_delta_at_a_path_is_the_delta_of_its_collection(store: Store) {
    let (alice, default) = busy_calendar(&store).await;
    assert_eq!(default.sync_seq, 9);
    let mut compared = 0;
    for since in 0..=9 {
        for limit in [None, Some(0), Some(1), Some(2), Some(3), Some(50)] {
            let want = store.changes_since(default.id, Some(since), limit).await.unwrap();
            let (found, got) = store.delta_at_path(alice.id, "default", (default.id, since), limit).await.unwrap().unwrap();
            assert_eq!(found, default, "the collection as collection_by_path reads it");
            assert_eq!(got.as_ref(), Some(&want), "since {since}, limit {limit:?}");
            compared += 1;
        }
    }
    assert_eq!(compared, 60);
    // Spot checks that the deltas compared are the ones a client needs.
    let (_, delta) = store.delta_at_path(alice.id, "default", (default.id, 4), None).await.unwrap().unwrap();
    let delta = delta.unwrap();
    let changed: Vec<&str> = delta.changed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(changed, ["a.ics", "e.ics", "b.ics"]);
    assert_eq!(delta.removed, ["c.ics", "d.ics"]);
    assert_eq!((delta.seq, delta.truncated), (9, false));
    let (_, page) = store.delta_at_path(alice.id, "default", (default.id, 6), Some(1)).await.unwrap().unwrap();
    let page = page.unwrap();
    assert_eq!((page.changed.len(), page.removed.as_slice(), page.seq, page.truncated), (1, &["c.ics".to_owned()][..], 7, true));
    // Nothing at the path: no collection, whatever the token.
    assert_eq!(store.delta_at_path(alice.id, "nowhere", (default.id, 9), None).await.unwrap(), None);
    assert_eq!(store.delta_at_path(alice.id, "default/a.ics", (default.id, 9), None).await.unwrap(), None);
}

async fn a_token_of_another_collection_reads_nothing_of_it(store: Store) {
    let (alice, default) = busy_calendar(&store).await;
    let work = store.collection_by_path(alice.id, "work").await.unwrap().unwrap();
    let (bob, bobs) = user_with(&store, "bob", &["default"]).await;
    put(&store, &bobs[0], event("secret.ics", 1)).await;
    // Alice's token sent to her other calendar, and Bob's token sent to Alice's path: the
    // collection at the path, and no delta.
    let (found, delta) = store.delta_at_path(alice.id, "work", (default.id, 0), None).await.unwrap().unwrap();
    assert_eq!((found, delta), (work.clone(), None));
    let (found, delta) = store.delta_at_path(alice.id, "default", (bobs[0].id, 0), None).await.unwrap().unwrap();
    assert_eq!((found, delta), (default, None));
    // Bob's calendar's path under Alice's id is Alice's (none of that name here but "default").
    assert_eq!(store.delta_at_path(alice.id, "missing", (bobs[0].id, 0), None).await.unwrap(), None);
    // His own path with his own token reads his.
    let (found, delta) = store.delta_at_path(bob.id, "default", (bobs[0].id, 0), None).await.unwrap().unwrap();
    assert_eq!(found.id, bobs[0].id);
    assert_eq!(delta.unwrap().changed.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["secret.ics"]);
}

async fn tokens_out_of_range_are_refused_at_the_path(store: Store) {
    let (alice, default) = busy_calendar(&store).await;
    for since in [-1, 10, 1_000] {
        let (found, delta) = store.delta_at_path(alice.id, "default", (default.id, since), None).await.unwrap().unwrap();
        assert_eq!((found.id, delta), (default.id, None), "since {since}");
        assert!(matches!(store.changes_since(default.id, Some(since), None).await, Err(StoreError::InvalidSyncToken)));
    }
    // Pruning raises the floor to the newest pruned tombstone (d.ics at 9; c.ics's at 7 goes
    // too, b.ics's went with its re-creation): older tokens are refused, the floor answers.
    let later = i64::MAX / 2;
    assert_eq!(store.prune_tombstones(later).await.unwrap(), 2);
    let (_, below) = store.delta_at_path(alice.id, "default", (default.id, 8), None).await.unwrap().unwrap();
    assert_eq!(below, None);
    let (_, at) = store.delta_at_path(alice.id, "default", (default.id, 9), None).await.unwrap().unwrap();
    let at = at.unwrap();
    assert!(at.changed.is_empty() && at.removed.is_empty());
    assert_eq!(at.seq, 9);
    let id = CollectionId(default.id.0 + 1_000);
    assert_eq!(store.delta_at_path(alice.id, "default", (id, 0), None).await.unwrap().map(|(c, d)| (c.id, d)), Some((default.id, None)));
}
