//! The closed set of live properties Kalends computes, and their XML names. Any other name is a
//! dead property (stored verbatim) or, when absent, a 404 inside the multistatus.

use super::xml::{APPLE, CALDAV, CS, DAV, QName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Live {
    // RFC 4918 §15
    ResourceType,
    DisplayName,
    GetEtag,
    GetContentType,
    GetContentLength,
    GetLastModified,
    CreationDate,
    SupportedLock,
    LockDiscovery,
    // RFC 5397, RFC 3744
    CurrentUserPrincipal,
    PrincipalUrl,
    Owner,
    PrincipalCollectionSet,
    CurrentUserPrivilegeSet,
    // RFC 3253 §3.1.5
    SupportedReportSet,
    // RFC 4791 §5.2, §6.2
    CalendarHomeSet,
    CalendarUserAddressSet,
    CalendarDescription,
    CalendarTimezone,
    SupportedCalendarComponentSet,
    SupportedCalendarData,
    MaxResourceSize,
    MinDateTime,
    MaxDateTime,
    MaxInstances,
    /// RFC 4791 §9.6: only meaningful in REPORT responses.
    CalendarData,
    // RFC 6578 §4, CalendarServer ctag
    SyncToken,
    GetCtag,
    // RFC 4331
    QuotaUsedBytes,
    QuotaAvailableBytes,
    // Apple
    CalendarColor,
    CalendarOrder,
    // RFC 6638 §2.1.1, §2.2.1, §2.4, §9
    ScheduleOutboxUrl,
    ScheduleInboxUrl,
    CalendarUserType,
    ScheduleDefaultCalendarUrl,
    ScheduleCalendarTransp,
    ScheduleTag,
    // calendarserver sharing.txt / caldav-sharing
    SharedUrl,
    Invite,
    AllowedSharingModes,
}

const TABLE: &[(Live, &str, &str)] = &[
    (Live::ResourceType, DAV, "resourcetype"),
    (Live::DisplayName, DAV, "displayname"),
    (Live::GetEtag, DAV, "getetag"),
    (Live::GetContentType, DAV, "getcontenttype"),
    (Live::GetContentLength, DAV, "getcontentlength"),
    (Live::GetLastModified, DAV, "getlastmodified"),
    (Live::CreationDate, DAV, "creationdate"),
    (Live::SupportedLock, DAV, "supportedlock"),
    (Live::LockDiscovery, DAV, "lockdiscovery"),
    (Live::CurrentUserPrincipal, DAV, "current-user-principal"),
    (Live::PrincipalUrl, DAV, "principal-URL"),
    (Live::Owner, DAV, "owner"),
    (Live::PrincipalCollectionSet, DAV, "principal-collection-set"),
    (Live::CurrentUserPrivilegeSet, DAV, "current-user-privilege-set"),
    (Live::SupportedReportSet, DAV, "supported-report-set"),
    (Live::CalendarHomeSet, CALDAV, "calendar-home-set"),
    (Live::CalendarUserAddressSet, CALDAV, "calendar-user-address-set"),
    (Live::CalendarDescription, CALDAV, "calendar-description"),
    (Live::CalendarTimezone, CALDAV, "calendar-timezone"),
    (Live::SupportedCalendarComponentSet, CALDAV, "supported-calendar-component-set"),
    (Live::SupportedCalendarData, CALDAV, "supported-calendar-data"),
    (Live::MaxResourceSize, CALDAV, "max-resource-size"),
    (Live::MinDateTime, CALDAV, "min-date-time"),
    (Live::MaxDateTime, CALDAV, "max-date-time"),
    (Live::MaxInstances, CALDAV, "max-instances"),
    (Live::CalendarData, CALDAV, "calendar-data"),
    (Live::SyncToken, DAV, "sync-token"),
    (Live::GetCtag, CS, "getctag"),
    (Live::QuotaUsedBytes, DAV, "quota-used-bytes"),
    (Live::QuotaAvailableBytes, DAV, "quota-available-bytes"),
    (Live::CalendarColor, APPLE, "calendar-color"),
    (Live::CalendarOrder, APPLE, "calendar-order"),
    (Live::ScheduleOutboxUrl, CALDAV, "schedule-outbox-URL"),
    (Live::ScheduleInboxUrl, CALDAV, "schedule-inbox-URL"),
    (Live::CalendarUserType, CALDAV, "calendar-user-type"),
    (Live::ScheduleDefaultCalendarUrl, CALDAV, "schedule-default-calendar-URL"),
    (Live::ScheduleCalendarTransp, CALDAV, "schedule-calendar-transp"),
    (Live::ScheduleTag, CALDAV, "schedule-tag"),
    (Live::SharedUrl, CS, "shared-url"),
    (Live::Invite, CS, "invite"),
    (Live::AllowedSharingModes, CS, "allowed-sharing-modes"),
];

impl Live {
    pub fn from_name(name: &QName) -> Option<Live> {
        TABLE.iter().find(|(_, ns, local)| name.is(ns, local)).map(|(live, _, _)| *live)
    }

    pub fn name(self) -> QName {
        TABLE
            .iter()
            .find(|(live, _, _)| *live == self)
            .map(|(_, ns, local)| QName::fixed(ns, local))
            // Every variant is in TABLE (tested below).
            .unwrap_or_else(|| QName::fixed(DAV, "unknown"))
    }

    /// Every live property, in table order (PROPFIND propname lists those a resource has).
    pub fn all() -> impl Iterator<Item = Live> {
        TABLE.iter().map(|(live, _, _)| *live)
    }

    /// Properties a client may set with PROPPATCH (on collections); all others are protected.
    pub fn is_writable_on_collection(self) -> bool {
        matches!(
            self,
            Live::DisplayName
                | Live::CalendarDescription
                | Live::CalendarTimezone
                | Live::CalendarColor
                | Live::CalendarOrder
                | Live::ScheduleCalendarTransp
                | Live::ScheduleDefaultCalendarUrl
        )
    }

    /// What `allprop` returns (RFC 4918 §9.1: the RFC 4918 live properties, not the costly or
    /// CalDAV ones, which clients must ask for by name).
    pub const ALLPROP: &'static [Live] = &[
        Live::ResourceType,
        Live::DisplayName,
        Live::GetEtag,
        Live::GetContentType,
        Live::GetContentLength,
        Live::GetLastModified,
        Live::CreationDate,
        Live::SupportedLock,
        Live::LockDiscovery,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_name_and_round_trips() {
        for (live, ns, local) in TABLE {
            assert_eq!(Live::from_name(&QName::fixed(ns, local)), Some(*live));
            assert_eq!(live.name(), QName::fixed(ns, local));
        }
        assert_eq!(Live::from_name(&QName::fixed(DAV, "nope")), None);
        assert_eq!(Live::from_name(&QName::fixed(CALDAV, "getetag")), None);
    }
}
