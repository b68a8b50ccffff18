//! The store contract: every test is written once against `Store` and run on both engines
//! (`sqlite::<name>` and `postgres::<name>`), so the engines cannot drift apart.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use kalends::store::{
    CalendarIndex, Collection, CollectionId, CollectionKind, CollectionPatch, CollectionProps,
    CollectionStore, CollectionTransfer, LockStore, CollectionTransferKind, ComponentKind, ComponentSet, DeadProp, Expect, ListedObject, NewCollection, NewObject,
    NewUser, ObjectId, ObjectStore, Store, StoreError, SyncStore, User, UserId, UserStore,
};

contract_tests!(
    users_create_and_look_up,
    user_creation_is_all_or_nothing,
    set_password_updates_or_reports_missing,
    delete_user_cascades_to_everything_owned,
    used_bytes_sums_the_owners_objects,
    used_bytes_follows_copy_move_and_collection_deletion,
    collections_create_and_look_up,
    collection_creation_errors_change_nothing,
    patch_collection_applies_props_and_dead_props,
    delete_collection_cascades_to_descendants,
    put_creates_then_replaces_in_place,
    put_preconditions_refuse_without_changes,
    uid_conflicts_refuse_without_changes,
    member_names_do_not_collide_with_collections,
    delete_object_leaves_a_tombstone,
    listing_and_multiget,
    member_lookup_finds_collection_and_object_together,
    objects_in_range_boundaries,
    copy_object,
    move_object,
    transfer_refusals_change_nothing,
    transfer_object_over_a_collection,
    move_collection_subtree,
    copy_collection_deep_and_shallow,
    collection_transfer_refusals_change_nothing,
    object_dead_props,
    sync_initial_lists_live_members,
    sync_incremental_reports_changes_and_removals,
    sync_limit_truncates_in_seq_order,
    sync_limit_keeps_one_transaction_together,
    sync_rejects_invalid_tokens,
    prune_tombstones_raises_the_token_floor,
    concurrent_puts_get_distinct_monotonic_seqs,
    concurrent_conflicting_puts_admit_exactly_one,
    concurrent_read_then_write_transactions_all_succeed,
    sync_during_concurrent_writes_loses_nothing,
    timelines_are_stored_copied_and_renewed,
);

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        email: None,
        password_hash: format!("$argon2id$hash-of-{name}"),
    }
}

/// A home collection for `create_user` (owner and parent are filled in by the store).
fn home(path: &str, kind: CollectionKind) -> NewCollection {
    NewCollection {
        owner: UserId(0),
        parent: None,
        path: path.to_owned(),
        kind,
        props: CollectionProps {
            components: ComponentSet::ALL,
            ..CollectionProps::default()
        },
        dead_props: Vec::new(),
    }
}

fn new_collection(
    owner: &User,
    parent: Option<&Collection>,
    path: &str,
    kind: CollectionKind,
) -> NewCollection {
    NewCollection {
        owner: owner.id,
        parent: parent.map(|p| p.id),
        ..home(path, kind)
    }
}

fn dead(namespace: &str, name: &str, value: &str) -> DeadProp {
    DeadProp {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        xml: format!("<x:{name} xmlns:x=\"{namespace}\">{value}</x:{name}>"),
    }
}

/// A calendar object resource; the ETag derives from name and version so every write differs.
fn calendar_object(
    name: &str,
    uid: &str,
    version: u32,
    component: ComponentKind,
    first_start: Option<i64>,
    last_end: Option<i64>,
) -> NewObject {
    let data = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:{c}\r\nUID:{uid}\r\nSEQUENCE:{version}\r\n\
         END:{c}\r\nEND:VCALENDAR\r\n",
        c = component.as_str()
    );
    NewObject {
        name: name.to_owned(),
        data: data.into_bytes(),
        content_type: "text/calendar; charset=utf-8".to_owned(),
        etag: format!("\"{name}-{version}\""),
        calendar: Some(CalendarIndex {
            uid: uid.to_owned(),
            component,
            first_start,
            last_end,
        }),
        timeline: None,
        schedule_tag: None,
        alarms: Default::default(),
    }
}

fn event(name: &str, uid: &str, version: u32) -> NewObject {
    calendar_object(
        name,
        uid,
        version,
        ComponentKind::Event,
        Some(1_000),
        Some(2_000),
    )
}

/// A non-calendar resource with binary content.
fn blob(name: &str, data: &[u8]) -> NewObject {
    NewObject {
        name: name.to_owned(),
        data: data.to_vec(),
        content_type: "application/octet-stream".to_owned(),
        etag: format!("\"{name}-{}\"", data.len()),
        calendar: None,
        timeline: None,
        schedule_tag: None,
        alarms: Default::default(),
    }
}

fn etags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

/// A user "alice" with a "default" calendar, the usual starting point.
async fn alice_with_calendar(store: &Store) -> (User, Collection) {
    let alice = store
        .create_user(
            new_user("alice"),
            vec![home("default", CollectionKind::Calendar)],
        )
        .await
        .unwrap();
    let default = store
        .collection_by_path(alice.id, "default")
        .await
        .unwrap()
        .unwrap();
    (alice, default)
}

async fn seq(store: &Store, collection: CollectionId) -> i64 {
    store
        .collection_by_id(collection)
        .await
        .unwrap()
        .unwrap()
        .sync_seq
}

async fn put(store: &Store, collection: &Collection, object: NewObject) -> i64 {
    store
        .put_object(collection.id, object, Expect::Any)
        .await
        .unwrap()
        .meta
        .sync_seq
}

async fn names_in(store: &Store, collection: CollectionId) -> Vec<String> {
    store
        .list_objects(collection)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

async fn data_of(store: &Store, collection: CollectionId, name: &str) -> Option<Vec<u8>> {
    store
        .object(collection, name)
        .await
        .unwrap()
        .map(|o| o.data)
}

/// Asserts that `result` is the error `pattern`, printing what it was otherwise.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Users.
// ---------------------------------------------------------------------------------------------

async fn users_create_and_look_up(store: Store) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());

    let bob = store.create_user(new_user("bob"), vec![]).await.unwrap();
    let alice = store
        .create_user(
            NewUser {
                email: Some("alice@example.org".to_owned()),
                ..new_user("alice")
            },
            vec![
                home("default", CollectionKind::Calendar),
                home("files", CollectionKind::Plain),
                home("files/sub", CollectionKind::Plain),
            ],
        )
        .await
        .unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.email.as_deref(), Some("alice@example.org"));
    assert_eq!(alice.password_hash, "$argon2id$hash-of-alice");
    assert!(
        (now() - alice.created_at).abs() < 60,
        "created_at {}",
        alice.created_at
    );
    assert_ne!(alice.id, bob.id);

    assert_eq!(
        store.user_by_name("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_name("carol").await.unwrap(), None);
    assert_eq!(
        store.user_by_id(UserId(alice.id.0 + 1_000)).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_users().await.unwrap(),
        vec![alice.clone(), bob.clone()]
    );
    assert_eq!(store.count_users().await.unwrap(), 2);

    // The home collections belong to alice; a nested one gets its parent from its path.
    let top = store.child_collections(alice.id, None).await.unwrap();
    let paths: Vec<&str> = top.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["default", "files"]);
    assert!(
        top.iter()
            .all(|c| c.owner == alice.id && c.parent.is_none() && c.sync_seq == 0)
    );
    assert_eq!(top[0].kind, CollectionKind::Calendar);
    assert_eq!(top[1].kind, CollectionKind::Plain);
    let sub = store
        .child_collections(alice.id, Some(top[1].id))
        .await
        .unwrap();
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0].path, "files/sub");
    assert_eq!(sub[0].parent, Some(top[1].id));
    assert!(
        store
            .child_collections(bob.id, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn user_creation_is_all_or_nothing(store: Store) {
    let (alice, _) = alice_with_calendar(&store).await;

    // A taken name: AlreadyExists, and the second home was not created for anybody.
    assert_err!(
        store
            .create_user(
                new_user("alice"),
                vec![home("other", CollectionKind::Plain)]
            )
            .await,
        StoreError::AlreadyExists
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    let paths: Vec<String> = store
        .child_collections(alice.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(paths, ["default"]);

    // A failing home collection takes the user with it.
    assert_err!(
        store
            .create_user(
                new_user("carol"),
                vec![
                    home("a", CollectionKind::Plain),
                    home("a", CollectionKind::Plain)
                ],
            )
            .await,
        StoreError::AlreadyExists
    );
    assert_eq!(store.user_by_name("carol").await.unwrap(), None);
    assert_err!(
        store
            .create_user(
                new_user("dave"),
                vec![home("missing/child", CollectionKind::Plain)]
            )
            .await,
        StoreError::NotFound
    );
    assert_eq!(store.user_by_name("dave").await.unwrap(), None);
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn set_password_updates_or_reports_missing(store: Store) {
    let (alice, _) = alice_with_calendar(&store).await;
    store.set_password("alice", "$argon2id$new").await.unwrap();
    let updated = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(updated.password_hash, "$argon2id$new");
    assert_eq!(updated.id, alice.id);
    assert_eq!(updated.created_at, alice.created_at);
    assert_err!(
        store.set_password("nobody", "x").await,
        StoreError::NotFound
    );
}

async fn delete_user_cascades_to_everything_owned(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let files = store
        .create_collection(NewCollection {
            dead_props: vec![dead("urn:x", "p", "1")],
            ..new_collection(&alice, None, "files", CollectionKind::Plain)
        })
        .await
        .unwrap();
    let sub = store
        .create_collection(new_collection(
            &alice,
            Some(&files),
            "files/sub",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    put(&store, &sub, blob("deep.bin", b"deep")).await;
    let kept = store
        .put_object(default.id, event("a.ics", "A", 1), Expect::Any)
        .await
        .unwrap()
        .meta;
    store
        .patch_object_props(kept.id, vec![dead("urn:x", "q", "2")], vec![])
        .await
        .unwrap();
    put(&store, &default, event("gone.ics", "G", 1)).await;
    store
        .delete_object(default.id, "gone.ics", Expect::Any)
        .await
        .unwrap();

    let bob = store
        .create_user(
            new_user("bob"),
            vec![home("default", CollectionKind::Calendar)],
        )
        .await
        .unwrap();
    let bobs = store
        .collection_by_path(bob.id, "default")
        .await
        .unwrap()
        .unwrap();
    put(&store, &bobs, event("b.ics", "B", 1)).await;

    store.delete_user("alice").await.unwrap();
    assert_eq!(store.user_by_name("alice").await.unwrap(), None);
    assert_eq!(store.user_by_id(alice.id).await.unwrap(), None);
    for id in [default.id, files.id, sub.id] {
        assert_eq!(store.collection_by_id(id).await.unwrap(), None);
        assert!(store.list_objects(id).await.unwrap().is_empty());
        assert!(store.collection_dead_props(id).await.unwrap().is_empty());
        assert_err!(
            store.changes_since(id, Some(0), None).await,
            StoreError::NotFound
        );
    }
    assert!(store.object(default.id, "a.ics").await.unwrap().is_none());
    assert!(store.object_dead_props(kept.id).await.unwrap().is_empty());
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 0);
    assert!(
        store
            .child_collections(alice.id, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Bob is untouched.
    assert_eq!(store.list_users().await.unwrap(), vec![bob.clone()]);
    assert_eq!(names_in(&store, bobs.id).await, ["b.ics"]);
    assert_eq!(seq(&store, bobs.id).await, 1);

    assert_err!(store.delete_user("alice").await, StoreError::NotFound);
}

async fn used_bytes_sums_the_owners_objects(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 0);
    let files = store
        .create_collection(new_collection(&alice, None, "files", CollectionKind::Plain))
        .await
        .unwrap();
    put(&store, &files, blob("ten.bin", &[7; 10])).await;
    put(&store, &files, blob("twenty.bin", &[7; 20])).await;
    let ev = event("a.ics", "A", 1);
    let ev_len = i64::try_from(ev.data.len()).unwrap();
    put(&store, &default, ev).await;
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 30 + ev_len);

    let bob = store
        .create_user(new_user("bob"), vec![home("files", CollectionKind::Plain)])
        .await
        .unwrap();
    let bobs = store
        .collection_by_path(bob.id, "files")
        .await
        .unwrap()
        .unwrap();
    put(&store, &bobs, blob("seven.bin", &[1; 7])).await;
    assert_eq!(store.used_bytes(bob.id).await.unwrap(), 7);
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 30 + ev_len);

    // Replacing counts the new size, deleting drops it.
    put(&store, &files, blob("ten.bin", &[7; 3])).await;
    store
        .delete_object(files.id, "twenty.bin", Expect::Any)
        .await
        .unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 3 + ev_len);
    assert_eq!(store.used_bytes(UserId(bob.id.0 + 1_000)).await.unwrap(), 0);
}

/// The per-collection byte counters behind `used_bytes` must stay equal to the objects' sizes
/// through every kind of write, refused ones included.
async fn used_bytes_follows_copy_move_and_collection_deletion(store: Store) {
    let alice = store.create_user(new_user("alice"), vec![]).await.unwrap();
    let plain = |path: &str, parent: Option<&Collection>| new_collection(&alice, parent, path, CollectionKind::Plain);
    let a = store.create_collection(plain("a", None)).await.unwrap();
    let b = store.create_collection(plain("b", None)).await.unwrap();
    let sub = store.create_collection(plain("b/sub", Some(&b))).await.unwrap();
    put(&store, &a, blob("x.bin", &[1; 100])).await;
    put(&store, &a, blob("y.bin", &[1; 40])).await;
    put(&store, &sub, blob("z.bin", &[1; 5])).await;
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 145);

    // COPY adds the copy, within a collection and across.
    store.transfer_object(a.id, "x.bin", a.id, "x2.bin", false, true).await.unwrap();
    store.transfer_object(a.id, "y.bin", b.id, "y.bin", false, true).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 285);
    // MOVE keeps the total; onto an existing target with overwrite, the target's bytes go.
    store.transfer_object(a.id, "x2.bin", b.id, "x2.bin", false, false).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 285);
    store.transfer_object(a.id, "y.bin", b.id, "y.bin", true, false).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 245);
    // A COPY over an existing target replaces its bytes.
    store.transfer_object(b.id, "x2.bin", sub.id, "z.bin", true, true).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 340);

    // Refused writes leave the count alone.
    assert_err!(store.transfer_object(a.id, "x.bin", b.id, "y.bin", false, true).await, StoreError::PreconditionFailed);
    assert_err!(store.put_object(a.id, blob("x.bin", &[1; 9]), Expect::Absent).await, StoreError::PreconditionFailed);
    assert_err!(store.delete_object(a.id, "x.bin", Expect::Etag(etags(&["\"nope\""]))).await, StoreError::PreconditionFailed);
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 340);

    // Whole-collection transfers keep the counters right: a deep copy adds its members' bytes,
    // a shallow one none, a move none, and an object replaced by a collection takes its bytes.
    let sum = |s: &Store| {
        let s = s.clone();
        let owner = alice.id;
        async move {
            let mut total = 0i64;
            for c in all_collections(&s, owner).await {
                total += s.list_objects(c.id).await.unwrap().iter().map(|m| m.size).sum::<i64>();
            }
            total
        }
    };
    let transfer = |source: &Collection, parent: Option<&Collection>, name: &str, kind| CollectionTransfer {
        source: source.id,
        dest_parent: parent.map(|p| p.id),
        dest_name: name.into(),
        overwrite: true,
        kind,
    };
    store.transfer_collection(transfer(&b, None, "b-deep", CollectionTransferKind::CopyDeep)).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 340 + 240);
    store.transfer_collection(transfer(&b, None, "b-shallow", CollectionTransferKind::CopyShallow)).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 580);
    put(&store, &a, blob("over", &[1; 7])).await;
    let shallow = store.collection_by_path(alice.id, "b-shallow").await.unwrap().unwrap();
    store.transfer_collection(transfer(&shallow, Some(&a), "over", CollectionTransferKind::Move)).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 580, "the replaced object's 7 bytes went");
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), sum(&store).await);
    let deep = store.collection_by_path(alice.id, "b-deep").await.unwrap().unwrap();
    store.delete_collection(deep.id).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 340);

    // Deleting a collection takes its descendants' bytes too.
    store.delete_collection(b.id).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 100);
    store.delete_object(a.id, "x.bin", Expect::Any).await.unwrap();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// Collections.
// ---------------------------------------------------------------------------------------------

async fn collections_create_and_look_up(store: Store) {
    let alice = store.create_user(new_user("alice"), vec![]).await.unwrap();
    let props = CollectionProps {
        displayname: Some("Work".to_owned()),
        description: Some("Meetings and such".to_owned()),
        timezone: Some(
            "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n\
             END:VCALENDAR\r\n"
                .to_owned(),
        ),
        color: Some("#FF2968FF".to_owned()),
        order: Some("3".to_owned()),
        components: ComponentSet(ComponentSet::VEVENT | ComponentSet::VTODO),
        transparent: true,
        default_calendar: None,
    };
    let work = store
        .create_collection(NewCollection {
            props: props.clone(),
            dead_props: vec![
                dead("urn:z", "b", "2"),
                dead("urn:a", "z", "1"),
                dead("urn:z", "a", "3"),
            ],
            ..new_collection(&alice, None, "work", CollectionKind::Calendar)
        })
        .await
        .unwrap();
    assert_eq!(work.owner, alice.id);
    assert_eq!(work.parent, None);
    assert_eq!(work.path, "work");
    assert_eq!(work.kind, CollectionKind::Calendar);
    assert_eq!(work.props, props);
    assert_eq!(work.sync_seq, 0);
    assert!((now() - work.created_at).abs() < 60);
    assert_eq!(work.created_at, work.modified_at);

    assert_eq!(
        store.collection_by_path(alice.id, "work").await.unwrap(),
        Some(work.clone())
    );
    assert_eq!(
        store.collection_by_id(work.id).await.unwrap(),
        Some(work.clone())
    );
    assert_eq!(
        store.collection_by_path(alice.id, "nope").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .collection_by_id(CollectionId(work.id.0 + 1_000))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.collection_dead_props(work.id).await.unwrap(),
        vec![
            dead("urn:a", "z", "1"),
            dead("urn:z", "a", "3"),
            dead("urn:z", "b", "2")
        ]
    );

    // Nested collections, listed per parent and ordered by path.
    let projects = store
        .create_collection(new_collection(
            &alice,
            None,
            "projects",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    for path in ["projects/b", "projects/a"] {
        store
            .create_collection(new_collection(
                &alice,
                Some(&projects),
                path,
                CollectionKind::Plain,
            ))
            .await
            .unwrap();
    }
    let a = store
        .collection_by_path(alice.id, "projects/a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.parent, Some(projects.id));
    assert_eq!(a.props.displayname, None);
    assert_eq!(a.props.components, ComponentSet::ALL);
    let children: Vec<String> = store
        .child_collections(alice.id, Some(projects.id))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(children, ["projects/a", "projects/b"]);
    let top: Vec<String> = store
        .child_collections(alice.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(top, ["projects", "work"]);
    // Creating a child records a change of the parent (not of its members' sync state).
    let projects_now = store.collection_by_id(projects.id).await.unwrap().unwrap();
    assert!(projects_now.modified_at >= projects.modified_at);
    assert_eq!(projects_now.sync_seq, 0);
}

async fn collection_creation_errors_change_nothing(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let bob = store.create_user(new_user("bob"), vec![]).await.unwrap();
    let files = store
        .create_collection(new_collection(&alice, None, "files", CollectionKind::Plain))
        .await
        .unwrap();
    put(&store, &files, blob("x.ics", b"x")).await;

    // A taken path, top level or nested.
    assert_err!(
        store
            .create_collection(NewCollection {
                dead_props: vec![dead("urn:x", "leak", "1")],
                ..new_collection(&alice, None, "default", CollectionKind::Plain)
            })
            .await,
        StoreError::AlreadyExists
    );
    assert_eq!(
        store.collection_by_path(alice.id, "default").await.unwrap(),
        Some(default.clone())
    );
    assert!(
        store
            .collection_dead_props(default.id)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .create_collection(new_collection(
            &alice,
            Some(&files),
            "files/sub",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    assert_err!(
        store
            .create_collection(new_collection(
                &alice,
                Some(&files),
                "files/sub",
                CollectionKind::Plain
            ))
            .await,
        StoreError::AlreadyExists
    );
    // An object of that name in the parent.
    assert_err!(
        store
            .create_collection(new_collection(
                &alice,
                Some(&files),
                "files/x.ics",
                CollectionKind::Plain
            ))
            .await,
        StoreError::AlreadyExists
    );
    assert_eq!(
        store
            .collection_by_path(alice.id, "files/x.ics")
            .await
            .unwrap(),
        None
    );
    // A parent that is missing, not the path's parent, or somebody else's.
    let mut orphan = new_collection(&alice, Some(&files), "files/orphan", CollectionKind::Plain);
    orphan.parent = Some(CollectionId(files.id.0 + 1_000));
    assert_err!(store.create_collection(orphan).await, StoreError::NotFound);
    assert_err!(
        store
            .create_collection(new_collection(
                &alice,
                Some(&files),
                "elsewhere/sub",
                CollectionKind::Plain
            ))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .create_collection(new_collection(
                &bob,
                Some(&files),
                "files/mine",
                CollectionKind::Plain
            ))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .create_collection(new_collection(
                &alice,
                None,
                "files/top",
                CollectionKind::Plain
            ))
            .await,
        StoreError::NotFound
    );
    assert_eq!(
        store
            .collection_by_path(alice.id, "files/top")
            .await
            .unwrap(),
        None
    );
    let children: Vec<String> = store
        .child_collections(alice.id, Some(files.id))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(children, ["files/sub"]);
    assert!(
        store
            .child_collections(bob.id, None)
            .await
            .unwrap()
            .is_empty()
    );

    // The same path for another owner is fine.
    store
        .create_collection(new_collection(
            &bob,
            None,
            "default",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
}

async fn patch_collection_applies_props_and_dead_props(store: Store) {
    let (alice, _) = alice_with_calendar(&store).await;
    let work = store
        .create_collection(NewCollection {
            dead_props: vec![dead("urn:x", "a", "1"), dead("urn:x", "b", "1")],
            ..new_collection(&alice, None, "work", CollectionKind::Calendar)
        })
        .await
        .unwrap();
    put(&store, &work, event("e.ics", "E", 1)).await;
    let before = store.collection_by_id(work.id).await.unwrap().unwrap();

    let new_props = CollectionProps {
        displayname: Some("Renamed".to_owned()),
        color: Some("#00FF00FF".to_owned()),
        components: ComponentSet(ComponentSet::VTODO),
        ..CollectionProps::default()
    };
    let patched = store
        .patch_collection(
            work.id,
            CollectionPatch {
                props: Some(new_props.clone()),
                set_dead: vec![dead("urn:x", "b", "2"), dead("urn:x", "c", "1")],
                remove_dead: vec![("urn:x".to_owned(), "a".to_owned())],
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.props, new_props);
    assert_eq!(patched.path, "work");
    assert_eq!(
        patched.sync_seq, before.sync_seq,
        "a PROPPATCH is not a member change"
    );
    assert!(patched.modified_at >= before.modified_at);
    assert_eq!(
        store.collection_by_id(work.id).await.unwrap(),
        Some(patched.clone())
    );
    assert_eq!(
        store.collection_dead_props(work.id).await.unwrap(),
        vec![dead("urn:x", "b", "2"), dead("urn:x", "c", "1")]
    );

    // Dead properties only; removing an absent one is fine; live props stay.
    let again = store
        .patch_collection(
            work.id,
            CollectionPatch {
                props: None,
                set_dead: vec![],
                remove_dead: vec![
                    ("urn:x".to_owned(), "c".to_owned()),
                    ("urn:x".to_owned(), "zz".to_owned()),
                ],
            },
        )
        .await
        .unwrap();
    assert_eq!(again.props, new_props);
    assert_eq!(
        store.collection_dead_props(work.id).await.unwrap(),
        vec![dead("urn:x", "b", "2")]
    );

    assert_err!(
        store
            .patch_collection(CollectionId(work.id.0 + 1_000), CollectionPatch::default())
            .await,
        StoreError::NotFound
    );
}

async fn delete_collection_cascades_to_descendants(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let files = store
        .create_collection(NewCollection {
            dead_props: vec![dead("urn:x", "p", "1")],
            ..new_collection(&alice, None, "files", CollectionKind::Plain)
        })
        .await
        .unwrap();
    let sub = store
        .create_collection(new_collection(
            &alice,
            Some(&files),
            "files/sub",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    let subsub = store
        .create_collection(new_collection(
            &alice,
            Some(&sub),
            "files/sub/deeper",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    let deep = store
        .put_object(subsub.id, blob("deep.bin", b"d"), Expect::Any)
        .await
        .unwrap()
        .meta;
    store
        .patch_object_props(deep.id, vec![dead("urn:x", "q", "1")], vec![])
        .await
        .unwrap();
    put(&store, &files, blob("top.bin", b"t")).await;
    put(&store, &default, event("keep.ics", "K", 1)).await;

    store.delete_collection(files.id).await.unwrap();
    for id in [files.id, sub.id, subsub.id] {
        assert_eq!(store.collection_by_id(id).await.unwrap(), None);
        assert!(store.list_objects(id).await.unwrap().is_empty());
    }
    assert_eq!(
        store
            .collection_by_path(alice.id, "files/sub")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .collection_dead_props(files.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.object_dead_props(deep.id).await.unwrap().is_empty());
    assert_eq!(names_in(&store, default.id).await, ["keep.ics"]);
    let top: Vec<String> = store
        .child_collections(alice.id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(top, ["default"]);
    assert_err!(
        store.delete_collection(files.id).await,
        StoreError::NotFound
    );

    // The path is free again.
    store
        .create_collection(new_collection(&alice, None, "files", CollectionKind::Plain))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Objects.
// ---------------------------------------------------------------------------------------------

async fn put_creates_then_replaces_in_place(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let first = calendar_object("a.ics", "A", 1, ComponentKind::Todo, None, Some(5_000));
    let created = store
        .put_object(default.id, first.clone(), Expect::Absent)
        .await
        .unwrap();
    assert!(created.created);
    let meta = &created.meta;
    assert_eq!(meta.collection, default.id);
    assert_eq!(meta.name, "a.ics");
    assert_eq!(meta.etag, "\"a.ics-1\"");
    assert_eq!(meta.content_type, "text/calendar; charset=utf-8");
    assert_eq!(meta.size, i64::try_from(first.data.len()).unwrap());
    assert_eq!(meta.calendar, first.calendar);
    assert_eq!(meta.sync_seq, 1);
    assert_eq!(meta.created_at, meta.modified_at);
    assert!((now() - meta.created_at).abs() < 60);
    assert_eq!(seq(&store, default.id).await, 1);
    let stored = store.object(default.id, "a.ics").await.unwrap().unwrap();
    assert_eq!(stored.meta, created.meta);
    assert_eq!(stored.data, first.data);
    assert_eq!(
        store.object_meta(default.id, "a.ics").await.unwrap(),
        Some(created.meta.clone())
    );
    assert_eq!(store.object_meta(default.id, "b.ics").await.unwrap(), None);

    let second = event("a.ics", "A", 2);
    let replaced = store
        .put_object(
            default.id,
            second.clone(),
            Expect::Etag(etags(&["\"a.ics-1\""])),
        )
        .await
        .unwrap();
    assert!(!replaced.created);
    assert_eq!(replaced.meta.id, created.meta.id, "replaced in place");
    assert_eq!(replaced.meta.created_at, created.meta.created_at);
    assert_eq!(replaced.meta.etag, "\"a.ics-2\"");
    assert_eq!(replaced.meta.calendar, second.calendar);
    assert_eq!(replaced.meta.sync_seq, 2);
    assert_eq!(seq(&store, default.id).await, 2);
    assert_eq!(
        data_of(&store, default.id, "a.ics").await,
        Some(second.data)
    );
    assert_eq!(names_in(&store, default.id).await, ["a.ics"]);

    // Any bytes round-trip exactly; a non-calendar resource has no index.
    let files = store
        .create_collection(new_collection(&alice, None, "files", CollectionKind::Plain))
        .await
        .unwrap();
    let bytes: Vec<u8> = (0..=255).collect();
    let outcome = store
        .put_object(files.id, blob("all.bin", &bytes), Expect::Any)
        .await
        .unwrap();
    assert_eq!(outcome.meta.calendar, None);
    assert_eq!(outcome.meta.size, 256);
    assert_eq!(data_of(&store, files.id, "all.bin").await, Some(bytes));
}

async fn put_preconditions_refuse_without_changes(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;

    // Against a missing target.
    for expect in [Expect::Present, Expect::Etag(etags(&["\"a.ics-1\""]))] {
        assert_err!(
            store
                .put_object(default.id, event("a.ics", "A", 1), expect)
                .await,
            StoreError::PreconditionFailed
        );
    }
    assert_eq!(
        store
            .object(default.id, "a.ics")
            .await
            .unwrap()
            .map(|o| o.meta),
        None
    );
    assert_eq!(seq(&store, default.id).await, 0);
    let created = store
        .put_object(
            default.id,
            event("a.ics", "A", 1),
            Expect::NotEtag(etags(&["\"x\""])),
        )
        .await
        .unwrap();
    assert!(created.created);

    // Against an existing target with ETag "a.ics-1".
    let refused = [
        Expect::Absent,
        Expect::Etag(etags(&["\"a.ics-0\"", "\"other\""])),
        Expect::NotEtag(etags(&["\"x\"", "\"a.ics-1\""])),
    ];
    for expect in refused {
        assert_err!(
            store
                .put_object(default.id, event("a.ics", "A", 2), expect)
                .await,
            StoreError::PreconditionFailed
        );
        let meta = store
            .object_meta(default.id, "a.ics")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(meta, created.meta);
        assert_eq!(
            data_of(&store, default.id, "a.ics").await,
            Some(event("a.ics", "A", 1).data)
        );
        assert_eq!(seq(&store, default.id).await, 1);
    }
    for (version, expect) in [
        (2, Expect::Present),
        (3, Expect::Etag(etags(&["\"zz\"", "\"a.ics-2\""]))),
        (4, Expect::NotEtag(etags(&["\"a.ics-1\""]))),
    ] {
        let outcome = store
            .put_object(default.id, event("a.ics", "A", version), expect)
            .await
            .unwrap();
        assert!(!outcome.created);
        assert_eq!(outcome.meta.sync_seq, i64::from(version));
    }
    assert_eq!(
        store
            .changes_since(default.id, Some(1), None)
            .await
            .unwrap()
            .seq,
        4
    );
}

async fn uid_conflicts_refuse_without_changes(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "U", 1)).await;
    put(&store, &default, event("b.ics", "V", 1)).await;

    // A new resource with a taken UID.
    let refused = store
        .put_object(default.id, event("c.ics", "U", 1), Expect::Any)
        .await;
    match refused {
        Err(StoreError::UidConflict { existing_name }) => assert_eq!(existing_name, "a.ics"),
        other => panic!("expected UidConflict, got {other:?}"),
    }
    // An existing resource switching to a taken UID.
    assert_err!(
        store
            .put_object(default.id, event("b.ics", "U", 2), Expect::Any)
            .await,
        StoreError::UidConflict { .. }
    );
    assert_eq!(names_in(&store, default.id).await, ["a.ics", "b.ics"]);
    assert_eq!(
        data_of(&store, default.id, "b.ics").await,
        Some(event("b.ics", "V", 1).data)
    );
    assert_eq!(seq(&store, default.id).await, 2);
    let delta = store
        .changes_since(default.id, Some(2), None)
        .await
        .unwrap();
    assert!(delta.changed.is_empty() && delta.removed.is_empty());

    // Replacing a resource under its own UID is fine; under another one it is refused (RFC
    // 4791 §5.3.2.1), and a UID freed by a deletion can be taken.
    put(&store, &default, event("a.ics", "U", 2)).await;
    match store.put_object(default.id, event("a.ics", "W", 3), Expect::Any).await {
        Err(StoreError::UidReplaced { name }) => assert_eq!(name, "a.ics"),
        other => panic!("expected UidReplaced, got {other:?}"),
    }
    assert_eq!(data_of(&store, default.id, "a.ics").await, Some(event("a.ics", "U", 2).data));
    store.delete_object(default.id, "a.ics", Expect::Any).await.unwrap();
    put(&store, &default, event("c.ics", "U", 1)).await;
    // UIDs are per collection, and non-calendar resources have none.
    let other = store
        .create_collection(new_collection(
            &alice,
            None,
            "other",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    put(&store, &other, event("a.ics", "U", 1)).await;
    put(&store, &other, blob("x.bin", b"1")).await;
    put(&store, &other, blob("y.bin", b"2")).await;
    assert_eq!(
        names_in(&store, other.id).await,
        ["a.ics", "x.bin", "y.bin"]
    );
}

async fn member_names_do_not_collide_with_collections(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let files = store
        .create_collection(new_collection(&alice, None, "files", CollectionKind::Plain))
        .await
        .unwrap();
    store
        .create_collection(new_collection(
            &alice,
            Some(&files),
            "files/sub",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    assert_err!(
        store
            .put_object(files.id, blob("sub", b"x"), Expect::Any)
            .await,
        StoreError::AlreadyExists
    );
    assert!(store.list_objects(files.id).await.unwrap().is_empty());
    assert_eq!(seq(&store, files.id).await, 0);
    // "sub" is only taken inside files.
    put(&store, &default, blob("sub", b"x")).await;

    assert_err!(
        store
            .put_object(
                CollectionId(files.id.0 + 1_000),
                blob("x", b"x"),
                Expect::Any
            )
            .await,
        StoreError::NotFound
    );
}

async fn delete_object_leaves_a_tombstone(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "A", 1)).await;
    put(&store, &default, event("b.ics", "B", 1)).await;

    assert_err!(
        store
            .delete_object(default.id, "a.ics", Expect::Etag(etags(&["\"a.ics-9\""])))
            .await,
        StoreError::PreconditionFailed
    );
    assert_err!(
        store
            .delete_object(default.id, "a.ics", Expect::Absent)
            .await,
        StoreError::PreconditionFailed
    );
    assert_eq!(
        data_of(&store, default.id, "a.ics").await,
        Some(event("a.ics", "A", 1).data)
    );
    assert_eq!(seq(&store, default.id).await, 2);

    store
        .delete_object(default.id, "a.ics", Expect::Etag(etags(&["\"a.ics-1\""])))
        .await
        .unwrap();
    assert_eq!(
        store
            .object(default.id, "a.ics")
            .await
            .unwrap()
            .map(|o| o.meta),
        None
    );
    assert_eq!(seq(&store, default.id).await, 3);
    let delta = store
        .changes_since(default.id, Some(2), None)
        .await
        .unwrap();
    assert!(delta.changed.is_empty());
    assert_eq!(delta.removed, ["a.ics"]);
    assert_eq!(delta.seq, 3);

    // Missing: NotFound whatever the condition, and nothing is bumped.
    assert_err!(
        store.delete_object(default.id, "a.ics", Expect::Any).await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .delete_object(default.id, "a.ics", Expect::Absent)
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .delete_object(CollectionId(default.id.0 + 1_000), "b.ics", Expect::Any)
            .await,
        StoreError::NotFound
    );
    assert_eq!(seq(&store, default.id).await, 3);

    // Re-creating the name replaces the tombstone with a change.
    put(&store, &default, event("a.ics", "A", 2)).await;
    let delta = store
        .changes_since(default.id, Some(2), None)
        .await
        .unwrap();
    assert!(delta.removed.is_empty());
    let changed: Vec<&str> = delta.changed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(changed, ["a.ics"]);
    assert_eq!(delta.changed[0].sync_seq, 4);
}

/// member_meta / member_data: one lookup that must agree with collection_by_path plus
/// object_meta / object, for the owner only.
async fn member_lookup_finds_collection_and_object_together(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "A", 1)).await;
    let bob = store.create_user(new_user("bob"), vec![]).await.unwrap();

    let m = store.member_meta(alice.id, &default.path, "a.ics").await.unwrap().unwrap();
    let (c, meta) = (m.collection, m.object);
    assert!(!m.child_collection && !m.home_locked);
    assert_eq!(m.used_bytes, store.used_bytes(alice.id).await.unwrap());
    assert!(m.used_bytes > 0);
    assert_eq!(c, store.collection_by_path(alice.id, &default.path).await.unwrap().unwrap());
    assert_eq!(meta, store.object_meta(default.id, "a.ics").await.unwrap());
    assert!(meta.is_some());
    let (c, object) = store.member_data(alice.id, &default.path, "a.ics").await.unwrap().unwrap();
    assert_eq!(c.id, default.id);
    let alone = store.object(default.id, "a.ics").await.unwrap().unwrap();
    let object = object.unwrap();
    assert_eq!((&object.meta, &object.data), (&alone.meta, &alone.data));
    assert_eq!(object.data, event("a.ics", "A", 1).data);

    // The collection without such a member, and no collection at all.
    let m = store.member_meta(alice.id, &default.path, "zz.ics").await.unwrap().unwrap();
    assert_eq!((m.collection.id, m.object), (default.id, None));
    let (c, object) = store.member_data(alice.id, &default.path, "zz.ics").await.unwrap().unwrap();
    assert_eq!(c.id, default.id);
    assert!(object.is_none());
    assert!(store.member_meta(alice.id, "nope", "a.ics").await.unwrap().is_none());
    assert!(store.member_data(alice.id, "nope", "a.ics").await.unwrap().is_none());
    // Another owner sees nothing at the same path.
    assert!(store.member_meta(bob.id, &default.path, "a.ics").await.unwrap().is_none());
    assert!(store.member_data(bob.id, &default.path, "a.ics").await.unwrap().is_none());

    // A child collection of the member's name, and a lock anywhere in the home (expired too:
    // only no row at all means no lock can apply), each told by the same lookup.
    let files = plain(&store, &alice, None, "files").await;
    plain(&store, &alice, Some(&files), "files/sub").await;
    let m = store.member_meta(alice.id, "files", "sub").await.unwrap().unwrap();
    assert!(m.object.is_none() && m.child_collection && !m.home_locked);
    assert!(!store.member_meta(alice.id, "files", "other").await.unwrap().unwrap().child_collection);
    let lock = kalends::store::NewLock {
        token: "urn:uuid:1".into(),
        home: alice.id,
        path: "files/elsewhere".into(),
        principal: alice.id,
        shared: false,
        infinite: false,
        owner_xml: None,
        timeout_secs: 1,
    };
    // Taken at time 0 for a second: long expired.
    store.take_lock(lock, 0, 10).await.unwrap().unwrap();
    let m = store.member_meta(alice.id, &default.path, "a.ics").await.unwrap().unwrap();
    assert!(m.home_locked && m.object.is_some());
}

async fn listing_and_multiget(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    for name in ["c.ics", "a.ics", "b.ics"] {
        put(&store, &default, event(name, name, 1)).await;
    }
    let other = store
        .create_collection(new_collection(
            &alice,
            None,
            "other",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    put(&store, &other, event("d.ics", "D", 1)).await;

    let metas = store.list_objects(default.id).await.unwrap();
    let names: Vec<&str> = metas.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a.ics", "b.ics", "c.ics"]);
    assert!(metas.iter().all(|m| m.collection == default.id));
    // The streamed listing: the same members in the same order, each as list_objects has it.
    let mut listed = Vec::new();
    let visited = store
        .list_members(default.id, &mut |m| {
            listed.push(m);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(visited, 3);
    assert_eq!(listed, metas.iter().map(ListedObject::from).collect::<Vec<_>>());
    assert_eq!(store.member_count(default.id).await.unwrap(), 3);
    assert_eq!(store.member_count(other.id).await.unwrap(), 1);
    // A visitor's error stops the listing at that member and comes back unchanged.
    let mut seen = Vec::new();
    let stopped = store
        .list_members(default.id, &mut |m| {
            seen.push(m.name);
            if seen.len() == 2 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await;
    assert!(matches!(stopped, Err(StoreError::NotFound)), "{stopped:?}");
    assert_eq!(seen, ["a.ics", "b.ics"]);
    let with_data = store.list_objects_with_data(default.id).await.unwrap();
    assert_eq!(
        with_data.iter().map(|o| o.meta.clone()).collect::<Vec<_>>(),
        metas
    );
    for o in &with_data {
        assert_eq!(o.data, event(&o.meta.name, &o.meta.name, 1).data);
    }

    let asked: Vec<String> = ["c.ics", "zz.ics", "a.ics", "d.ics", "a.ics"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let got = store.objects_by_names(default.id, &asked).await.unwrap();
    let got_names: Vec<&str> = got.iter().map(|o| o.member.name.as_str()).collect();
    assert_eq!(got_names, ["a.ics", "c.ics"]);
    assert_eq!(got[1].data, event("c.ics", "c.ics", 1).data);
    // Each as the listing has it, and known for a calendar object resource.
    assert_eq!(got[0].member, ListedObject::from(&metas[0]));
    assert_eq!(got[1].member, ListedObject::from(&metas[2]));
    assert!(got.iter().all(|o| o.calendar));
    // Every list length, padded or not, finds exactly what exists.
    for n in 1..=9 {
        let mut asked: Vec<String> = (0..n).map(|i| format!("nothing-{i}.ics")).collect();
        asked.push("b.ics".to_owned());
        let got = store.objects_by_names(default.id, &asked).await.unwrap();
        assert_eq!(got.iter().map(|o| o.member.name.as_str()).collect::<Vec<_>>(), ["b.ics"], "{n} missing names");
    }
    assert!(
        store
            .objects_by_names(default.id, &[])
            .await
            .unwrap()
            .is_empty()
    );

    // More names than one statement binds.
    let mut many: Vec<String> = (0..12_000).map(|i| format!("missing-{i}.ics")).collect();
    many.push("b.ics".to_owned());
    many.insert(0, "c.ics".to_owned());
    let got = store.objects_by_names(default.id, &many).await.unwrap();
    let got_names: Vec<&str> = got.iter().map(|o| o.member.name.as_str()).collect();
    assert_eq!(got_names, ["b.ics", "c.ics"]);

    assert!(
        store
            .list_objects(CollectionId(other.id.0 + 1_000))
            .await
            .unwrap()
            .is_empty()
    );
    // A resource that is not a calendar object says so, with its bytes as stored.
    let files = plain(&store, &alice, None, "files").await;
    put(&store, &files, blob("b.bin", &[0, 159, 146, 150])).await;
    let got = store.objects_by_names(files.id, &["b.bin".to_owned()]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(!got[0].calendar);
    assert_eq!(got[0].data, [0, 159, 146, 150]);
    assert_eq!(got[0].member.content_type, "application/octet-stream");

    let missing = CollectionId(other.id.0 + 1_000);
    assert_eq!(store.list_members(missing, &mut |_| panic!("no members")).await.unwrap(), 0);
    assert_eq!(store.member_count(missing).await.unwrap(), 0);
}

/// (component filter, start, end, expected names in name order)
type RangeCase = (
    Option<ComponentKind>,
    Option<i64>,
    Option<i64>,
    &'static [&'static str],
);

async fn objects_in_range_boundaries(store: Store) {
    use ComponentKind::{Event, Journal, Todo};
    let (alice, default) = alice_with_calendar(&store).await;
    let fixtures = [
        ("a", Event, Some(100), Some(200)),
        ("b", Event, Some(200), Some(300)),
        ("open-start", Todo, None, Some(150)),
        ("open-end", Event, Some(250), None),
        ("forever", Todo, None, None),
        ("instant", Event, Some(400), Some(400)),
    ];
    for (name, kind, first, last) in fixtures {
        put(
            &store,
            &default,
            calendar_object(name, name, 1, kind, first, last),
        )
        .await;
    }
    // Never candidates: a non-calendar resource, and another collection's event.
    put(&store, &default, blob("note.txt", b"n")).await;
    let other = store
        .create_collection(new_collection(
            &alice,
            None,
            "other",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    put(
        &store,
        &other,
        calendar_object("x", "x", 1, Event, Some(0), Some(1_000)),
    )
    .await;

    // Candidates satisfy first_start <= end AND last_end >= start (NULL = unbounded): both sides
    // inclusive, a superset of RFC 4791 §9.9 where instants at either edge can match.
    let cases: [RangeCase; 13] = [
        (None, Some(201), Some(249), &["b", "forever"]),
        // Touching at the query start: a ends exactly at 200.
        (None, Some(200), Some(201), &["a", "b", "forever"]),
        // Touching at the query end: a starts exactly at 100.
        (None, Some(0), Some(100), &["a", "forever", "open-start"]),
        (None, Some(0), Some(99), &["forever", "open-start"]),
        (None, Some(151), Some(199), &["a", "forever"]),
        // A zero-length instance inside, at the start, and just missed.
        (
            None,
            Some(400),
            Some(401),
            &["forever", "instant", "open-end"],
        ),
        (
            None,
            Some(399),
            Some(400),
            &["forever", "instant", "open-end"],
        ),
        (None, Some(401), Some(500), &["forever", "open-end"]),
        // Open query bounds.
        (
            None,
            None,
            None,
            &["a", "b", "forever", "instant", "open-end", "open-start"],
        ),
        (None, None, Some(99), &["forever", "open-start"]),
        (None, Some(301), None, &["forever", "instant", "open-end"]),
        // Component filter.
        (Some(Todo), None, None, &["forever", "open-start"]),
        (Some(Event), Some(0), Some(100), &["a"]),
    ];
    for (component, start, end, expected) in cases {
        let got = store
            .objects_in_range(default.id, component, start, end)
            .await
            .unwrap();
        let names: Vec<&str> = got.iter().map(|o| o.object.meta.name.as_str()).collect();
        assert_eq!(
            names, expected,
            "component {component:?}, range [{start:?}, {end:?})"
        );
    }
    assert!(
        store
            .objects_in_range(default.id, Some(Journal), None, None)
            .await
            .unwrap()
            .is_empty()
    );
    let a = store
        .objects_in_range(default.id, Some(Event), Some(100), Some(101))
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].object.data,
        calendar_object("a", "a", 1, Event, Some(100), Some(200)).data
    );
    assert_eq!(a[0].object.meta.calendar.as_ref().unwrap().first_start, Some(100));
}

async fn copy_object(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let work = store
        .create_collection(new_collection(
            &alice,
            None,
            "work",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    let source = store
        .put_object(default.id, event("a.ics", "U", 1), Expect::Any)
        .await
        .unwrap()
        .meta;
    store
        .patch_object_props(source.id, vec![dead("urn:x", "p", "1")], vec![])
        .await
        .unwrap();
    let default_seq = seq(&store, default.id).await;

    assert!(
        store
            .transfer_object(default.id, "a.ics", work.id, "copy.ics", false, true)
            .await
            .unwrap()
    );
    // The source is untouched; the copy is a new resource with the same content.
    assert_eq!(
        store
            .object_meta(default.id, "a.ics")
            .await
            .unwrap()
            .unwrap()
            .sync_seq,
        default_seq
    );
    assert_eq!(seq(&store, default.id).await, default_seq);
    let copy = store.object(work.id, "copy.ics").await.unwrap().unwrap();
    assert_ne!(copy.meta.id, source.id);
    assert_eq!(copy.data, event("a.ics", "U", 1).data);
    assert_eq!(copy.meta.etag, source.etag);
    assert_eq!(copy.meta.calendar, source.calendar);
    assert_eq!(copy.meta.size, source.size);
    assert_eq!(copy.meta.sync_seq, 1);
    assert_eq!(seq(&store, work.id).await, 1);
    assert_eq!(
        store.object_dead_props(copy.meta.id).await.unwrap(),
        vec![dead("urn:x", "p", "1")]
    );
    let delta = store.changes_since(work.id, Some(0), None).await.unwrap();
    assert_eq!(
        delta
            .changed
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["copy.ics"]
    );

    // Overwrite: the target's content and dead properties are replaced by the source's.
    put(&store, &default, event("a.ics", "U", 2)).await;
    store
        .patch_object_props(
            copy.meta.id,
            vec![dead("urn:x", "target-only", "1")],
            vec![],
        )
        .await
        .unwrap();
    let work_seq = seq(&store, work.id).await;
    assert!(
        !store
            .transfer_object(default.id, "a.ics", work.id, "copy.ics", true, true)
            .await
            .unwrap()
    );
    let copy = store.object(work.id, "copy.ics").await.unwrap().unwrap();
    assert_eq!(copy.data, event("a.ics", "U", 2).data);
    assert_eq!(copy.meta.etag, "\"a.ics-2\"");
    assert_eq!(copy.meta.sync_seq, work_seq + 1);
    assert_eq!(
        store.object_dead_props(copy.meta.id).await.unwrap(),
        vec![dead("urn:x", "p", "1")]
    );
    assert_eq!(names_in(&store, work.id).await, ["copy.ics"]);

    // A copy of a non-calendar resource into the same collection.
    let files = store
        .create_collection(new_collection(&alice, None, "files", CollectionKind::Plain))
        .await
        .unwrap();
    put(&store, &files, blob("x.bin", b"xyz")).await;
    assert!(
        store
            .transfer_object(files.id, "x.bin", files.id, "y.bin", false, true)
            .await
            .unwrap()
    );
    assert_eq!(
        data_of(&store, files.id, "y.bin").await,
        Some(b"xyz".to_vec())
    );
    assert_eq!(names_in(&store, files.id).await, ["x.bin", "y.bin"]);
}

async fn move_object(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let work = store
        .create_collection(new_collection(
            &alice,
            None,
            "work",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    let source = store
        .put_object(default.id, event("a.ics", "U", 1), Expect::Any)
        .await
        .unwrap()
        .meta;
    store
        .patch_object_props(source.id, vec![dead("urn:x", "p", "1")], vec![])
        .await
        .unwrap();
    let default_seq = seq(&store, default.id).await;

    assert!(
        store
            .transfer_object(default.id, "a.ics", work.id, "b.ics", false, false)
            .await
            .unwrap()
    );
    assert_eq!(store.object_meta(default.id, "a.ics").await.unwrap(), None);
    let moved = store.object(work.id, "b.ics").await.unwrap().unwrap();
    assert_eq!(moved.data, event("a.ics", "U", 1).data);
    assert_eq!(moved.meta.etag, source.etag);
    assert_eq!(moved.meta.collection, work.id);
    assert_eq!(moved.meta.sync_seq, 1);
    assert_eq!(
        store.object_dead_props(moved.meta.id).await.unwrap(),
        vec![dead("urn:x", "p", "1")]
    );
    // Both collections changed: a removal in one, an addition in the other.
    assert_eq!(seq(&store, default.id).await, default_seq + 1);
    assert_eq!(seq(&store, work.id).await, 1);
    let from = store
        .changes_since(default.id, Some(default_seq), None)
        .await
        .unwrap();
    assert!(from.changed.is_empty());
    assert_eq!(from.removed, ["a.ics"]);
    let to = store.changes_since(work.id, Some(0), None).await.unwrap();
    assert_eq!(
        to.changed
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["b.ics"]
    );
    assert!(to.removed.is_empty());

    // A rename inside one collection is one change: one seq, a removal and an addition.
    assert!(
        store
            .transfer_object(work.id, "b.ics", work.id, "c.ics", false, false)
            .await
            .unwrap()
    );
    assert_eq!(seq(&store, work.id).await, 2);
    assert_eq!(names_in(&store, work.id).await, ["c.ics"]);
    let delta = store.changes_since(work.id, Some(1), None).await.unwrap();
    assert_eq!(
        delta
            .changed
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["c.ics"]
    );
    assert_eq!(delta.removed, ["b.ics"]);
    assert_eq!(delta.seq, 2);

    // Moving back onto the old name clears its tombstone; overwrite replaces a target of the
    // same UID (one of another UID is refused: uid_conflicts_refuse_without_changes).
    put(&store, &default, event("old.ics", "U", 2)).await;
    assert!(
        !store
            .transfer_object(work.id, "c.ics", default.id, "old.ics", true, false)
            .await
            .unwrap()
    );
    assert_eq!(
        data_of(&store, default.id, "old.ics").await,
        Some(event("a.ics", "U", 1).data)
    );
    assert!(store.list_objects(work.id).await.unwrap().is_empty());
    let delta = store
        .changes_since(default.id, Some(default_seq), None)
        .await
        .unwrap();
    assert_eq!(
        delta
            .changed
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["old.ics"]
    );
    assert_eq!(delta.removed, ["a.ics"]);
}

async fn transfer_refusals_change_nothing(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let work = store
        .create_collection(new_collection(&alice, None, "work", CollectionKind::Plain))
        .await
        .unwrap();
    store
        .create_collection(new_collection(
            &alice,
            Some(&work),
            "work/sub",
            CollectionKind::Plain,
        ))
        .await
        .unwrap();
    put(&store, &default, event("x.ics", "SHARED", 1)).await;
    put(&store, &default, event("y.ics", "Y", 1)).await;
    put(&store, &work, event("held.ics", "SHARED", 1)).await;
    put(&store, &work, event("target.ics", "T", 1)).await;
    let snapshot = |store: Store| async move {
        (
            names_in(&store, default.id).await,
            names_in(&store, work.id).await,
            seq(&store, default.id).await,
            seq(&store, work.id).await,
            data_of(&store, work.id, "target.ics").await,
        )
    };
    let before = snapshot(store.clone()).await;

    type Case<'a> = (CollectionId, &'a str, CollectionId, &'a str, bool, bool);
    let refusals: [(Case, &str); 9] = [
        // UID held by another resource in the destination, for a move and for a copy.
        (
            (default.id, "x.ics", work.id, "new.ics", false, false),
            "uid",
        ),
        // Overwriting an object that has another UID (RFC 4791 §5.3.2.1).
        (
            (default.id, "x.ics", work.id, "target.ics", true, true),
            "replaced",
        ),
        // A copy conflicts with its own source.
        (
            (default.id, "y.ics", default.id, "y2.ics", false, true),
            "uid",
        ),
        // An existing target without overwrite.
        (
            (default.id, "y.ics", work.id, "target.ics", false, false),
            "precondition",
        ),
        (
            (default.id, "y.ics", work.id, "target.ics", false, true),
            "precondition",
        ),
        // A collection of that name in the destination, without overwrite.
        (
            (default.id, "y.ics", work.id, "sub", false, false),
            "precondition",
        ),
        // Missing source object, source or destination collection.
        (
            (default.id, "nope.ics", work.id, "n.ics", true, false),
            "missing",
        ),
        (
            (
                CollectionId(work.id.0 + 1_000),
                "y.ics",
                work.id,
                "n.ics",
                true,
                false,
            ),
            "missing",
        ),
        (
            (
                default.id,
                "y.ics",
                CollectionId(work.id.0 + 1_000),
                "n.ics",
                true,
                true,
            ),
            "missing",
        ),
    ];
    for ((source, name, dest, dest_name, overwrite, keep), why) in refusals {
        let result = store
            .transfer_object(source, name, dest, dest_name, overwrite, keep)
            .await;
        let ok = match (why, &result) {
            ("uid", Err(StoreError::UidConflict { existing_name })) => {
                existing_name == if dest == work.id { "held.ics" } else { "y.ics" }
            }
            ("replaced", Err(StoreError::UidReplaced { name })) => name == dest_name,
            ("precondition", Err(StoreError::PreconditionFailed)) => true,
            ("missing", Err(StoreError::NotFound)) => true,
            _ => false,
        };
        assert!(ok, "{name} -> {dest_name}: expected {why}, got {result:?}");
        assert_eq!(
            snapshot(store.clone()).await,
            before,
            "{name} -> {dest_name} changed data"
        );
    }

    // Onto itself: PreconditionFailed without overwrite, a no-op with it.
    assert_err!(
        store
            .transfer_object(default.id, "y.ics", default.id, "y.ics", false, false)
            .await,
        StoreError::PreconditionFailed
    );
    assert!(
        !store
            .transfer_object(default.id, "y.ics", default.id, "y.ics", true, false)
            .await
            .unwrap()
    );
    assert_eq!(snapshot(store.clone()).await, before);
}

/// Every collection of `owner` as (path, id, member names), in path order.
async fn tree(store: &Store, owner: UserId) -> Vec<(String, i64, Vec<String>)> {
    let mut pending = store.child_collections(owner, None).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = pending.pop() {
        pending.extend(store.child_collections(owner, Some(c.id)).await.unwrap());
        out.push((c.path.clone(), c.id.0, names_in(store, c.id).await));
    }
    out.sort();
    out
}

fn paths(tree: &[(String, i64, Vec<String>)]) -> Vec<&str> {
    tree.iter().map(|(p, _, _)| p.as_str()).collect()
}

async fn collection(store: &Store, owner: &User, path: &str) -> Collection {
    store
        .collection_by_path(owner.id, path)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no collection {path}"))
}

/// Every collection of `owner`, at any depth.
async fn all_collections(store: &Store, owner: UserId) -> Vec<Collection> {
    let mut found = store.child_collections(owner, None).await.unwrap();
    let mut i = 0;
    while i < found.len() {
        let children = store.child_collections(owner, Some(found[i].id)).await.unwrap();
        found.extend(children);
        i += 1;
    }
    found
}

async fn plain(store: &Store, owner: &User, parent: Option<&Collection>, path: &str) -> Collection {
    store
        .create_collection(new_collection(owner, parent, path, CollectionKind::Plain))
        .await
        .unwrap()
}

fn move_to(
    source: &Collection,
    dest_parent: Option<&Collection>,
    name: &str,
    overwrite: bool,
) -> CollectionTransfer {
    CollectionTransfer {
        source: source.id,
        dest_parent: dest_parent.map(|p| p.id),
        dest_name: name.to_owned(),
        overwrite,
        kind: CollectionTransferKind::Move,
    }
}

async fn transfer_object_over_a_collection(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let files = plain(&store, &alice, None, "files").await;
    let sub = plain(&store, &alice, Some(&files), "files/sub").await;
    put(&store, &sub, blob("inner", b"in")).await;
    put(&store, &default, event("a.ics", "A", 1)).await;
    let seq_before = seq(&store, files.id).await;

    // Overwrite: T replaces the collection and everything in it (RFC 4918 §9.8.4).
    assert!(
        !store
            .transfer_object(default.id, "a.ics", files.id, "sub", true, true)
            .await
            .unwrap()
    );
    assert_eq!(store.collection_by_id(sub.id).await.unwrap(), None);
    assert_eq!(names_in(&store, files.id).await, ["sub"]);
    assert_eq!(
        data_of(&store, files.id, "sub").await,
        Some(event("a.ics", "A", 1).data)
    );
    assert_eq!(seq(&store, files.id).await, seq_before + 1);

    // The collection the source lives in cannot be replaced by it.
    let inner = plain(&store, &alice, Some(&files), "files/inner").await;
    put(&store, &inner, blob("x", b"x")).await;
    assert_err!(
        store
            .transfer_object(inner.id, "x", files.id, "inner", true, false)
            .await,
        StoreError::Overlap
    );
    assert_eq!(names_in(&store, inner.id).await, ["x"]);
    assert!(store.collection_by_id(inner.id).await.unwrap().is_some());
}

async fn move_collection_subtree(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let a = plain(&store, &alice, None, "a").await;
    let b = plain(&store, &alice, Some(&a), "a/b").await;
    let c = store
        .create_collection(new_collection(
            &alice,
            Some(&b),
            "a/b/c",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    let ev = store
        .put_object(c.id, event("e.ics", "E", 1), Expect::Any)
        .await
        .unwrap()
        .meta;
    store
        .patch_object_props(ev.id, vec![dead("urn:x", "p", "1")], vec![])
        .await
        .unwrap();
    store
        .patch_collection(
            b.id,
            CollectionPatch {
                set_dead: vec![dead("urn:x", "q", "2")],
                ..CollectionPatch::default()
            },
        )
        .await
        .unwrap();
    let c_seq = seq(&store, c.id).await;

    // To the home, under a new name: every collection keeps its id, members and properties.
    assert!(
        store
            .transfer_collection(move_to(&a, None, "z", false))
            .await
            .unwrap()
    );
    let t = tree(&store, alice.id).await;
    assert_eq!(paths(&t), ["default", "z", "z/b", "z/b/c"]);
    assert_eq!(collection(&store, &alice, "z").await.id, a.id);
    let moved_b = collection(&store, &alice, "z/b").await;
    assert_eq!((moved_b.id, moved_b.parent), (b.id, Some(a.id)));
    let moved_c = collection(&store, &alice, "z/b/c").await;
    assert_eq!((moved_c.id, moved_c.kind), (c.id, CollectionKind::Calendar));
    assert_eq!(moved_c.sync_seq, c_seq, "members did not change");
    assert_eq!(names_in(&store, c.id).await, ["e.ics"]);
    assert_eq!(
        store.object_dead_props(ev.id).await.unwrap(),
        vec![dead("urn:x", "p", "1")]
    );
    assert_eq!(
        store.collection_dead_props(b.id).await.unwrap(),
        vec![dead("urn:x", "q", "2")]
    );

    // Into another collection, deeper.
    let q = plain(&store, &alice, None, "q").await;
    assert!(
        store
            .transfer_collection(move_to(&moved_b, Some(&q), "b2", false))
            .await
            .unwrap()
    );
    assert_eq!(
        paths(&tree(&store, alice.id).await),
        ["default", "q", "q/b2", "q/b2/c", "z"]
    );
    assert_eq!(collection(&store, &alice, "q/b2").await.parent, Some(q.id));

    // Onto an existing collection: refused without overwrite, replaced with it.
    let y = plain(&store, &alice, None, "y").await;
    put(&store, &y, blob("old", b"old")).await;
    let before = tree(&store, alice.id).await;
    assert_err!(
        store
            .transfer_collection(move_to(&q, None, "y", false))
            .await,
        StoreError::PreconditionFailed
    );
    assert_eq!(tree(&store, alice.id).await, before);
    assert!(
        !store
            .transfer_collection(move_to(&q, None, "y", true))
            .await
            .unwrap()
    );
    assert_eq!(store.collection_by_id(y.id).await.unwrap(), None);
    assert_eq!(collection(&store, &alice, "y").await.id, q.id);
    assert_eq!(
        paths(&tree(&store, alice.id).await),
        ["default", "y", "y/b2", "y/b2/c", "z"]
    );

    // Onto an object: it goes, with a tombstone in its collection.
    let files = plain(&store, &alice, None, "files").await;
    put(&store, &files, blob("spot", b"s")).await;
    let files_seq = seq(&store, files.id).await;
    let z = collection(&store, &alice, "z").await;
    assert!(
        !store
            .transfer_collection(move_to(&z, Some(&files), "spot", true))
            .await
            .unwrap()
    );
    assert!(names_in(&store, files.id).await.is_empty());
    assert_eq!(collection(&store, &alice, "files/spot").await.id, a.id);
    let delta = store
        .changes_since(files.id, Some(files_seq), None)
        .await
        .unwrap();
    assert_eq!(delta.removed, ["spot"]);

    // Paths are compared literally: '%' and '_' in a name are not wildcards.
    let odd = plain(&store, &alice, None, "p%_").await;
    plain(&store, &alice, Some(&odd), "p%_/k").await;
    let lookalike = plain(&store, &alice, None, "pX_").await;
    plain(&store, &alice, Some(&lookalike), "pX_/k").await;
    assert!(
        store
            .transfer_collection(move_to(&odd, None, "r", false))
            .await
            .unwrap()
    );
    let t = tree(&store, alice.id).await;
    assert!(paths(&t).contains(&"r/k") && paths(&t).contains(&"pX_/k"), "{t:?}");
    assert!(!paths(&t).contains(&"p%_/k"));
    // The calendar moved along untouched all the way.
    assert_eq!(names_in(&store, default.id).await, Vec::<String>::new());
    assert_eq!(names_in(&store, c.id).await, ["e.ics"]);
}

async fn copy_collection_deep_and_shallow(store: Store) {
    let (alice, _default) = alice_with_calendar(&store).await;
    let src = store
        .create_collection(NewCollection {
            props: CollectionProps {
                displayname: Some("Source".into()),
                components: ComponentSet::ALL,
                ..CollectionProps::default()
            },
            dead_props: vec![dead("urn:x", "c", "coll")],
            ..new_collection(&alice, None, "src", CollectionKind::Plain)
        })
        .await
        .unwrap();
    let f = store
        .put_object(src.id, blob("f", b"file"), Expect::Any)
        .await
        .unwrap()
        .meta;
    store
        .patch_object_props(f.id, vec![dead("urn:x", "o", "obj")], vec![])
        .await
        .unwrap();
    let cal = store
        .create_collection(new_collection(
            &alice,
            Some(&src),
            "src/cal",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    put(&store, &cal, event("e.ics", "E", 1)).await;
    put(&store, &cal, event("g.ics", "G", 1)).await;
    let src_seq = seq(&store, src.id).await;
    let used = store.used_bytes(alice.id).await.unwrap();
    assert_eq!(store.subtree_bytes(alice.id, "src").await.unwrap(), used);
    assert_eq!(
        store.subtree_bytes(alice.id, "src/cal").await.unwrap(),
        used - 4
    );
    assert_eq!(store.subtree_bytes(alice.id, "nothing").await.unwrap(), 0);

    let copy = |dest_parent: Option<&Collection>, name: &str, kind, overwrite| CollectionTransfer {
        source: src.id,
        dest_parent: dest_parent.map(|p| p.id),
        dest_name: name.to_owned(),
        overwrite,
        kind,
    };
    assert!(
        store
            .transfer_collection(copy(None, "dst", CollectionTransferKind::CopyDeep, false))
            .await
            .unwrap()
    );
    let dst = collection(&store, &alice, "dst").await;
    let dst_cal = collection(&store, &alice, "dst/cal").await;
    assert!(dst.id != src.id && dst_cal.id != cal.id);
    assert_eq!(dst_cal.parent, Some(dst.id));
    assert_eq!(dst_cal.kind, CollectionKind::Calendar);
    assert_eq!(dst.props.displayname.as_deref(), Some("Source"));
    assert_eq!(
        store.collection_dead_props(dst.id).await.unwrap(),
        vec![dead("urn:x", "c", "coll")]
    );
    let f_copy = store.object(dst.id, "f").await.unwrap().unwrap();
    assert_ne!(f_copy.meta.id, f.id);
    assert_eq!((f_copy.data.as_slice(), f_copy.meta.etag.as_str()), (&b"file"[..], f.etag.as_str()));
    assert_eq!(
        store.object_dead_props(f_copy.meta.id).await.unwrap(),
        vec![dead("urn:x", "o", "obj")]
    );
    assert_eq!(names_in(&store, dst_cal.id).await, ["e.ics", "g.ics"]);
    let copied = store.object(dst_cal.id, "e.ics").await.unwrap().unwrap();
    assert_eq!(copied.meta.calendar, event("e.ics", "E", 1).calendar);
    // Each copy starts its own sync history; the source is untouched.
    assert_eq!((dst_cal.sync_seq, copied.meta.sync_seq), (1, 1));
    let initial = store.changes_since(dst_cal.id, None, None).await.unwrap();
    assert_eq!(changed_names(&initial), ["e.ics", "g.ics"]);
    assert_eq!(seq(&store, src.id).await, src_seq);
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), 2 * used);

    // Depth 0: the collection and its properties, no members, no children.
    assert!(
        store
            .transfer_collection(copy(None, "shallow", CollectionTransferKind::CopyShallow, false))
            .await
            .unwrap()
    );
    let shallow = collection(&store, &alice, "shallow").await;
    assert_eq!(shallow.props.displayname.as_deref(), Some("Source"));
    assert_eq!(
        store.collection_dead_props(shallow.id).await.unwrap(),
        vec![dead("urn:x", "c", "coll")]
    );
    assert!(names_in(&store, shallow.id).await.is_empty());
    assert!(store.child_collections(alice.id, Some(shallow.id)).await.unwrap().is_empty());

    // Over an existing collection with overwrite: the old one and its members are gone.
    assert!(
        !store
            .transfer_collection(copy(None, "shallow", CollectionTransferKind::CopyDeep, true))
            .await
            .unwrap()
    );
    assert_eq!(store.collection_by_id(shallow.id).await.unwrap(), None);
    assert_eq!(names_in(&store, collection(&store, &alice, "shallow/cal").await.id).await, ["e.ics", "g.ics"]);

    // Into a plain collection, over an object of that name.
    let files = plain(&store, &alice, None, "files").await;
    put(&store, &files, blob("spot", b"s")).await;
    assert!(
        !store
            .transfer_collection(copy(Some(&files), "spot", CollectionTransferKind::CopyShallow, true))
            .await
            .unwrap()
    );
    assert!(names_in(&store, files.id).await.is_empty());
    assert_eq!(collection(&store, &alice, "files/spot").await.parent, Some(files.id));
}

async fn collection_transfer_refusals_change_nothing(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let a = plain(&store, &alice, None, "a").await;
    let b = plain(&store, &alice, Some(&a), "a/b").await;
    put(&store, &b, blob("x", b"x")).await;
    let other = plain(&store, &alice, None, "other").await;
    let bob = store.create_user(new_user("bob"), vec![home("bobs", CollectionKind::Plain)]).await.unwrap();
    let bobs = collection(&store, &bob, "bobs").await;
    let before = tree(&store, alice.id).await;
    let gone = CollectionId(other.id.0 + 1_000);

    let cases: Vec<(CollectionTransfer, &str)> = vec![
        (move_to(&a, None, "a", true), "overlap"),
        (move_to(&a, Some(&b), "inside", false), "overlap"),
        (move_to(&b, None, "a", true), "overlap"),
        (CollectionTransfer { kind: CollectionTransferKind::CopyDeep, ..move_to(&a, Some(&b), "c", false) }, "overlap"),
        (move_to(&b, None, "other", false), "precondition"),
        (CollectionTransfer { kind: CollectionTransferKind::CopyShallow, ..move_to(&b, None, "other", false) }, "precondition"),
        (move_to(&other, Some(&b), "x", false), "precondition"),
        (CollectionTransfer { source: gone, ..move_to(&a, None, "n", false) }, "missing"),
        (CollectionTransfer { dest_parent: Some(gone), ..move_to(&a, None, "n", false) }, "missing"),
        (move_to(&a, Some(&bobs), "n", false), "missing"),
        (move_to(&a, Some(&default), "", false), "missing"),
    ];
    for (transfer, why) in cases {
        let described = format!("{transfer:?}");
        let result = store.transfer_collection(transfer).await;
        let ok = matches!(
            (why, &result),
            ("overlap", Err(StoreError::Overlap))
                | ("precondition", Err(StoreError::PreconditionFailed))
                | ("missing", Err(StoreError::NotFound))
        );
        assert!(ok, "{described}: expected {why}, got {result:?}");
        assert_eq!(tree(&store, alice.id).await, before, "{described} changed data");
    }
    assert_eq!(paths(&tree(&store, bob.id).await), ["bobs"]);
}

async fn object_dead_props(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    let a = store
        .put_object(default.id, event("a.ics", "A", 1), Expect::Any)
        .await
        .unwrap()
        .meta;
    assert!(store.object_dead_props(a.id).await.unwrap().is_empty());

    store
        .patch_object_props(
            a.id,
            vec![dead("urn:y", "b", "1"), dead("urn:x", "a", "1")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        store.object_dead_props(a.id).await.unwrap(),
        vec![dead("urn:x", "a", "1"), dead("urn:y", "b", "1")]
    );
    // A property change is a member change for sync.
    assert_eq!(seq(&store, default.id).await, 2);
    let delta = store
        .changes_since(default.id, Some(1), None)
        .await
        .unwrap();
    assert_eq!(delta.changed.len(), 1);
    assert_eq!(delta.changed[0].id, a.id);
    assert_eq!(delta.changed[0].sync_seq, 2);

    store
        .patch_object_props(
            a.id,
            vec![dead("urn:y", "b", "2")],
            vec![
                ("urn:x".to_owned(), "a".to_owned()),
                ("urn:x".to_owned(), "never".to_owned()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.object_dead_props(a.id).await.unwrap(),
        vec![dead("urn:y", "b", "2")]
    );

    // Dead properties survive a content replacement.
    put(&store, &default, event("a.ics", "A", 2)).await;
    assert_eq!(
        store.object_dead_props(a.id).await.unwrap(),
        vec![dead("urn:y", "b", "2")]
    );

    let seq_before = seq(&store, default.id).await;
    assert_err!(
        store
            .patch_object_props(
                ObjectId(a.id.0 + 1_000),
                vec![dead("urn:x", "a", "1")],
                vec![]
            )
            .await,
        StoreError::NotFound
    );
    assert_eq!(seq(&store, default.id).await, seq_before);

    store
        .delete_object(default.id, "a.ics", Expect::Any)
        .await
        .unwrap();
    assert!(store.object_dead_props(a.id).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Sync.
// ---------------------------------------------------------------------------------------------

fn changed_names(delta: &kalends::store::SyncDelta) -> Vec<&str> {
    delta.changed.iter().map(|m| m.name.as_str()).collect()
}

async fn sync_initial_lists_live_members(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    let empty = store.changes_since(default.id, None, None).await.unwrap();
    assert!(empty.changed.is_empty() && empty.removed.is_empty());
    assert_eq!(empty.seq, 0);
    assert!(!empty.truncated);

    for name in ["c.ics", "a.ics", "b.ics"] {
        put(&store, &default, event(name, name, 1)).await;
    }
    put(&store, &default, event("c.ics", "c.ics", 2)).await;
    store
        .delete_object(default.id, "b.ics", Expect::Any)
        .await
        .unwrap();

    let initial = store.changes_since(default.id, None, None).await.unwrap();
    assert_eq!(
        changed_names(&initial),
        ["a.ics", "c.ics"],
        "live members in seq order"
    );
    assert_eq!(initial.changed[0].sync_seq, 2);
    assert_eq!(initial.changed[1].sync_seq, 4);
    assert!(
        initial.removed.is_empty(),
        "an initial sync has no tombstones"
    );
    assert_eq!(initial.seq, 5);
    assert!(!initial.truncated);
}

async fn sync_incremental_reports_changes_and_removals(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    for name in ["a.ics", "b.ics", "c.ics"] {
        put(&store, &default, event(name, name, 1)).await;
    }
    let token = store
        .changes_since(default.id, None, None)
        .await
        .unwrap()
        .seq;
    assert_eq!(token, 3);

    put(&store, &default, event("a.ics", "a.ics", 2)).await; // 4
    store
        .delete_object(default.id, "b.ics", Expect::Any)
        .await
        .unwrap(); // 5
    put(&store, &default, event("d.ics", "d.ics", 1)).await; // 6
    put(&store, &default, event("a.ics", "a.ics", 3)).await; // 7

    let delta = store
        .changes_since(default.id, Some(token), None)
        .await
        .unwrap();
    assert_eq!(
        changed_names(&delta),
        ["d.ics", "a.ics"],
        "each member once, at its last change"
    );
    assert_eq!(delta.changed[1].sync_seq, 7);
    assert_eq!(delta.changed[1].etag, "\"a.ics-3\"");
    assert_eq!(delta.removed, ["b.ics"]);
    assert_eq!(delta.seq, 7);
    assert!(!delta.truncated);

    let later = store
        .changes_since(default.id, Some(5), None)
        .await
        .unwrap();
    assert_eq!(changed_names(&later), ["d.ics", "a.ics"]);
    assert!(later.removed.is_empty());
    let none = store
        .changes_since(default.id, Some(7), None)
        .await
        .unwrap();
    assert!(none.changed.is_empty() && none.removed.is_empty());
    assert_eq!(none.seq, 7);

    // Re-created: a change, no longer a removal.
    put(&store, &default, event("b.ics", "b.ics", 2)).await; // 8
    let delta = store
        .changes_since(default.id, Some(token), None)
        .await
        .unwrap();
    assert_eq!(changed_names(&delta), ["d.ics", "a.ics", "b.ics"]);
    assert!(delta.removed.is_empty());
    let from_zero = store
        .changes_since(default.id, Some(0), None)
        .await
        .unwrap();
    assert_eq!(
        changed_names(&from_zero),
        ["c.ics", "d.ics", "a.ics", "b.ics"]
    );
    assert_eq!(from_zero.seq, 8);
}

async fn sync_limit_truncates_in_seq_order(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    for i in 1..=5 {
        put(
            &store,
            &default,
            event(&format!("n{i}.ics"), &format!("n{i}"), 1),
        )
        .await;
    }
    store
        .delete_object(default.id, "n2.ics", Expect::Any)
        .await
        .unwrap(); // 6

    let page = store
        .changes_since(default.id, Some(0), Some(2))
        .await
        .unwrap();
    assert_eq!(changed_names(&page), ["n1.ics", "n3.ics"]);
    assert!(page.truncated);
    assert_eq!(page.seq, 3);
    let page = store
        .changes_since(default.id, Some(page.seq), Some(2))
        .await
        .unwrap();
    assert_eq!(changed_names(&page), ["n4.ics", "n5.ics"]);
    assert!(page.removed.is_empty());
    assert!(page.truncated);
    assert_eq!(page.seq, 5);
    let page = store
        .changes_since(default.id, Some(page.seq), Some(2))
        .await
        .unwrap();
    assert!(page.changed.is_empty());
    assert_eq!(page.removed, ["n2.ics"]);
    assert!(!page.truncated);
    assert_eq!(page.seq, 6);

    // A limit that fits exactly is not a truncation, and the token is the current seq.
    let exact = store
        .changes_since(default.id, Some(3), Some(3))
        .await
        .unwrap();
    assert_eq!(changed_names(&exact), ["n4.ics", "n5.ics"]);
    assert_eq!(exact.removed, ["n2.ics"]);
    assert!(!exact.truncated);
    assert_eq!(exact.seq, 6);

    // An initial sync pages the same way and continues incrementally.
    let first = store
        .changes_since(default.id, None, Some(3))
        .await
        .unwrap();
    assert_eq!(changed_names(&first), ["n1.ics", "n3.ics", "n4.ics"]);
    assert!(first.truncated);
    assert_eq!(first.seq, 4);
    let rest = store
        .changes_since(default.id, Some(first.seq), Some(3))
        .await
        .unwrap();
    assert_eq!(changed_names(&rest), ["n5.ics"]);
    assert_eq!(rest.removed, ["n2.ics"]);
    assert!(!rest.truncated);
    assert_eq!(rest.seq, 6);

    // A zero limit still makes progress.
    let one = store
        .changes_since(default.id, Some(0), Some(0))
        .await
        .unwrap();
    assert_eq!(changed_names(&one), ["n1.ics"]);
    assert!(one.truncated);
    assert_eq!(one.seq, 1);
}

async fn sync_limit_keeps_one_transaction_together(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "A", 1)).await; // 1
    put(&store, &default, event("b.ics", "B", 1)).await; // 2
    // A rename: a tombstone for a.ics and the member c.ics, both at seq 3.
    store
        .transfer_object(default.id, "a.ics", default.id, "c.ics", false, false)
        .await
        .unwrap();
    put(&store, &default, event("d.ics", "D", 1)).await; // 4

    let page = store
        .changes_since(default.id, Some(1), Some(2))
        .await
        .unwrap();
    assert_eq!(changed_names(&page), ["b.ics"], "seq 3 must not be split");
    assert!(page.removed.is_empty());
    assert!(page.truncated);
    assert_eq!(page.seq, 2);
    let page = store
        .changes_since(default.id, Some(2), Some(1))
        .await
        .unwrap();
    assert_eq!(
        changed_names(&page),
        ["c.ics"],
        "a group over the limit comes whole"
    );
    assert_eq!(page.removed, ["a.ics"]);
    assert!(page.truncated);
    assert_eq!(page.seq, 3);
    let page = store
        .changes_since(default.id, Some(3), Some(1))
        .await
        .unwrap();
    assert_eq!(changed_names(&page), ["d.ics"]);
    assert!(!page.truncated);
    assert_eq!(page.seq, 4);
}

async fn sync_rejects_invalid_tokens(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "A", 1)).await;
    put(&store, &default, event("b.ics", "B", 1)).await;
    let other = store
        .create_collection(new_collection(
            &alice,
            None,
            "other",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();

    assert_err!(
        store.changes_since(default.id, Some(3), None).await,
        StoreError::InvalidSyncToken
    );
    assert_err!(
        store.changes_since(default.id, Some(-1), None).await,
        StoreError::InvalidSyncToken
    );
    // A token from a busier collection is beyond this one's seq.
    assert_err!(
        store.changes_since(other.id, Some(2), None).await,
        StoreError::InvalidSyncToken
    );
    assert_err!(
        store
            .changes_since(CollectionId(other.id.0 + 1_000), Some(0), None)
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .changes_since(CollectionId(other.id.0 + 1_000), None, None)
            .await,
        StoreError::NotFound
    );
    // The edges are valid.
    assert_eq!(
        store
            .changes_since(default.id, Some(2), None)
            .await
            .unwrap()
            .seq,
        2
    );
    assert_eq!(
        store
            .changes_since(default.id, Some(0), None)
            .await
            .unwrap()
            .changed
            .len(),
        2
    );
    assert_eq!(
        store
            .changes_since(other.id, Some(0), None)
            .await
            .unwrap()
            .seq,
        0
    );
}

async fn prune_tombstones_raises_the_token_floor(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    for name in ["a.ics", "b.ics", "c.ics"] {
        put(&store, &default, event(name, name, 1)).await; // 1..=3
    }
    store
        .delete_object(default.id, "a.ics", Expect::Any)
        .await
        .unwrap(); // 4
    store
        .delete_object(default.id, "b.ics", Expect::Any)
        .await
        .unwrap(); // 5
    let other = store
        .create_collection(new_collection(
            &alice,
            None,
            "other",
            CollectionKind::Calendar,
        ))
        .await
        .unwrap();
    put(&store, &other, event("x.ics", "X", 1)).await; // 1
    store
        .delete_object(other.id, "x.ics", Expect::Any)
        .await
        .unwrap(); // 2
    put(&store, &other, event("y.ics", "Y", 1)).await; // 3

    // Nothing is older than the epoch.
    assert_eq!(store.prune_tombstones(0).await.unwrap(), 0);
    assert_eq!(
        store
            .changes_since(default.id, Some(0), None)
            .await
            .unwrap()
            .removed,
        ["a.ics", "b.ics"]
    );

    assert_eq!(store.prune_tombstones(now() + 60).await.unwrap(), 3);
    for token in [0, 3, 4] {
        assert_err!(
            store.changes_since(default.id, Some(token), None).await,
            StoreError::InvalidSyncToken
        );
    }
    let at_floor = store
        .changes_since(default.id, Some(5), None)
        .await
        .unwrap();
    assert!(at_floor.changed.is_empty() && at_floor.removed.is_empty());
    assert_eq!(at_floor.seq, 5);
    assert_err!(
        store.changes_since(other.id, Some(1), None).await,
        StoreError::InvalidSyncToken
    );
    let other_delta = store.changes_since(other.id, Some(2), None).await.unwrap();
    assert_eq!(changed_names(&other_delta), ["y.ics"]);
    // An initial sync needs no tombstones and still works.
    assert_eq!(
        changed_names(&store.changes_since(default.id, None, None).await.unwrap()),
        ["c.ics"]
    );

    // New deletions are reported from the floor on, and pruning them raises it again.
    store
        .delete_object(default.id, "c.ics", Expect::Any)
        .await
        .unwrap(); // 6
    assert_eq!(
        store
            .changes_since(default.id, Some(5), None)
            .await
            .unwrap()
            .removed,
        ["c.ics"]
    );
    assert_eq!(store.prune_tombstones(now() + 60).await.unwrap(), 1);
    assert_err!(
        store.changes_since(default.id, Some(5), None).await,
        StoreError::InvalidSyncToken
    );
    assert_eq!(
        store
            .changes_since(default.id, Some(6), None)
            .await
            .unwrap()
            .seq,
        6
    );
    // Untouched collections keep their floor.
    assert_eq!(
        store
            .changes_since(other.id, Some(2), None)
            .await
            .unwrap()
            .seq,
        3
    );
    assert_eq!(store.prune_tombstones(now() + 60).await.unwrap(), 0);
}

async fn concurrent_puts_get_distinct_monotonic_seqs(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put_object(
                        default.id,
                        event(&format!("{i:02}.ics"), &format!("uid-{i}"), 1),
                        Expect::Absent,
                    )
                    .await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        assert!(outcome.created);
        seqs.push(outcome.meta.sync_seq);
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<i64>>(),
        "every put got its own seq"
    );
    assert_eq!(seq(&store, default.id).await, 20);
    assert_eq!(store.list_objects(default.id).await.unwrap().len(), 20);
    // The log agrees: every member once, in strictly increasing seq order.
    let delta = store
        .changes_since(default.id, Some(0), None)
        .await
        .unwrap();
    let logged: Vec<i64> = delta.changed.iter().map(|m| m.sync_seq).collect();
    assert_eq!(logged, (1..=20).collect::<Vec<i64>>());
    let names: BTreeSet<&str> = delta.changed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), 20);
}

async fn concurrent_conflicting_puts_admit_exactly_one(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;

    // Ten different names with one UID: one wins, nine see the winner's name.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put_object(
                        default.id,
                        event(&format!("{i}.ics"), "SAME-UID", 1),
                        Expect::Any,
                    )
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(outcome) => winners.push(outcome.meta.name),
            Err(StoreError::UidConflict { existing_name }) => conflicts.push(existing_name),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    assert_eq!(conflicts.len(), 9);
    assert!(conflicts.iter().all(|name| *name == winners[0]));
    assert_eq!(names_in(&store, default.id).await, winners);
    assert_eq!(
        seq(&store, default.id).await,
        1,
        "refused puts leave no seq behind"
    );

    // Ten If-None-Match: * creates of one name: one creates, nine fail the precondition.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .put_object(
                        default.id,
                        event("same.ics", &format!("uid-{i}"), 1),
                        Expect::Absent,
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(outcome) => {
                assert!(outcome.created);
                created += 1;
            }
            Err(StoreError::PreconditionFailed) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(seq(&store, default.id).await, 2);
}

/// Property patches look the object up before they take the collection lock; mixed with puts
/// into the same collection they must neither fail with a lock error (SQLITE_BUSY on a read
/// lock upgrade, were there several SQLite writers) nor lose a seq.
async fn concurrent_read_then_write_transactions_all_succeed(store: Store) {
    let (_, default) = alice_with_calendar(&store).await;
    let target = store
        .put_object(default.id, event("target.ics", "T", 1), Expect::Any)
        .await
        .unwrap()
        .meta;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let prop = dead("urn:x", &format!("p{i:02}"), "1");
                    store
                        .patch_object_props(target.id, vec![prop], vec![])
                        .await
                } else {
                    let object = event(&format!("{i:02}.ics"), &format!("uid-{i}"), 1);
                    store
                        .put_object(default.id, object, Expect::Absent)
                        .await
                        .map(|_| ())
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(seq(&store, default.id).await, 21);
    assert_eq!(store.object_dead_props(target.id).await.unwrap().len(), 10);
    assert_eq!(store.list_objects(default.id).await.unwrap().len(), 11);
}

// ---------------------------------------------------------------------------------------------
// Engine-specific opening, and the migrations themselves.
// ---------------------------------------------------------------------------------------------

/// `path` (absolute) spelled relative to the current directory, e.g. "../../tmp/x/rel.db".
fn relative_to_cwd(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    format!(
        "{}{}",
        "../".repeat(ups),
        path.strip_prefix("/").unwrap().display()
    )
}

#[tokio::test]
async fn sqlite_url_forms_create_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name);
    let forms = [
        (
            format!("sqlite://{}", file("abs.db").display()),
            file("abs.db"),
        ),
        (
            format!("sqlite:{}", file("plain-abs.db").display()),
            file("plain-abs.db"),
        ),
        (
            format!("sqlite://{}", relative_to_cwd(&file("rel.db"))),
            file("rel.db"),
        ),
        (
            format!("sqlite:{}", relative_to_cwd(&file("plain-rel.db"))),
            file("plain-rel.db"),
        ),
    ];
    for (url, path) in forms {
        assert!(!path.exists());
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.engine(), "sqlite");
        assert!(path.exists(), "{url} did not create {}", path.display());
        let (_, default) = alice_with_calendar(&store).await;
        put(&store, &default, event("a.ics", "A", 1)).await;
        drop(store);
        // Reopening migrates nothing new and finds the data.
        let store = Store::open(&url).await.unwrap();
        let alice = store.user_by_name("alice").await.unwrap().unwrap();
        let default = store
            .collection_by_path(alice.id, "default")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names_in(&store, default.id).await, ["a.ics"]);
        assert_eq!(default.sync_seq, 1);
    }
}

#[tokio::test]
async fn sqlite_in_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let (_, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "A", 1)).await;
    let delta = store
        .changes_since(default.id, Some(0), None)
        .await
        .unwrap();
    assert_eq!(changed_names(&delta), ["a.ics"]);
}

#[tokio::test]
async fn postgres_reopen_keeps_data() {
    let db = support::throwaway_postgres_url();
    let store = Store::open(db.url()).await.unwrap();
    assert_eq!(store.engine(), "postgres");
    let (_, default) = alice_with_calendar(&store).await;
    put(&store, &default, event("a.ics", "A", 1)).await;
    drop(store);
    let store = Store::open(db.url()).await.unwrap();
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let default = store
        .collection_by_path(alice.id, "default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names_in(&store, default.id).await, ["a.ics"]);
}

/// Two Kalends nodes on one PostgreSQL (two pools): writes from both interleave, and the
/// collection's sequence (what sync tokens and getctag carry) stays gap-free and strictly
/// increasing, whichever node serves the next sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_share_one_monotonic_sequence() {
    let db = support::throwaway_postgres_url();
    let node_a = Store::open(db.url()).await.unwrap();
    let node_b = Store::open(db.url()).await.unwrap();
    let (_, default) = alice_with_calendar(&node_a).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = if i % 2 == 0 { node_a.clone() } else { node_b.clone() };
            tokio::spawn(async move {
                store.put_object(default.id, event(&format!("{i:02}.ics"), &format!("uid-{i}"), 1), Expect::Absent).await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap().unwrap().meta.sync_seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
    // A token taken on one node is continued on the other.
    let from_a = node_a.changes_since(default.id, Some(10), None).await.unwrap();
    let from_b = node_b.changes_since(default.id, Some(10), None).await.unwrap();
    assert_eq!(changed_names(&from_a), changed_names(&from_b));
    assert_eq!(from_b.changed.len(), 10);
    assert_eq!((from_a.seq, from_b.seq), (20, 20));
}

#[test]
fn migrations_have_the_same_numbering_on_both_engines() {
    let list = |engine: &str| -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(engine);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let sqlite = list("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, list("postgres"));
}

/// A client that keeps syncing (with small pages) while writers create, replace and delete
/// members ends up with exactly the collection's state: a delta read without a transaction
/// (two statements) must never skip a change between its statements or behind its token.
async fn sync_during_concurrent_writes_loses_nothing(store: Store) {
    use std::collections::BTreeMap;
    let (_, default) = alice_with_calendar(&store).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 0..30u32 {
                    let name = format!("w{w}-{}.ics", round % 7);
                    if round % 5 == 4 {
                        // Deleting what may or may not be there; NotFound is fine.
                        let _ = store.delete_object(default.id, &name, Expect::Any).await;
                    } else {
                        let uid = format!("uid-{name}");
                        store.put_object(default.id, event(&name, &uid, round), Expect::Any).await.unwrap();
                    }
                }
            })
        })
        .collect();

    let mut mirror: BTreeMap<String, String> = BTreeMap::new();
    let mut token: Option<i64> = None;
    let apply = |delta: kalends::store::SyncDelta, mirror: &mut BTreeMap<String, String>| {
        for meta in delta.changed {
            mirror.insert(meta.name, meta.etag);
        }
        for name in delta.removed {
            mirror.remove(&name);
        }
        (delta.seq, delta.truncated)
    };
    let mut syncs = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        let delta = store.changes_since(default.id, token, Some(3)).await.unwrap();
        let (seq, _) = apply(delta, &mut mirror);
        token = Some(seq);
        syncs += 1;
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    // Drain whatever the last writes left.
    loop {
        let delta = store.changes_since(default.id, token, Some(3)).await.unwrap();
        let (seq, truncated) = apply(delta, &mut mirror);
        token = Some(seq);
        if !truncated {
            break;
        }
    }
    assert!(syncs > 1, "the client synced while the writers ran ({syncs} syncs)");
    assert_eq!(token, Some(seq(&store, default.id).await), "the last token is the collection's seq");
    let truth: BTreeMap<String, String> = store
        .list_objects(default.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.etag))
        .collect();
    assert_eq!(mirror, truth, "the synced mirror is the collection");
}

// ---------------------------------------------------------------------------------------------
// Event timelines.
// ---------------------------------------------------------------------------------------------

/// A real event object, indexed as a PUT indexes it, its timeline laid out to `horizon`.
fn indexed_event(name: &str, uid: &str, rule: &str, horizon: i64) -> NewObject {
    let data = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n{rule}\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let any_time = kalends::calendar::ValidateOptions { min_date_time: i64::MIN, max_date_time: i64::MAX };
    let indexed = kalends::calendar::index_object(data.as_bytes(), &any_time, horizon).unwrap();
    NewObject {
        name: name.to_owned(),
        etag: format!("\"{name}\""),
        data: data.into_bytes(),
        content_type: "text/calendar; charset=utf-8".to_owned(),
        calendar: Some(indexed.index),
        timeline: indexed.timeline,
        schedule_tag: None,
        alarms: Default::default(),
    }
}

async fn timeline_of(store: &Store, collection: CollectionId, name: &str) -> Option<kalends::store::Timeline> {
    let candidates = store.objects_in_range(collection, None, None, None).await.unwrap();
    candidates.into_iter().find(|c| c.object.meta.name == name).expect("a candidate").timeline
}

async fn timelines_are_stored_copied_and_renewed(store: Store) {
    let (alice, default) = alice_with_calendar(&store).await;
    let soon = now() + 100;
    let daily = indexed_event("daily.ics", "D", "RRULE:FREQ=DAILY\r\n", soon);
    let stored = daily.timeline.clone().expect("an unbounded daily rule has a timeline");
    assert_eq!(stored.until, Some(soon));
    let once = indexed_event("once.ics", "O", "", soon);
    assert_eq!(once.timeline.as_ref().map(|t| t.until), Some(None), "a single instance is stored whole");
    let daily_meta = store.put_object(default.id, daily, Expect::Any).await.unwrap().meta;
    store.put_object(default.id, once, Expect::Any).await.unwrap();
    put(&store, &default, blob("note.txt", b"n")).await;
    assert_eq!(timeline_of(&store, default.id, "daily.ics").await, Some(stored.clone()));

    // Only the timeline with a horizon is due, and only once the horizon is near.
    let due = store.timelines_due(soon + 1, 10).await.unwrap();
    assert_eq!(due.iter().map(|o| o.meta.name.as_str()).collect::<Vec<_>>(), ["daily.ics"]);
    assert!(store.timelines_due(soon, 10).await.unwrap().is_empty());

    // A timeline computed from other bytes is not stored over the current one.
    let later = kalends::store::Timeline { until: Some(soon + 1_000), ..stored.clone() };
    assert!(!store.set_timeline(daily_meta.id, "\"stale\"", Some(later.clone())).await.unwrap());
    assert_eq!(timeline_of(&store, default.id, "daily.ics").await, Some(stored.clone()));

    // Renewing changes nothing a client can see: neither the ETag nor the sync state.
    let seq_before = seq(&store, default.id).await;
    assert!(store.set_timeline(daily_meta.id, &daily_meta.etag, Some(later.clone())).await.unwrap());
    assert_eq!(timeline_of(&store, default.id, "daily.ics").await, Some(later.clone()));
    assert_eq!(seq(&store, default.id).await, seq_before);
    assert_eq!(store.object_meta(default.id, "daily.ics").await.unwrap(), Some(daily_meta.clone()));

    // The worker lays out what is due (the horizon is within a year) to two years ahead.
    let renewed = kalends::worker::renew_timelines_once(&store).await.unwrap();
    assert_eq!(renewed, 1);
    let until = timeline_of(&store, default.id, "daily.ics").await.and_then(|t| t.until).unwrap();
    assert!(until >= now() + kalends::calendar::timeline::HORIZON_SECONDS - 60, "renewed to {until}");
    assert_eq!(kalends::worker::renew_timelines_once(&store).await.unwrap(), 0, "nothing is due twice");
    assert_eq!(seq(&store, default.id).await, seq_before);

    // A copy takes the timeline along, in its new collection.
    let work = store.create_collection(new_collection(&alice, None, "work", CollectionKind::Calendar)).await.unwrap();
    assert!(store.transfer_object(default.id, "daily.ics", work.id, "copy.ics", false, true).await.unwrap());
    assert_eq!(timeline_of(&store, work.id, "copy.ics").await, timeline_of(&store, default.id, "daily.ics").await);

    // Setting none (bytes that no longer validate) takes the row off the due list for good.
    let meta = store.object_meta(work.id, "copy.ics").await.unwrap().unwrap();
    assert!(store.set_timeline(meta.id, &meta.etag, None).await.unwrap());
    assert_eq!(timeline_of(&store, work.id, "copy.ics").await, None);
    assert!(store.timelines_due(i64::MAX, 10).await.unwrap().iter().all(|o| o.meta.name != "copy.ics"));
}
