//! The store's RSVP keys (migration 0007) and the cross-user UID lookup that routes emailed
//! replies, on both engines.
#![allow(clippy::unwrap_used)]

mod support;

use kalends::service::users;
use kalends::store::{RsvpStore, SchedStore, Store};

macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { let (store, _dir) = crate::support::sqlite_store().await; crate::$name(store).await; } )+
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { let (store, _db) = crate::support::postgres_store().await; crate::$name(store).await; } )+
        }
    };
}

async fn keys_rotate_and_expire(store: Store) {
    assert!(store.rsvp_keys().await.unwrap().is_empty());
    let first = store.add_rsvp_key(vec![1; 32], 100, false, 0).await.unwrap();
    assert_eq!((first.secret.len(), first.created_at, first.retired_at), (32, 100, None));
    // Rotation retires the key in use; it stays until a later rotation past its grace.
    let second = store.add_rsvp_key(vec![2; 32], 200, true, 0).await.unwrap();
    let keys = store.rsvp_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| (k.id, k.retired_at)).collect::<Vec<_>>(), vec![(second.id, None), (first.id, Some(200))]);
    let third = store.add_rsvp_key(vec![3; 32], 300, true, 250).await.unwrap();
    let keys = store.rsvp_keys().await.unwrap();
    assert_eq!(keys.iter().map(|k| (k.id, k.retired_at)).collect::<Vec<_>>(), vec![(third.id, None), (second.id, Some(300))]);
    assert_eq!(keys[0].secret, vec![3; 32]);
}

/// An unknown UID has no owner (the lookup with data: tests/imip_receive.rs).
async fn owners_of_an_unknown_uid(store: Store) {
    users::create(&store, "ann", None, "pw").await.unwrap();
    assert!(store.owners_of_uid("nobody-has-this").await.unwrap().is_empty());
}

on_both!(keys_rotate_and_expire, owners_of_an_unknown_uid);
