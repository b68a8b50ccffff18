//! The scheduling part of the store contract (RFC 6638): the boxes, recipients by address, a
//! user's copies of one UID, and the scheduling transaction, each test run on both engines.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use std::time::Duration;

use kalends::store::{
    CalendarIndex, Collection, CollectionKind, CollectionPatch, CollectionProps, CollectionStore, ComponentKind,
    ComponentSet, Expect, NewCollection, NewExternalItip, NewObject, NewUser, ObjectStore, SchedStore, SchedWrite,
    SchedWritten, Store, StoreError, User, UserId, UserStore,
};
use kalends::store::{ItipOutcome, ItipSettle};

contract_tests!(
    boxes_are_found_by_role,
    users_are_found_by_address_without_case,
    copies_of_a_uid_across_calendars,
    a_scheduling_batch_is_all_or_nothing,
    new_copies_are_checked_like_single_puts,
    the_senders_creation_is_refused_at_its_own_index,
    opposite_batches_do_not_deadlock,
    the_outbox_is_claimed_settled_and_coalesced,
);

fn home(path: &str, kind: CollectionKind) -> NewCollection {
    NewCollection {
        owner: UserId(0),
        parent: None,
        path: path.to_owned(),
        kind,
        props: CollectionProps { components: ComponentSet::ALL, ..CollectionProps::default() },
        dead_props: Vec::new(),
    }
}

async fn user(store: &Store, name: &str, email: Option<&str>) -> (User, Vec<Collection>) {
    let new = NewUser { name: name.to_owned(), email: email.map(str::to_owned), password_hash: "x".to_owned() };
    let paths = [
        ("calendar", CollectionKind::Calendar),
        ("work", CollectionKind::Calendar),
        ("files", CollectionKind::Plain),
        ("inbox", CollectionKind::Inbox),
        ("outbox", CollectionKind::Outbox),
    ];
    let u = store.create_user(new, paths.iter().map(|(p, k)| home(p, *k)).collect()).await.unwrap();
    let mut cols = Vec::new();
    for (p, _) in paths {
        cols.push(store.collection_by_path(u.id, p).await.unwrap().unwrap());
    }
    (u, cols)
}

fn event(name: &str, uid: &str, version: u32) -> NewObject {
    let data = format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nSEQUENCE:{version}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    NewObject {
        name: name.to_owned(),
        data: data.into_bytes(),
        content_type: "text/calendar; charset=utf-8".to_owned(),
        etag: format!("\"{name}-{version}\""),
        calendar: Some(CalendarIndex { uid: uid.to_owned(), component: ComponentKind::Event, first_start: None, last_end: None }),
        timeline: None,
        schedule_tag: Some(format!("\"tag-{version}\"")),
        alarms: Default::default(),
    }
}

/// An inbox message: no index columns, so several may share a UID.
fn message(name: &str, text: &str) -> NewObject {
    NewObject {
        name: name.to_owned(),
        data: text.as_bytes().to_vec(),
        content_type: "text/calendar; charset=utf-8; method=REQUEST".to_owned(),
        etag: format!("\"{name}\""),
        calendar: None,
        timeline: None,
        schedule_tag: None,
        alarms: Default::default(),
    }
}

fn external(owner: UserId, recipient: &str) -> SchedWrite {
    SchedWrite::External(NewExternalItip {
        owner,
        recipient: recipient.to_owned(),
        method: "REQUEST".to_owned(),
        uid: "u1".to_owned(),
        data: b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".to_vec(),
    })
}

async fn boxes_are_found_by_role(store: Store) {
    let (alice, cols) = user(&store, "alice", None).await;
    let inbox = store.scheduling_box(alice.id, CollectionKind::Inbox).await.unwrap().unwrap();
    let outbox = store.scheduling_box(alice.id, CollectionKind::Outbox).await.unwrap().unwrap();
    assert_eq!((inbox.kind, inbox.path.as_str()), (CollectionKind::Inbox, "inbox"));
    assert_eq!((outbox.kind, outbox.path.as_str()), (CollectionKind::Outbox, "outbox"));
    assert_eq!(store.scheduling_box(alice.id, CollectionKind::Calendar).await.unwrap(), None);
    // The inbox's default calendar and a calendar's transparency are stored properties.
    let calendar = &cols[0];
    let props = CollectionProps { default_calendar: Some(calendar.id), ..inbox.props.clone() };
    store.patch_collection(inbox.id, CollectionPatch { props: Some(props), set_dead: vec![], remove_dead: vec![] }).await.unwrap();
    let props = CollectionProps { transparent: true, ..calendar.props.clone() };
    store.patch_collection(calendar.id, CollectionPatch { props: Some(props), set_dead: vec![], remove_dead: vec![] }).await.unwrap();
    let inbox = store.scheduling_box(alice.id, CollectionKind::Inbox).await.unwrap().unwrap();
    assert_eq!(inbox.props.default_calendar, Some(calendar.id));
    assert!(store.collection_by_id(calendar.id).await.unwrap().unwrap().props.transparent);
    // Deleting the default calendar leaves the inbox without one (ON DELETE SET NULL).
    store.delete_collection(calendar.id).await.unwrap();
    let inbox = store.scheduling_box(alice.id, CollectionKind::Inbox).await.unwrap().unwrap();
    assert_eq!(inbox.props.default_calendar, None);
    // Another user's boxes are theirs.
    let (bob, _) = user(&store, "bob", None).await;
    let bobs = store.scheduling_box(bob.id, CollectionKind::Inbox).await.unwrap().unwrap();
    assert_ne!(bobs.id, inbox.id);
}

async fn users_are_found_by_address_without_case(store: Store) {
    let (alice, _) = user(&store, "alice", Some("Alice@Example.org")).await;
    user(&store, "bob", Some("bob@example.org")).await;
    user(&store, "nomail", None).await;
    let found = store.users_by_email("alice@EXAMPLE.org").await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), vec![alice.id]);
    assert!(store.users_by_email("carol@example.org").await.unwrap().is_empty());
    assert!(store.users_by_email("").await.unwrap().is_empty());
}

async fn copies_of_a_uid_across_calendars(store: Store) {
    let (alice, cols) = user(&store, "alice", None).await;
    let (bob, bob_cols) = user(&store, "bob", None).await;
    store.put_object(cols[0].id, event("a.ics", "shared", 1), Expect::Any).await.unwrap();
    store.put_object(cols[1].id, event("b.ics", "shared", 1), Expect::Any).await.unwrap();
    store.put_object(cols[1].id, event("c.ics", "other", 1), Expect::Any).await.unwrap();
    store.put_object(bob_cols[0].id, event("x.ics", "shared", 1), Expect::Any).await.unwrap();
    // A message in the inbox is no copy, whatever it mentions.
    store.put_object(cols[3].id, message("m.ics", "UID:shared"), Expect::Any).await.unwrap();
    let found = store.objects_with_uid(alice.id, "shared").await.unwrap();
    let names: Vec<(&str, &str)> = found.iter().map(|(c, o)| (c.path.as_str(), o.meta.name.as_str())).collect();
    assert_eq!(names, vec![("calendar", "a.ics"), ("work", "b.ics")]);
    assert_eq!(found[0].1.meta.schedule_tag.as_deref(), Some("\"tag-1\""));
    assert!(String::from_utf8_lossy(&found[0].1.data).contains("UID:shared"));
    assert_eq!(store.objects_with_uid(bob.id, "shared").await.unwrap().len(), 1);
    assert!(store.objects_with_uid(bob.id, "nothing").await.unwrap().is_empty());
}

async fn a_scheduling_batch_is_all_or_nothing(store: Store) {
    let (alice, alice_cols) = user(&store, "alice", None).await;
    let (_bob, bob_cols) = user(&store, "bob", None).await;
    let (organizer_cal, bob_cal, bob_inbox) = (alice_cols[0].id, bob_cols[0].id, bob_cols[3].id);
    let writes = vec![
        SchedWrite::Put { collection: organizer_cal, object: event("m.ics", "meet", 1), expect: Expect::Absent },
        SchedWrite::Put { collection: bob_cal, object: event("copy.ics", "meet", 1), expect: Expect::Absent },
        SchedWrite::Deliver { collection: bob_inbox, object: message("i1.ics", "REQUEST 1") },
        external(alice.id, "mailto:carol@elsewhere.example"),
    ];
    let done = store.write_scheduling(writes).await.unwrap();
    assert!(matches!(&done[0], SchedWritten::Put(p) if p.created));
    assert!(matches!(&done[3], SchedWritten::Queued(_)));
    let seqs = |store: Store| async move {
        let mut s = Vec::new();
        for id in [organizer_cal, bob_cal, bob_inbox] {
            s.push(store.collection_by_id(id).await.unwrap().unwrap().sync_seq);
        }
        s
    };
    let before = seqs(store.clone()).await;
    assert_eq!(store.pending_external(10).await.unwrap().len(), 1);
    // The byte counters (quota) count what the batch wrote, whichever way it was written.
    let sizes = |objects: &[NewObject]| objects.iter().map(|o| o.data.len() as i64).sum::<i64>();
    assert_eq!(store.used_bytes(alice.id).await.unwrap(), sizes(&[event("m.ics", "meet", 1)]));
    assert_eq!(store.used_bytes(_bob.id).await.unwrap(), sizes(&[event("copy.ics", "meet", 1), message("i1.ics", "REQUEST 1")]));

    // The update's last write is refused (a stale ETag): nothing of the batch stays.
    let writes = vec![
        SchedWrite::Put { collection: organizer_cal, object: event("m.ics", "meet", 2), expect: Expect::Any },
        SchedWrite::Put { collection: bob_inbox, object: message("i2.ics", "REQUEST 2"), expect: Expect::Absent },
        external(alice.id, "mailto:carol@elsewhere.example"),
        SchedWrite::Put {
            collection: bob_cal,
            object: event("copy.ics", "meet", 2),
            expect: Expect::Etag(vec!["\"stale\"".to_owned()]),
        },
    ];
    match store.write_scheduling(writes).await {
        Err(StoreError::InBatch { index: 3, error }) => assert!(matches!(*error, StoreError::PreconditionFailed)),
        other => panic!("expected the fourth write refused, got {other:?}"),
    }
    assert_eq!(seqs(store.clone()).await, before);
    assert_eq!(store.object_meta(organizer_cal, "m.ics").await.unwrap().unwrap().etag, "\"m.ics-1\"");
    assert!(store.object_meta(bob_inbox, "i2.ics").await.unwrap().is_none());
    assert_eq!(store.pending_external(10).await.unwrap().len(), 1);

    // A UID conflict inside the batch is refused the same way, and a delete is part of one.
    let writes = vec![
        SchedWrite::Delete { collection: bob_cal, name: "copy.ics".to_owned(), expect: Expect::Any },
        SchedWrite::Put { collection: organizer_cal, object: event("other.ics", "meet", 1), expect: Expect::Absent },
    ];
    match store.write_scheduling(writes).await {
        Err(StoreError::InBatch { index: 1, error }) => assert!(matches!(*error, StoreError::UidConflict { .. })),
        other => panic!("expected a UID conflict, got {other:?}"),
    }
    assert!(store.object_meta(bob_cal, "copy.ics").await.unwrap().is_some());
    let writes = vec![SchedWrite::Delete { collection: bob_cal, name: "copy.ics".to_owned(), expect: Expect::Any }];
    assert!(matches!(store.write_scheduling(writes).await.unwrap()[0], SchedWritten::Deleted));
    let delta = kalends::store::SyncStore::changes_since(&store, bob_cal, Some(before[1]), None).await.unwrap();
    assert_eq!(delta.removed, ["copy.ics"]);
}

/// Recipients' new copies (`Expect::Absent` after the sender's write) are written together with
/// the inbox messages; each is still refused as a single PUT would be, at its own index, and a
/// tombstone of its name is cleared (sync reports it changed, not removed).
async fn new_copies_are_checked_like_single_puts(store: Store) {
    let (_alice, alice_cols) = user(&store, "alice", None).await;
    let (_bob, bob_cols) = user(&store, "bob", None).await;
    let (organizer_cal, bob_cal, bob_work, bob_inbox) = (alice_cols[0].id, bob_cols[0].id, bob_cols[1].id, bob_cols[3].id);
    let batch = |n: u32, copy: NewObject, into| {
        vec![
            SchedWrite::Put { collection: organizer_cal, object: event(&format!("o{n}.ics"), &format!("o{n}"), 1), expect: Expect::Absent },
            SchedWrite::Put { collection: into, object: copy, expect: Expect::Absent },
            SchedWrite::Deliver { collection: bob_inbox, object: message(&format!("i{n}.ics"), "REQUEST") },
        ]
    };
    // The name is taken: PreconditionFailed, as Expect::Absent.
    store.put_object(bob_cal, event("taken.ics", "t", 1), Expect::Absent).await.unwrap();
    match store.write_scheduling(batch(1, event("taken.ics", "other", 1), bob_cal)).await {
        Err(StoreError::InBatch { index: 1, error }) => assert!(matches!(*error, StoreError::PreconditionFailed), "{error:?}"),
        other => panic!("expected the copy refused, got {other:?}"),
    }
    // The UID is held by another member: UidConflict naming it.
    match store.write_scheduling(batch(2, event("new.ics", "t", 1), bob_cal)).await {
        Err(StoreError::InBatch { index: 1, error }) => {
            assert!(matches!(&*error, StoreError::UidConflict { existing_name } if existing_name == "taken.ics"), "{error:?}")
        }
        other => panic!("expected a UID conflict, got {other:?}"),
    }
    // A child collection has the name: AlreadyExists.
    let mut child = home("work/kid.ics", CollectionKind::Calendar);
    child.owner = bob_cols[1].owner;
    child.parent = Some(bob_work);
    store.create_collection(child).await.unwrap();
    match store.write_scheduling(batch(3, event("kid.ics", "kid", 1), bob_work)).await {
        Err(StoreError::InBatch { index: 1, error }) => assert!(matches!(*error, StoreError::AlreadyExists), "{error:?}"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    // Nothing of the refused batches stayed.
    for n in 1..=3 {
        assert!(store.object_meta(organizer_cal, &format!("o{n}.ics")).await.unwrap().is_none());
        assert!(store.object_meta(bob_inbox, &format!("i{n}.ics")).await.unwrap().is_none());
    }
    // A deleted name comes back: written, and its tombstone gone.
    let delete = vec![SchedWrite::Delete { collection: bob_cal, name: "taken.ics".to_owned(), expect: Expect::Any }];
    store.write_scheduling(delete).await.unwrap();
    let before = store.collection_by_id(bob_cal).await.unwrap().unwrap().sync_seq;
    let done = store.write_scheduling(batch(4, event("taken.ics", "t", 2), bob_cal)).await.unwrap();
    assert!(matches!(&done[1], SchedWritten::Put(p) if p.created && p.meta.name == "taken.ics"));
    let delta = kalends::store::SyncStore::changes_since(&store, bob_cal, Some(before - 1), None).await.unwrap();
    assert!(delta.removed.is_empty(), "{:?}", delta.removed);
    assert_eq!(delta.changed.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["taken.ics"]);
    assert_eq!(store.object(bob_cal, "taken.ics").await.unwrap().unwrap().data, event("taken.ics", "t", 2).data);
}

/// The sender's creation is checked with the recipients' copies (one statement since
/// decision 0039), and still refused as its PUT alone would be, at index 0, before any copy.
async fn the_senders_creation_is_refused_at_its_own_index(store: Store) {
    let (alice, alice_cols) = user(&store, "alice", None).await;
    let (_bob, bob_cols) = user(&store, "bob", None).await;
    let (organizer_cal, bob_cal, bob_inbox) = (alice_cols[0].id, bob_cols[0].id, bob_cols[3].id);
    store.put_object(organizer_cal, event("mine.ics", "held", 1), Expect::Absent).await.unwrap();
    store.put_object(bob_cal, event("bobs.ics", "bobs", 1), Expect::Absent).await.unwrap();
    let batch = |sender: NewObject, copy: NewObject| {
        vec![
            SchedWrite::Put { collection: organizer_cal, object: sender, expect: Expect::Absent },
            SchedWrite::Put { collection: bob_cal, object: copy, expect: Expect::Absent },
            SchedWrite::Deliver { collection: bob_inbox, object: message("i.ics", "REQUEST") },
        ]
    };
    // The name is taken (the copy would be refused too: the sender's refusal comes first).
    match store.write_scheduling(batch(event("mine.ics", "fresh", 1), event("bobs.ics", "fresh", 1))).await {
        Err(StoreError::InBatch { index: 0, error }) => assert!(matches!(*error, StoreError::PreconditionFailed), "{error:?}"),
        other => panic!("expected the sender's write refused, got {other:?}"),
    }
    // The UID is held by another of the sender's objects: UidConflict naming it.
    match store.write_scheduling(batch(event("new.ics", "held", 1), event("new.ics", "held", 1))).await {
        Err(StoreError::InBatch { index: 0, error }) => {
            assert!(matches!(&*error, StoreError::UidConflict { existing_name } if existing_name == "mine.ics"), "{error:?}")
        }
        other => panic!("expected a UID conflict, got {other:?}"),
    }
    // A refused batch left nothing; a free one writes both, the sender's bytes counted once.
    assert!(store.object_meta(bob_inbox, "i.ics").await.unwrap().is_none());
    let used = store.used_bytes(alice.id).await.unwrap();
    let done = store.write_scheduling(batch(event("new.ics", "fresh", 1), event("new.ics", "fresh", 1))).await.unwrap();
    assert!(matches!(&done[0], SchedWritten::Put(p) if p.created && p.meta.name == "new.ics" && p.meta.collection == organizer_cal));
    assert!(matches!(&done[1], SchedWritten::Put(p) if p.created && p.meta.collection == bob_cal));
    assert_eq!(store.used_bytes(alice.id).await.unwrap() - used, event("new.ics", "fresh", 1).data.len() as i64);
}

/// Two organizers inviting each other at once lock the same collections in opposite orders
/// unless the store orders them; every batch must finish, and every message must be there.
async fn opposite_batches_do_not_deadlock(store: Store) {
    let (_alice, a) = user(&store, "alice", None).await;
    let (_bob, b) = user(&store, "bob", None).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        let (first, second) = if i % 2 == 0 { (a[0].id, b[3].id) } else { (b[0].id, a[3].id) };
        let (third, fourth) = if i % 2 == 0 { (b[0].id, a[3].id) } else { (a[0].id, b[3].id) };
        tasks.push(tokio::spawn(async move {
            let writes = vec![
                SchedWrite::Put { collection: first, object: event(&format!("e{i}.ics"), &format!("u{i}"), 1), expect: Expect::Absent },
                SchedWrite::Put { collection: second, object: message(&format!("m{i}.ics"), "x"), expect: Expect::Absent },
                SchedWrite::Put { collection: third, object: message(&format!("n{i}.ics"), "y"), expect: Expect::Absent },
                SchedWrite::Put { collection: fourth, object: message(&format!("o{i}.ics"), "z"), expect: Expect::Absent },
            ];
            store.write_scheduling(writes).await
        }));
    }
    for t in tasks {
        let done = tokio::time::timeout(Duration::from_secs(60), t).await.expect("a batch hung").unwrap();
        done.unwrap();
    }
    // Every batch wrote once to each of the four collections. Each bump must have counted on
    // the one before it, however long the batch waited for the row (PostgreSQL locks and bumps
    // in one statement): 24 bumps, and 24 objects with as many seqs, the last the collection's.
    for c in [&a[0], &a[3], &b[0], &b[3]] {
        let mut seqs: Vec<i64> = store.list_objects(c.id).await.unwrap().iter().map(|m| m.sync_seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let now = store.collection_by_id(c.id).await.unwrap().unwrap().sync_seq;
        assert_eq!(now - c.sync_seq, 24, "{}: one bump per batch", c.path);
        assert_eq!(seqs.len(), 24, "{}: each batch's object has a seq of its own: {seqs:?}", c.path);
        assert_eq!(seqs.last(), Some(&now), "{}", c.path);
    }
}

/// The iMIP outbox (migration 0006): a claim takes due rows with a lease, a second claim skips
/// them, a lost lease makes a settlement fail, a newer REQUEST supersedes older pending ones,
/// and sends are counted per owner.
async fn the_outbox_is_claimed_settled_and_coalesced(store: Store) {
    let (alice, _) = user(&store, "alice", None).await;
    let queue = |recipient: &str, method: &str| {
        let mut w = external(alice.id, recipient);
        if let SchedWrite::External(m) = &mut w {
            m.method = method.to_owned();
        }
        w
    };
    // Three REQUESTs to carol: only the newest stays pending. A CANCEL supersedes nothing.
    for _ in 0..3 {
        store.write_scheduling(vec![queue("mailto:carol@elsewhere.example", "REQUEST")]).await.unwrap();
    }
    store.write_scheduling(vec![queue("mailto:dave@elsewhere.example", "CANCEL"), queue("mailto:dave@elsewhere.example", "REQUEST")]).await.unwrap();
    let states = |rows: Vec<kalends::store::ExternalItip>| rows.into_iter().map(|r| r.state).collect::<Vec<_>>();
    assert_eq!(states(store.external_of(alice.id).await.unwrap()), ["superseded", "superseded", "pending", "pending", "pending"]);

    let now = kalends::service::now() + 5;
    let claimed = store.claim_external(now + 10, now + 70, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|c| c.item.attempts == 1));
    // Held rows are not due for anyone else until the lease ends.
    assert!(store.claim_external(now + 20, now + 80, 10).await.unwrap().is_empty());
    let settle = |c: &kalends::store::ClaimedItip, outcome| SchedWrite::Settle(ItipSettle { id: c.item.id, claim: c.claim.clone(), outcome });
    store.write_scheduling(vec![settle(&claimed[0], ItipOutcome::Sent { at: now + 11 })]).await.unwrap();
    store
        .write_scheduling(vec![settle(&claimed[1], ItipOutcome::Retry { at: now + 100, error: Some("421".into()), counted: true })])
        .await
        .unwrap();
    // The third's worker "dies": after the lease another claim takes it, and the first
    // worker's late settlement is refused.
    let again = store.claim_external(now + 71, now + 130, 10).await.unwrap();
    assert_eq!(again.iter().map(|c| c.item.id).collect::<Vec<_>>(), [claimed[2].item.id]);
    assert_eq!(again[0].item.attempts, 2);
    match store.write_scheduling(vec![settle(&claimed[2], ItipOutcome::Sent { at: now + 72 })]).await {
        Err(StoreError::InBatch { index: 0, error }) => assert!(matches!(*error, StoreError::NotFound)),
        other => panic!("a lost lease must refuse the settlement, got {other:?}"),
    }
    store.write_scheduling(vec![settle(&again[0], ItipOutcome::Failed { error: "550 no such user".into() })]).await.unwrap();
    // The retried row is due at its time, and a limit deferral gives its attempt back.
    let retry = store.claim_external(now + 100, now + 160, 10).await.unwrap();
    assert_eq!((retry.len(), retry[0].item.attempts, retry[0].item.last_error.as_deref()), (1, 2, Some("421")));
    store
        .write_scheduling(vec![settle(&retry[0], ItipOutcome::Retry { at: now + 200, error: None, counted: false })])
        .await
        .unwrap();
    let rows = store.external_of(alice.id).await.unwrap();
    assert_eq!(states(rows.clone()), ["superseded", "superseded", "sent", "pending", "failed"]);
    assert_eq!((rows[3].attempts, rows[3].next_attempt_at), (1, now + 200));
    assert_eq!(rows[2].sent_at, Some(now + 11));
    assert_eq!(store.external_sent_since(alice.id, now, now - 86_400).await.unwrap(), (1, 1));
    assert_eq!(store.external_sent_since(alice.id, now + 20, now).await.unwrap(), (0, 1));
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.sent, stats.failed, stats.superseded), (1, 1, 1, 2));
    assert_eq!(stats.oldest_pending, Some(rows[3].created_at));
    // Pruning takes settled rows only.
    assert_eq!(store.prune_external(now + 1).await.unwrap(), 4);
    assert_eq!(states(store.external_of(alice.id).await.unwrap()), ["pending"]);

    // A CANCEL of one instance supersedes nothing; a CANCEL of the whole event supersedes the
    // pending REQUEST (the recipient gets the CANCEL alone).
    let with_data = |method: &str, data: &[u8]| {
        let mut w = queue("mailto:erin@elsewhere.example", method);
        if let SchedWrite::External(m) = &mut w {
            m.data = data.to_vec();
        }
        w
    };
    store.write_scheduling(vec![with_data("REQUEST", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")]).await.unwrap();
    store.write_scheduling(vec![with_data("CANCEL", b"RECURRENCE-ID:20270105T100000Z\r\n")]).await.unwrap();
    assert_eq!(states(store.external_of(alice.id).await.unwrap()), ["pending", "pending", "pending"]);
    store.write_scheduling(vec![with_data("CANCEL", b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\n")]).await.unwrap();
    assert_eq!(states(store.external_of(alice.id).await.unwrap()), ["pending", "superseded", "pending", "pending"]);
}
