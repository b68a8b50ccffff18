//! RFC 6638 scheduling as a use-case: which collections a principal schedules with, and (in
//! `deliver`) what a write of a scheduling object sends and to whom, written in the same
//! transaction as the write; `inbound` takes iTIP messages from outside (an email through
//! `mail`, an RSVP link through `rsvp`) into the same delivery. The iTIP rules themselves are
//! the pure `sched` domain.

pub mod deliver;
pub mod directory;
pub mod imip;
pub mod inbound;
pub mod mail;
pub mod rsvp;

use std::collections::HashMap;

use super::users::DEFAULT_CALENDAR;
use super::{Principal, ServiceResult};
use crate::store::{Collection, CollectionKind, CollectionStore, SchedStore, Store};

/// A principal's scheduling collections (RFC 6638 §2.1, §2.2, §9.2).
#[derive(Debug, Clone, Default)]
pub struct Boxes {
    pub inbox: Option<Collection>,
    pub outbox: Option<Collection>,
    /// Where invitations without an existing copy land.
    pub default_calendar: Option<Collection>,
}

pub async fn boxes(store: &Store, user: &Principal) -> ServiceResult<Boxes> {
    let inbox = store.scheduling_box(user.id, CollectionKind::Inbox).await?;
    let outbox = store.scheduling_box(user.id, CollectionKind::Outbox).await?;
    let chosen = inbox.as_ref().and_then(|i| i.props.default_calendar);
    let default_calendar = default_calendar(store, user, chosen).await?;
    Ok(Boxes { inbox, outbox, default_calendar })
}

/// RFC 6638 §9.2: the calendar the owner chose, while it still takes events; else the
/// `calendar` every user starts with; else the first calendar that takes events.
pub async fn default_calendar(
    store: &Store,
    user: &Principal,
    chosen: Option<crate::store::CollectionId>,
) -> ServiceResult<Option<Collection>> {
    let takes_events = |c: &Collection| {
        c.kind == CollectionKind::Calendar && c.props.components.contains(crate::calendar::ComponentSet::VEVENT)
    };
    if let Some(id) = chosen
        && let Some(c) = store.collection_by_id(id).await?
        && c.owner == user.id
        && takes_events(&c)
    {
        return Ok(Some(c));
    }
    let top = store.child_collections(user.id, None).await?;
    let preferred = top.iter().find(|c| c.path == DEFAULT_CALENDAR && takes_events(c));
    Ok(preferred.or_else(|| top.iter().find(|c| takes_events(c))).cloned())
}

/// `boxes`, read once per user and transaction.
pub(crate) async fn boxes_of(
    store: &Store,
    user: &Principal,
    seen: &mut HashMap<crate::store::UserId, Boxes>,
) -> ServiceResult<Boxes> {
    if let Some(b) = seen.get(&user.id) {
        return Ok(b.clone());
    }
    let b = boxes(store, user).await?;
    seen.insert(user.id, b.clone());
    Ok(b)
}
