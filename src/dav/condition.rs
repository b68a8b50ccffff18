//! The DAV:error precondition/postcondition elements Kalends reports (RFC 4918 §16, RFC 4791
//! §5.3.2.1 and §7, RFC 6578 §3.2, RFC 5689 §3, RFC 4331 §6).

use super::xml::{CALDAV, DAV};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    // DAV:
    PropfindFiniteDepth,
    CannotModifyProtectedProperty,
    ResourceMustBeNull,
    ValidSyncToken,
    QuotaNotExceeded,
    NumberOfMatchesWithinLimits,
    ValidResourcetype,
    /// RFC 3744 §7.1.1: the resource's href and the privilege (namespace, name) it lacks.
    NeedPrivileges { href: String, privilege: (&'static str, &'static str) },
    /// RFC 4918 §16: 423, the roots of the locks whose tokens the request did not submit.
    LockTokenSubmitted(Vec<String>),
    /// RFC 4918 §16: 423 to a LOCK, the roots of the locks in its way.
    NoConflictingLock(Vec<String>),
    /// RFC 4918 §16: 409 to an UNLOCK whose token is no lock on the request URI.
    LockTokenMatchesRequestUri,
    // CALDAV:
    ValidCalendarData,
    ValidCalendarObjectResource,
    SupportedCalendarData,
    SupportedCalendarComponent,
    /// Carries the href of the resource that already has the UID.
    NoUidConflict(String),
    MaxResourceSize,
    MinDateTime,
    MaxDateTime,
    CalendarCollectionLocationOk,
    SupportedReport,
    SupportedCollation,
    ValidFilter,
    SupportedFilter,
    MaxInstances,
    // RFC 6638 §3.2, §5, §9.2 (CALDAV namespace)
    ValidScheduleDefaultCalendarUrl,
    /// Carries the href of the user's other scheduling object with the UID.
    UniqueSchedulingObjectResource(String),
    SameOrganizerInAllComponents,
    AllowedOrganizerSchedulingObjectChange,
    AllowedAttendeeSchedulingObjectChange,
    ValidSchedulingMessage,
    ValidOrganizer,
    MaxAttendeesPerInstance,
    OrganizerAllowed,
}

impl Condition {
    /// (namespace, local name) of the element.
    pub fn name(&self) -> (&'static str, &'static str) {
        match self {
            Condition::PropfindFiniteDepth => (DAV, "propfind-finite-depth"),
            Condition::CannotModifyProtectedProperty => (DAV, "cannot-modify-protected-property"),
            Condition::ResourceMustBeNull => (DAV, "resource-must-be-null"),
            Condition::ValidSyncToken => (DAV, "valid-sync-token"),
            Condition::QuotaNotExceeded => (DAV, "quota-not-exceeded"),
            Condition::NumberOfMatchesWithinLimits => (DAV, "number-of-matches-within-limits"),
            Condition::ValidResourcetype => (DAV, "valid-resourcetype"),
            Condition::NeedPrivileges { .. } => (DAV, "need-privileges"),
            Condition::LockTokenSubmitted(_) => (DAV, "lock-token-submitted"),
            Condition::NoConflictingLock(_) => (DAV, "no-conflicting-lock"),
            Condition::LockTokenMatchesRequestUri => (DAV, "lock-token-matches-request-uri"),
            Condition::SupportedReport => (DAV, "supported-report"),
            Condition::ValidCalendarData => (CALDAV, "valid-calendar-data"),
            Condition::ValidCalendarObjectResource => (CALDAV, "valid-calendar-object-resource"),
            Condition::SupportedCalendarData => (CALDAV, "supported-calendar-data"),
            Condition::SupportedCalendarComponent => (CALDAV, "supported-calendar-component"),
            Condition::NoUidConflict(_) => (CALDAV, "no-uid-conflict"),
            Condition::MaxResourceSize => (CALDAV, "max-resource-size"),
            Condition::MinDateTime => (CALDAV, "min-date-time"),
            Condition::MaxDateTime => (CALDAV, "max-date-time"),
            Condition::CalendarCollectionLocationOk => (CALDAV, "calendar-collection-location-ok"),
            Condition::SupportedCollation => (CALDAV, "supported-collation"),
            Condition::ValidFilter => (CALDAV, "valid-filter"),
            Condition::SupportedFilter => (CALDAV, "supported-filter"),
            Condition::MaxInstances => (CALDAV, "max-instances"),
            Condition::ValidScheduleDefaultCalendarUrl => (CALDAV, "valid-schedule-default-calendar-URL"),
            Condition::UniqueSchedulingObjectResource(_) => (CALDAV, "unique-scheduling-object-resource"),
            Condition::SameOrganizerInAllComponents => (CALDAV, "same-organizer-in-all-components"),
            Condition::AllowedOrganizerSchedulingObjectChange => (CALDAV, "allowed-organizer-scheduling-object-change"),
            Condition::AllowedAttendeeSchedulingObjectChange => (CALDAV, "allowed-attendee-scheduling-object-change"),
            Condition::ValidSchedulingMessage => (CALDAV, "valid-scheduling-message"),
            Condition::ValidOrganizer => (CALDAV, "valid-organizer"),
            Condition::MaxAttendeesPerInstance => (CALDAV, "max-attendees-per-instance"),
            Condition::OrganizerAllowed => (CALDAV, "organizer-allowed"),
        }
    }
}
