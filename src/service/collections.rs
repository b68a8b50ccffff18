//! Collections: creating calendars and plain collections, changing their properties — every
//! change validated first, then applied in one store transaction (RFC 4918 §9.2 all-or-nothing
//! PROPPATCH) — and copying or moving them whole (RFC 4918 §9.8, §9.9).

use super::{Principal, ServiceError, ServiceResult};
use crate::calendar::ComponentSet;
use crate::calendar::tz::parse_calendar_timezone;
use super::objects::validate_name;
use crate::store::{
    Collection, CollectionKind, CollectionPatch, CollectionProps, CollectionStore, CollectionTransfer,
    CollectionTransferKind, DeadProp, NewCollection, Store, UserStore,
};

/// A change to one writable live property (None = remove it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveChange {
    DisplayName(Option<String>),
    Description(Option<String>),
    /// RFC 4791 §5.2.2: a VCALENDAR with exactly one VTIMEZONE.
    Timezone(Option<String>),
    Color(Option<String>),
    Order(Option<String>),
    /// RFC 6638 §9.1 schedule-calendar-transp (calendars): true = transparent.
    Transparent(bool),
    /// RFC 6638 §9.2 schedule-default-calendar-URL (the inbox): one of the owner's calendars
    /// that takes events, resolved from its href by the caller.
    DefaultCalendar(Option<crate::store::CollectionId>),
}

impl LiveChange {
    /// Whether a collection of `kind` has this property.
    pub fn applies_to(&self, kind: CollectionKind) -> bool {
        match self {
            LiveChange::Transparent(_) => kind == CollectionKind::Calendar,
            LiveChange::DefaultCalendar(_) => kind == CollectionKind::Inbox,
            LiveChange::DisplayName(_) => true,
            _ => !kind.is_scheduling_box(),
        }
    }
}

/// Checks one change on its own; the reason is shown to the client.
pub fn check(change: &LiveChange) -> Result<(), String> {
    // No text value may hold a NUL: PostgreSQL's TEXT cannot store one (SQLite would), so the
    // engines would disagree — and no client means it (XML cannot even carry it; JSON can).
    if let LiveChange::DisplayName(Some(s)) | LiveChange::Description(Some(s)) | LiveChange::Timezone(Some(s)) | LiveChange::Color(Some(s)) | LiveChange::Order(Some(s)) = change
        && s.contains('\0')
    {
        return Err("a property value must not contain NUL characters".into());
    }
    match change {
        LiveChange::Timezone(Some(text)) => parse_calendar_timezone(text).map(|_| ()),
        LiveChange::Order(Some(order)) if order.trim().parse::<i64>().is_err() => {
            Err(format!("calendar-order must be an integer, not {order:?}"))
        }
        LiveChange::Color(Some(color)) if color.len() > 64 => Err("calendar-color is too long".into()),
        LiveChange::DisplayName(Some(s)) | LiveChange::Description(Some(s)) if s.len() > 4096 => {
            Err("value is too long (4096 bytes at most)".into())
        }
        _ => Ok(()),
    }
}

fn apply(props: &mut CollectionProps, change: LiveChange) {
    match change {
        LiveChange::DisplayName(v) => props.displayname = v,
        LiveChange::Description(v) => props.description = v,
        LiveChange::Timezone(v) => props.timezone = v,
        LiveChange::Color(v) => props.color = v,
        LiveChange::Order(v) => props.order = v.map(|s| s.trim().to_owned()),
        LiveChange::Transparent(v) => props.transparent = v,
        LiveChange::DefaultCalendar(v) => props.default_calendar = v,
    }
}

/// A whole PROPPATCH, already checked change by change.
#[derive(Debug, Clone, Default)]
pub struct PropertyUpdate {
    pub live: Vec<LiveChange>,
    pub set_dead: Vec<DeadProp>,
    pub remove_dead: Vec<(String, String)>,
}

pub async fn patch(store: &Store, collection: &Collection, update: PropertyUpdate) -> ServiceResult<Collection> {
    for change in &update.live {
        check(change).map_err(ServiceError::BadRequest)?;
        if !change.applies_to(collection.kind) {
            return Err(ServiceError::Refused(format!("{change:?} does not apply to this collection")));
        }
    }
    let props = if update.live.is_empty() {
        None
    } else {
        let mut props = collection.props.clone();
        update.live.into_iter().for_each(|c| apply(&mut props, c));
        Some(props)
    };
    let patch = CollectionPatch { props, set_dead: update.set_dead, remove_dead: update.remove_dead };
    Ok(store.patch_collection(collection.id, patch).await?)
}

/// What MKCALENDAR / extended MKCOL asks for.
#[derive(Debug, Clone)]
pub struct NewCollectionRequest {
    pub kind: CollectionKind,
    /// RFC 4791 §5.2.3; None = the default (VEVENT, VTODO, VJOURNAL).
    pub components: Option<ComponentSet>,
    pub update: PropertyUpdate,
}

/// Creates a collection named `name` in `parent` (None = the home). RFC 4791 §5.3.1: calendar
/// collections may not contain collections (calendar-collection-location-ok is the caller's
/// to report: this returns Conflict).
pub async fn create(
    store: &Store,
    owner: &Principal,
    parent: Option<&Collection>,
    name: &str,
    request: NewCollectionRequest,
) -> ServiceResult<Collection> {
    if let Some(p) = parent
        && p.kind == CollectionKind::Calendar
    {
        return Err(ServiceError::Conflict("a calendar collection cannot contain collections".into()));
    }
    if let Some(p) = parent {
        super::objects::refuse_box(p)?;
    }
    if request.components.is_some_and(|c| c.0 == 0) {
        return Err(ServiceError::BadRequest("supported-calendar-component-set is empty".into()));
    }
    for change in &request.update.live {
        check(change).map_err(ServiceError::BadRequest)?;
    }
    let mut props = CollectionProps {
        // RFC 4791 §5.2.3: without supported-calendar-component-set a calendar accepts every
        // component type, and the property then names all four.
        components: request.components.unwrap_or(ComponentSet::ALL),
        ..CollectionProps::default()
    };
    request.update.live.into_iter().for_each(|c| apply(&mut props, c));
    let path = match parent {
        Some(p) => format!("{}/{name}", p.path),
        None => name.to_owned(),
    };
    let new = NewCollection {
        owner: owner.id,
        parent: parent.map(|p| p.id),
        path,
        kind: request.kind,
        props,
        dead_props: request.update.set_dead,
    };
    Ok(store.create_collection(new).await?)
}

pub async fn delete(store: &Store, collection: &Collection) -> ServiceResult<()> {
    refuse_box_itself(collection)?;
    Ok(store.delete_collection(collection.id).await?)
}

/// The scheduling boxes belong to the principal (RFC 6638 §2.1, §2.2): they are not deleted,
/// moved, copied or replaced.
pub fn refuse_box_itself(collection: &Collection) -> ServiceResult<()> {
    if collection.kind.is_scheduling_box() {
        return Err(ServiceError::Refused(
            "the scheduling inbox and outbox belong to the principal and stay where they are (RFC 6638 §2)".into(),
        ));
    }
    Ok(())
}

/// A COPY or MOVE of a whole collection, to `dest_name` in `dest_parent` (None = the home).
#[derive(Debug)]
pub struct CollectionTransferRequest<'a> {
    pub source: &'a Collection,
    pub dest_parent: Option<&'a Collection>,
    pub dest_name: &'a str,
    /// Overwrite: T replaces what stands at the destination; F refuses it (412).
    pub overwrite: bool,
    pub kind: CollectionTransferKind,
}

/// Returns whether the destination was newly created. Conflict: the destination lies in a
/// calendar collection, which holds calendar object resources only (RFC 4791 §4.2); the caller
/// reports calendar-collection-location-ok for a calendar source (RFC 4791 §5.3.2.1).
/// A deep COPY counts against the owner's quota like the PUTs it stands for.
pub async fn transfer(
    store: &Store,
    owner: &Principal,
    t: CollectionTransferRequest<'_>,
    quota_bytes: i64,
) -> ServiceResult<bool> {
    validate_name(t.dest_name)?;
    refuse_box_itself(t.source)?;
    if let Some(p) = t.dest_parent {
        super::objects::refuse_box(p)?;
    }
    if t.dest_parent.is_some_and(|p| p.kind == CollectionKind::Calendar) {
        return Err(ServiceError::Conflict("a calendar collection cannot contain collections".into()));
    }
    if t.kind == CollectionTransferKind::CopyDeep {
        let size = store.subtree_bytes(owner.id, &t.source.path).await?;
        let used = store.used_bytes(owner.id).await?;
        if size > 0 && used.saturating_add(size) > quota_bytes {
            return Err(ServiceError::QuotaExceeded);
        }
    }
    let transfer = CollectionTransfer {
        source: t.source.id,
        dest_parent: t.dest_parent.map(|p| p.id),
        dest_name: t.dest_name.to_owned(),
        overwrite: t.overwrite,
        kind: t.kind,
    };
    Ok(store.transfer_collection(transfer).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_values() {
        assert!(check(&LiveChange::Order(Some("12".into()))).is_ok());
        assert!(check(&LiveChange::Order(Some("first".into()))).is_err());
        assert!(check(&LiveChange::DisplayName(None)).is_ok());
        assert!(check(&LiveChange::Color(Some("#".repeat(65)))).is_err());
        // What PostgreSQL's TEXT cannot hold is refused before either engine sees it.
        assert!(check(&LiveChange::Description(Some("a\0b".into()))).is_err());
        assert!(check(&LiveChange::DisplayName(Some("Büro\n2".into()))).is_ok());
    }

    #[test]
    fn applies_changes() {
        let mut p = CollectionProps { displayname: Some("a".into()), ..CollectionProps::default() };
        apply(&mut p, LiveChange::DisplayName(None));
        apply(&mut p, LiveChange::Order(Some(" 3 ".into())));
        assert_eq!(p.displayname, None);
        assert_eq!(p.order.as_deref(), Some("3"));
    }
}
