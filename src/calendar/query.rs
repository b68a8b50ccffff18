//! Exact evaluation of a calendar-query filter on one stored object (RFC 4791 §7.8, §9.7,
//! §9.9): the object is parsed once, the structural tests run on its component tree, and time
//! ranges are decided by an oracle that expands recurrence inside the query window.

use std::cell::RefCell;

use calcard::icalendar::{ICalendar, ICalendarComponent, ICalendarComponentType};
use chrono::NaiveDate;

use super::filter::{CompFilter, TimeOracle, TimeRange, matches};
use super::ical::{self, Component, Line};
use super::model::{self, Alarm, Timing, Trigger};
use super::recur::{Limits, Occurrence, RecurrenceSet, Window};
use super::time::{CalTime, Length, MAX_OFFSET_EAST, MAX_OFFSET_WEST, Zone};
use super::timeline::Timeline;
use super::tz::Zones;
use super::{ComponentKind, Timestamp, index, validate};

/// Rule instances generated per expansion before giving up. Rules are generated from DTSTART
/// on, so a window far from DTSTART costs every instance before it: this is a CPU bound, apart
/// from `max_instances`, which bounds the instances inside the window. It covers a daily rule
/// across the whole 1900–2100 span, or an hourly one across 20 years.
pub const QUERY_SCAN_CAP: usize = 200_000;

/// A day-based (nominal) offset follows a zone's wall clock, so its length in UTC can differ
/// from its nominal one by the zone's offset change; windows are widened by the full span.
const NOMINAL_SLACK: i64 = MAX_OFFSET_EAST + MAX_OFFSET_WEST;

/// Why an object could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// Deciding would need more instances than the server's max-instances.
    TooManyInstances,
    /// The filter uses a test this server cannot decide exactly (CALDAV:supported-filter).
    Unsupported(String),
    /// The stored object no longer parses (it was validated on write, so this is a bug or an
    /// older server's data): it is skipped and logged rather than failing the whole report.
    Unreadable(String),
}

/// Evaluation context shared by every object of one query.
#[derive(Debug, Clone, Copy)]
pub struct QueryContext {
    /// RFC 4791 §7.3: floating times and DATE values are read in this zone.
    pub zone: chrono_tz::Tz,
    pub max_instances: usize,
}

/// Does the stored object `data` satisfy `filter`?
pub fn object_matches(data: &[u8], filter: &CompFilter, ctx: QueryContext) -> Result<bool, QueryError> {
    let text = std::str::from_utf8(data).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    let mut top = ical::parse(text).map_err(QueryError::Unreadable)?;
    if top.len() != 1 {
        return Err(QueryError::Unreadable(format!("{} top-level components", top.len())));
    }
    let root = top.remove(0);
    if !uses_time_range(filter) {
        return Ok(matches(filter, &root, &NoTimeRanges));
    }
    let parsed = validate::parse_vcalendar(text).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    let oracle = ExactTimes::new(&root, &parsed, ctx)?;
    let found = matches(filter, &root, &oracle);
    oracle.verdict(found)
}

/// `object_matches`, answered from the object's stored instance timeline when the filter is
/// one a timeline decides alone (`timeline_range`) and the timeline can tell; the answer is the
/// exact evaluation's, since a timeline holds exactly the instances that evaluation expands.
pub fn object_matches_with(
    data: &[u8],
    timeline: Option<&Timeline>,
    filter: &CompFilter,
    ctx: QueryContext,
) -> Result<bool, QueryError> {
    let decided = timeline.zip(timeline_range(filter)).and_then(|(t, range)| t.overlaps(&range, ctx.zone));
    match decided {
        Some(found) => Ok(found),
        None => object_matches(data, filter, ctx),
    }
}

/// The time range of a filter that asks only whether a VEVENT overlaps it: a VCALENDAR
/// comp-filter holding one VEVENT comp-filter with a time-range and no other test.
pub fn timeline_range(filter: &CompFilter) -> Option<TimeRange> {
    let bare = |f: &CompFilter| !f.is_not_defined && f.props.is_empty();
    match filter.comps.as_slice() {
        [event]
            if filter.name == "VCALENDAR"
                && bare(filter)
                && filter.time_range.is_none()
                && event.name == "VEVENT"
                && bare(event)
                && event.comps.is_empty() =>
        {
            event.time_range
        }
        _ => None,
    }
}

/// Parses a stored object once for exact time evaluation and hands `f` its component tree
/// and the §9.9 oracle over it.
pub(crate) fn with_times<R>(
    data: &[u8],
    ctx: QueryContext,
    f: impl FnOnce(&Component, &ExactTimes<'_>) -> Result<R, QueryError>,
) -> Result<R, QueryError> {
    let text = std::str::from_utf8(data).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    let root = tree(text)?;
    let parsed = validate::parse_vcalendar(text).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    let oracle = ExactTimes::new(&root, &parsed, ctx)?;
    f(&root, &oracle)
}

/// `with_times` on the calcard parse of `text` the caller has already (a write's validation):
/// one parse fewer.
pub(crate) fn with_times_parsed<R>(
    text: &str,
    parsed: &validate::Parsed,
    ctx: QueryContext,
    f: impl FnOnce(&Component, &ExactTimes<'_>) -> Result<R, QueryError>,
) -> Result<R, QueryError> {
    let root = tree(text)?;
    let oracle = ExactTimes::new(&root, parsed, ctx)?;
    f(&root, &oracle)
}

/// The one top-level component of `text`.
fn tree(text: &str) -> Result<Component, QueryError> {
    let mut top = ical::parse(text).map_err(QueryError::Unreadable)?;
    if top.len() != 1 {
        return Err(QueryError::Unreadable(format!("{} top-level components", top.len())));
    }
    Ok(top.remove(0))
}

/// Whether any comp-filter or prop-filter in the tree has a time-range.
pub fn uses_time_range(f: &CompFilter) -> bool {
    f.time_range.is_some() || f.props.iter().any(|p| p.time_range.is_some()) || f.comps.iter().any(uses_time_range)
}

/// The oracle for filters without time ranges: never consulted.
struct NoTimeRanges;

impl TimeOracle for NoTimeRanges {
    fn component_overlaps(&self, _: &Component, _: &Component, _: &TimeRange) -> bool {
        false
    }
    fn property_in_range(&self, _: &Line, _: &TimeRange) -> bool {
        false
    }
}

/// The time facts of one calendar component directly inside the VCALENDAR.
struct Member<'a> {
    kind: ComponentKind,
    timing: Timing<'a>,
}

impl Member<'_> {
    fn is_master(&self) -> bool {
        self.timing.recurrence_id.is_none()
    }

    /// Another component of the same recurrence set (RFC 5545 §3.8.4.4: same UID).
    fn is_sibling_of(&self, other: &Member<'_>) -> bool {
        self.kind == other.kind && self.timing.uid == other.timing.uid
    }
}

/// One instance found: its times, and the start it has in the recurrence set before any
/// override moved it (its RECURRENCE-ID, RFC 5545 §3.8.4.4).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub occurrence: Occurrence,
    pub original: CalTime,
}

impl Hit {
    fn unmoved(occurrence: Occurrence) -> Hit {
        Hit { occurrence, original: occurrence.start }
    }
}

/// Instances found in a window, and why some may be missing.
#[derive(Default)]
pub(crate) struct Instances {
    pub list: Vec<Hit>,
    pub missing: Option<QueryError>,
}

impl Instances {
    fn of(list: Vec<Occurrence>) -> Self {
        Instances { list: list.into_iter().map(Hit::unmoved).collect(), missing: None }
    }

    fn join(&mut self, other: Instances) {
        self.list.extend(other.list);
        self.missing = self.missing.take().or(other.missing);
    }

    /// §9.9: a recurring component matches when any instance does. An instance that passes is
    /// real even when the list is incomplete, so only a negative answer needs every instance.
    fn any(self, pass: impl Fn(&Occurrence) -> bool) -> Result<bool, QueryError> {
        if self.list.iter().any(|hit| pass(&hit.occurrence)) {
            return Ok(true);
        }
        self.missing.map_or(Ok(false), Err)
    }
}

/// One instance in a listing (see `ExactTimes::listing`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listed {
    /// Position of the component among the VCALENDAR's children that describes the instance.
    pub member: usize,
    /// The instance's RECURRENCE-ID, when the component belongs to a recurrence set.
    pub original: Option<CalTime>,
    /// Its times; `None` for a to-do without DTSTART, which has no instance times.
    pub occurrence: Option<Occurrence>,
}

/// Which §9.9 condition an instance of a component with DTSTART is tested with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    /// VEVENT and VJOURNAL: `start < END AND end > START`; an instance without length (zero or
    /// negative DURATION, a DATE-TIME without DTEND) is a point: `start <= START AND end > START`.
    Period,
    /// VTODO with DTSTART and DURATION.
    TodoDuration,
    /// VTODO with DTSTART and DUE.
    TodoDue,
    /// VTODO with DTSTART only.
    TodoStart,
}

/// The RFC 4791 §9.9 oracle over one object, read by calcard from the same bytes as the
/// filter's component tree. It maps the tree's components to calcard's by position (calcard
/// lists a component's children in document order, as `ical::parse` does; `new` checks that
/// the two agree) and the filter's references to positions by identity, since both come from
/// the one tree `object_matches` owns.
pub(crate) struct ExactTimes<'a> {
    root: &'a Component,
    ical: &'a ICalendar,
    /// calcard's ids of `root.children`, position for position.
    ids: &'a [u32],
    /// The time facts of each child of the root that is a VEVENT, VTODO, VJOURNAL or VFREEBUSY.
    members: Vec<Option<Member<'a>>>,
    zones: Zones,
    ctx: QueryContext,
    /// The first test that could not be decided; see `verdict`.
    undecided: RefCell<Option<QueryError>>,
}

impl<'a> ExactTimes<'a> {
    pub(crate) fn new(root: &'a Component, ical: &'a ICalendar, ctx: QueryContext) -> Result<Self, QueryError> {
        let ids = ical.components.first().map(|c| c.component_ids.as_slice()).unwrap_or_default();
        let zones = Zones::of(ical);
        if ids.len() != root.children.len() {
            return Err(disagree(&root.name));
        }
        let mut members = Vec::with_capacity(ids.len());
        for (child, &id) in root.children.iter().zip(ids) {
            let component = ical.component_by_id(id).filter(|c| same_name(c, child)).ok_or_else(|| disagree(&child.name))?;
            members.push(member(ical, id, component, &zones, ctx.zone)?);
        }
        Ok(ExactTimes { root, ical, ids, members, zones, ctx, undecided: RefCell::new(None) })
    }

    /// Every instance of every member that `range` selects by the RFC 4791 §9.9 test of its
    /// component type, sorted by member then start: what §9.6.5 expand returns and free/busy
    /// sums. Unlike a filter, a listing needs every instance, so an incomplete expansion is
    /// an error here.
    pub(crate) fn listing(&self, range: &TimeRange) -> Result<Vec<Listed>, QueryError> {
        let mut out = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            let Some(m) = member else { continue };
            if m.timing.dtstart.is_none() {
                if self.member_overlaps(index, range)? {
                    out.push(Listed { member: index, original: m.timing.recurrence_id, occurrence: None });
                }
                continue;
            }
            let test = test_for(m.kind, &m.timing);
            let found = self.instances(index, window(range))?;
            if let Some(why) = found.missing {
                return Err(why);
            }
            let recurring = self.is_recurring(m);
            let mut hits: Vec<Hit> = found
                .list
                .into_iter()
                .filter(|h| passes(test, range, self.utc(&h.occurrence.start), self.utc(&h.occurrence.end)))
                .collect();
            hits.sort_by_key(|h| (self.utc(&h.occurrence.start), self.utc(&h.original)));
            out.extend(hits.into_iter().map(|h| Listed {
                member: index,
                original: recurring.then_some(h.original),
                occurrence: Some(h.occurrence),
            }));
        }
        if out.len() > self.ctx.max_instances {
            return Err(QueryError::TooManyInstances);
        }
        Ok(out)
    }

    /// The member's kind and time facts, for callers of `listing`.
    pub(crate) fn member_facts(&self, index: usize) -> Option<(ComponentKind, &Timing<'a>)> {
        self.members.get(index).and_then(Option::as_ref).map(|m| (m.kind, &m.timing))
    }

    /// How many children the VCALENDAR has (members or not).
    pub(crate) fn member_slots(&self) -> usize {
        self.members.len()
    }

    /// RFC 4791 §9.6.6: whether override `index` impacts `range`, by its own time or by the
    /// time the instance it overrides would have had.
    pub(crate) fn override_impacts(&self, index: usize, range: &TimeRange) -> Result<bool, QueryError> {
        if self.member_overlaps(index, range)? {
            return Ok(true);
        }
        let o = self.member(index)?;
        let (Some(rid), Some(master)) = (o.timing.recurrence_id, self.master_of(o)) else {
            return Ok(false);
        };
        let original = Occurrence { start: rid, end: rid.plus(self.length(master, &rid)) };
        let test = test_for(master.kind, &master.timing);
        Ok(passes(test, range, self.utc(&original.start), self.utc(&original.end)))
    }

    /// The DATE or DATE-TIME a property line states, its TZID resolved.
    pub(crate) fn literal_time(&self, line: &Line) -> Option<CalTime> {
        literal_time(line, &self.zones)
    }

    /// The UTC instant of `t`, floating values read in the query's zone.
    pub(crate) fn instant(&self, t: &CalTime) -> Timestamp {
        self.utc(t)
    }

    /// Whether the member belongs to a recurrence set (RFC 5545 §3.8.5): it repeats, is an
    /// override, or has overrides. Its instances then carry RECURRENCE-IDs.
    fn is_recurring(&self, m: &Member<'_>) -> bool {
        !m.is_master()
            || !m.timing.rrules.is_empty()
            || !m.timing.rdates.is_empty()
            || self.members.iter().flatten().any(|o| !o.is_master() && o.is_sibling_of(m))
    }

    /// The filter's answer, unless it depended on a test that could not be decided. Evaluation
    /// is monotone in the oracle's answers (see `TimeOracle`): an undecided test answered false
    /// cannot have turned a match into a non-match, so a match stands; a non-match does not.
    fn verdict(self, found: bool) -> Result<bool, QueryError> {
        match self.undecided.into_inner() {
            Some(why) if !found => Err(why),
            _ => Ok(found),
        }
    }

    fn answer(&self, decided: Result<bool, QueryError>) -> bool {
        decided.unwrap_or_else(|why| {
            self.undecided.borrow_mut().get_or_insert(why);
            false
        })
    }

    fn utc(&self, t: &CalTime) -> Timestamp {
        t.utc_in(self.ctx.zone)
    }

    fn component(&self, parent: &Component, component: &Component, range: &TimeRange) -> Result<bool, QueryError> {
        if std::ptr::eq(parent, self.root) {
            return self.member_overlaps(position(parent, component)?, range);
        }
        let owner = self.root.children.iter().position(|c| std::ptr::eq(c, parent));
        if let (Some(owner), "VALARM") = (owner, component.name.as_str()) {
            return self.alarm_overlaps(owner, position(parent, component)?, range);
        }
        Err(QueryError::Unsupported(format!(
            "time-range on a {} inside a {}: RFC 4791 §9.9 defines it for VEVENT, VTODO, VJOURNAL, VFREEBUSY and VALARM",
            component.name, parent.name
        )))
    }

    fn member(&self, index: usize) -> Result<&Member<'a>, QueryError> {
        self.members.get(index).and_then(Option::as_ref).ok_or_else(|| {
            let name = self.root.children.get(index).map_or("component", |c| c.name.as_str());
            QueryError::Unsupported(format!(
                "time-range on a {name}: RFC 4791 §9.9 defines it for VEVENT, VTODO, VJOURNAL, VFREEBUSY and VALARM"
            ))
        })
    }

    /// RFC 4791 §9.9, per component type.
    fn member_overlaps(&self, index: usize, range: &TimeRange) -> Result<bool, QueryError> {
        let m = self.member(index)?;
        match (m.kind, m.timing.dtstart) {
            (ComponentKind::FreeBusy, _) => Ok(self.freebusy_overlaps(&m.timing, range)),
            (ComponentKind::Todo, None) => Ok(self.undated_todo_overlaps(&m.timing, range)),
            // "N | * | FALSE"
            (ComponentKind::Journal, None) => Ok(false),
            // Refused on write (RFC 5545 §3.6.1 requires DTSTART), so this is older data.
            (ComponentKind::Event, None) => Err(QueryError::Unreadable("a VEVENT without DTSTART".into())),
            (kind, Some(_)) => {
                let test = test_for(kind, &m.timing);
                let found = self.instances(index, window(range))?;
                found.any(|o| passes(test, range, self.utc(&o.start), self.utc(&o.end)))
            }
        }
    }

    /// §9.9 VFREEBUSY: DTSTART and DTEND when both are given, else each FREEBUSY period.
    fn freebusy_overlaps(&self, t: &Timing<'_>, r: &TimeRange) -> bool {
        if let (Some(start), Some(end)) = (t.dtstart, t.dtend) {
            return start_le(r, self.utc(&end)) && end_gt(r, self.utc(&start));
        }
        t.freebusy.iter().any(|(start, end, _)| {
            start_lt(r, self.utc(&end.from(*start))) && end_gt(r, self.utc(start))
        })
    }

    /// §9.9 VTODO rows without DTSTART. An RRULE or RDATE needs DTSTART (RFC 5545 §3.8.5.3),
    /// so such a to-do has nothing to repeat and is tested as written.
    fn undated_todo_overlaps(&self, t: &Timing<'_>, r: &TimeRange) -> bool {
        let at = |c: CalTime| self.utc(&c);
        match (t.due, t.completed, t.created) {
            (Some(due), _, _) => start_lt(r, at(due)) && end_ge(r, at(due)),
            (None, Some(done), Some(made)) => {
                (start_le(r, at(made)) || start_le(r, at(done))) && (end_ge(r, at(made)) || end_ge(r, at(done)))
            }
            (None, Some(done), None) => start_le(r, at(done)) && end_ge(r, at(done)),
            (None, None, Some(made)) => end_gt(r, at(made)),
            (None, None, None) => true,
        }
    }

    /// The instances of member `index` (which has DTSTART) that may touch `window`. A master
    /// loses the instances its overrides replace (RFC 5545 §3.8.4.4) and those a THISANDFUTURE
    /// override moves; that override gains them.
    fn instances(&self, index: usize, window: Window) -> Result<Instances, QueryError> {
        let m = self.member(index)?;
        let exclude = if m.is_master() { self.override_ids(m) } else { Vec::new() };
        let Some(set) = self.recurrence_set(m, &exclude)? else {
            return Ok(Instances::default());
        };
        let mut found = self.expand(&set, window);
        if m.is_master() {
            let moved = self.this_and_future_ids(m);
            found.list.retain(|h| !moved.iter().any(|rid| self.utc(&h.original) >= self.utc(rid)));
        } else {
            if let Some(rid) = m.timing.recurrence_id {
                found.list.iter_mut().for_each(|h| h.original = rid);
            }
            if m.timing.this_and_future {
                found.join(self.moved_instances(m, window)?);
            }
        }
        Ok(found)
    }

    /// The RECURRENCE-IDs of the overrides of master `m`.
    fn override_ids(&self, m: &Member<'_>) -> Vec<CalTime> {
        self.members.iter().flatten().filter(|o| o.is_sibling_of(m)).filter_map(|o| o.timing.recurrence_id).collect()
    }

    /// The RECURRENCE-IDs of the RANGE=THISANDFUTURE overrides in the set `m` belongs to.
    fn this_and_future_ids(&self, m: &Member<'_>) -> Vec<CalTime> {
        let moving = self.members.iter().flatten().filter(|o| o.is_sibling_of(m) && o.timing.this_and_future);
        moving.filter_map(|o| o.timing.recurrence_id).collect()
    }

    fn master_of(&self, o: &Member<'_>) -> Option<&Member<'a>> {
        self.members.iter().flatten().find(|m| m.is_master() && m.is_sibling_of(o))
    }

    /// RFC 5545 §3.8.4.4 RANGE=THISANDFUTURE: the master's instances after the override's
    /// RECURRENCE-ID, up to the next such override, move by the override's shift and take its
    /// length.
    fn moved_instances(&self, o: &Member<'_>, window: Window) -> Result<Instances, QueryError> {
        let (Some(rid), Some(start), Some(master)) = (o.timing.recurrence_id, o.timing.dtstart, self.master_of(o)) else {
            return Ok(Instances::default());
        };
        let Some(set) = self.recurrence_set(master, &self.override_ids(master))? else {
            return Ok(Instances::default());
        };
        let (shift, length) = (self.shift(&rid, &start), self.length(o, &start));
        let reach = shift.saturating_abs().saturating_add(length.approx_seconds().saturating_abs()).saturating_add(NOMINAL_SLACK);
        let mut found = self.expand(&set, widen(window, reach, reach));
        let later: Vec<CalTime> = self.this_and_future_ids(master).into_iter().filter(|r| self.utc(r) > self.utc(&rid)).collect();
        found.list.retain(|h| {
            let at = self.utc(&h.original);
            at > self.utc(&rid) && !later.iter().any(|r| at >= self.utc(r))
        });
        for hit in &mut found.list {
            let moved = hit.original.plus(Length::exact(shift));
            hit.occurrence = Occurrence { start: moved, end: moved.plus(length) };
        }
        Ok(found)
    }

    /// How far a THISANDFUTURE override moves the instances, in seconds: measured as index.rs
    /// measures it (on the wall clock when both values float), so that the index and the query
    /// agree; the query's zone settles a floating value against a fixed one.
    fn shift(&self, rid: &CalTime, start: &CalTime) -> i64 {
        if rid.is_floating() == start.is_floating() {
            start.face() - rid.face()
        } else {
            self.utc(start) - self.utc(rid)
        }
    }

    /// The component's recurrence set without the instances in `exclude`; `None` without DTSTART.
    fn recurrence_set(&self, m: &Member<'_>, exclude: &[CalTime]) -> Result<Option<RecurrenceSet>, QueryError> {
        let Some(start) = m.timing.dtstart else {
            return Ok(None);
        };
        index::recurrence_set(&m.timing, start, self.length(m, &start), exclude)
            .map(Some)
            .map_err(|e| QueryError::Unreadable(e.to_string()))
    }

    /// RFC 5545 §3.8.5.3: every instance keeps the first one's exact length. index.rs measures it
    /// exactly unless only one end floats, where it takes the longest reading (the index wants a
    /// superset); here the query's zone fixes both ends.
    fn length(&self, m: &Member<'_>, start: &CalTime) -> Length {
        let end = match m.kind {
            ComponentKind::Event => m.timing.dtend,
            ComponentKind::Todo if m.timing.duration.is_none() => m.timing.due,
            _ => None,
        };
        if let Some(end) = end.filter(|e| e.is_floating() != start.is_floating()) {
            return Length::exact(self.utc(&end) - self.utc(start));
        }
        match m.kind {
            ComponentKind::Event => index::event_length(&m.timing, start),
            ComponentKind::Todo => index::todo_length(&m.timing, start),
            ComponentKind::Journal | ComponentKind::FreeBusy => index::default_length(start),
        }
    }

    /// Expands inside `window` with the query's cap. An incomplete expansion is a refusal unless
    /// an instance found decides the test (see `Instances::any`).
    fn expand(&self, set: &RecurrenceSet, window: Window) -> Instances {
        let limits = Limits { max_scanned: QUERY_SCAN_CAP, max_instances: self.ctx.max_instances };
        let expansion = set.expand(window, limits);
        let missing = (!expansion.complete).then(|| {
            if set.is_expandable() {
                QueryError::TooManyInstances
            } else {
                QueryError::Unsupported(
                    "a recurrence rule this server cannot expand (RFC 7529 RSCALE, SKIP or a leap month)".into(),
                )
            }
        });
        Instances { list: expansion.occurrences.into_iter().map(Hit::unmoved).collect(), missing }
    }

    /// RFC 4791 §9.9 VALARM: `start <= trigger AND end > trigger` for any trigger, REPEATs
    /// included, of the alarm at position `alarm` of member `owner`. Relative triggers follow
    /// each of the owner's instances (RFC 5545 §3.8.6.3).
    fn alarm_overlaps(&self, owner: usize, alarm: usize, range: &TimeRange) -> Result<bool, QueryError> {
        let Some(alarm) = self.read_alarm(owner, alarm)? else {
            return Ok(false); // without TRIGGER an alarm never fires
        };
        match alarm.trigger {
            Trigger::Absolute(at) => Ok(self.fires_in(&at, &alarm, range)),
            Trigger::Relative { offset, from_end } => {
                let (first, last) = offsets(&alarm, offset);
                let window = widen(window(range), last.saturating_add(NOMINAL_SLACK), NOMINAL_SLACK.saturating_sub(first));
                let anchors = self.alarm_anchors(owner, window)?;
                anchors.any(|o| self.fires_in(&(if from_end { o.end } else { o.start }).plus(offset), &alarm, range))
            }
        }
    }

    pub(crate) fn read_alarm(&self, owner: usize, alarm: usize) -> Result<Option<Alarm>, QueryError> {
        let owner_id = self.ids.get(owner).copied();
        let id = owner_id.and_then(|id| self.ical.component_by_id(id)).and_then(|c| c.component_ids.get(alarm).copied());
        let component = id
            .and_then(|id| self.ical.component_by_id(id))
            .filter(|c| c.component_type == ICalendarComponentType::VAlarm)
            .ok_or_else(|| disagree("VALARM"))?;
        model::read_alarm(component, &self.zones).map_err(|e| QueryError::Unreadable(e.to_string()))
    }

    /// What relative triggers are measured from. A to-do with DUE but no DTSTART is anchored on
    /// DUE, as RFC 4791 §7.8.5 does with its abcd5.ics; without either, nothing fires.
    fn alarm_anchors(&self, owner: usize, window: Window) -> Result<Instances, QueryError> {
        let m = self.member(owner)?;
        match (m.kind, m.timing.dtstart, m.timing.due) {
            (ComponentKind::FreeBusy, _, _) => Ok(Instances::default()),
            (_, Some(_), _) => self.instances(owner, window),
            (ComponentKind::Todo, None, Some(due)) => Ok(Instances::of(vec![Occurrence { start: due, end: due }])),
            _ => Ok(Instances::default()),
        }
    }

    /// Whether the trigger at `first`, or one of its REPEATs DURATION apart, is in `range`.
    /// The trigger times are monotone in the repeat number (a DURATION's days and seconds share
    /// its sign, and whole days keep their order across DST), so a binary search finds the
    /// first candidate even for a REPEAT in the billions.
    fn fires_in(&self, first: &CalTime, alarm: &Alarm, r: &TimeRange) -> bool {
        let at = |k: i64| {
            let step = Length::new(alarm.interval.days.saturating_mul(k), alarm.interval.seconds.saturating_mul(k));
            self.utc(&first.plus(step))
        };
        let last = i64::from(alarm.repeat);
        let k = if alarm.interval.is_negative() {
            first_index(last, |k| end_gt(r, at(k)))
        } else {
            first_index(last, |k| start_le(r, at(k)))
        };
        k.is_some_and(|k| start_le(r, at(k)) && end_gt(r, at(k)))
    }

    /// §9.9 for a DATE or DATE-TIME property: `start <= value AND end > value`; a DATE is the
    /// start of its day in the query's zone (RFC 4791 §7.3).
    fn property(&self, line: &Line, r: &TimeRange) -> bool {
        literal_time(line, &self.zones).is_some_and(|t| {
            let at = self.utc(&t);
            start_le(r, at) && end_gt(r, at)
        })
    }
}

impl TimeOracle for ExactTimes<'_> {
    fn component_overlaps(&self, parent: &Component, component: &Component, range: &TimeRange) -> bool {
        self.answer(self.component(parent, component, range))
    }

    fn property_in_range(&self, property: &Line, range: &TimeRange) -> bool {
        self.property(property, range)
    }
}

fn member<'a>(ical: &'a ICalendar, id: u32, c: &ICalendarComponent, zones: &Zones, zone: chrono_tz::Tz) -> Result<Option<Member<'a>>, QueryError> {
    let Some(kind) = ComponentKind::parse(c.component_type.as_str()) else {
        return Ok(None);
    };
    let mut timing = model::read(ical, id, zones).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    timing.read_floating_in(zone);
    Ok(Some(Member { kind, timing }))
}

fn same_name(c: &ICalendarComponent, child: &Component) -> bool {
    c.component_type.as_str().eq_ignore_ascii_case(&child.name)
}

fn disagree(name: &str) -> QueryError {
    QueryError::Unreadable(format!("the two parses of the object disagree on its {name} components"))
}

/// Where `child` sits among `parent`'s children, by identity.
fn position(parent: &Component, child: &Component) -> Result<usize, QueryError> {
    parent
        .children
        .iter()
        .position(|c| std::ptr::eq(c, child))
        .ok_or_else(|| QueryError::Unreadable(format!("a {} outside the evaluated object", child.name)))
}

fn test_for(kind: ComponentKind, t: &Timing<'_>) -> Test {
    match (kind, t.duration, t.due) {
        (ComponentKind::Todo, Some(_), _) => Test::TodoDuration,
        (ComponentKind::Todo, None, Some(_)) => Test::TodoDue,
        (ComponentKind::Todo, None, None) => Test::TodoStart,
        _ => Test::Period,
    }
}

/// The §9.9 condition for one VEVENT instance from `s` to `e` (UTC).
pub(crate) fn event_passes(r: &TimeRange, s: Timestamp, e: Timestamp) -> bool {
    passes(Test::Period, r, s, e)
}

/// The §9.9 condition of `test` for one instance from `s` to `e` (UTC).
fn passes(test: Test, r: &TimeRange, s: Timestamp, e: Timestamp) -> bool {
    match test {
        Test::Period if e > s => start_lt(r, e) && end_gt(r, s),
        Test::Period | Test::TodoStart => start_le(r, s) && end_gt(r, s),
        Test::TodoDuration => start_le(r, e) && (end_gt(r, s) || end_ge(r, e)),
        Test::TodoDue => (start_lt(r, e) || start_le(r, s)) && (end_gt(r, s) || end_ge(r, e)),
    }
}

// The four comparisons §9.9 writes, with an absent bound as -infinity or +infinity.

fn start_le(r: &TimeRange, t: Timestamp) -> bool {
    r.start.is_none_or(|s| s <= t)
}

fn start_lt(r: &TimeRange, t: Timestamp) -> bool {
    r.start.is_none_or(|s| s < t)
}

fn end_gt(r: &TimeRange, t: Timestamp) -> bool {
    r.end.is_none_or(|e| e > t)
}

fn end_ge(r: &TimeRange, t: Timestamp) -> bool {
    r.end.is_none_or(|e| e >= t)
}

fn window(r: &TimeRange) -> Window {
    Window { start: r.start, end: r.end }
}

/// `window` with its start moved `before` earlier and its end `after` later.
fn widen(w: Window, before: i64, after: i64) -> Window {
    Window { start: w.start.map(|s| s.saturating_sub(before)), end: w.end.map(|e| e.saturating_add(after)) }
}

/// The earliest and latest trigger offsets from the anchor, in nominal seconds.
fn offsets(alarm: &Alarm, offset: Length) -> (i64, i64) {
    let first = offset.approx_seconds();
    let last = first.saturating_add(alarm.interval.approx_seconds().saturating_mul(i64::from(alarm.repeat)));
    (first.min(last), first.max(last))
}

/// The least `k` in `0..=last` for which the monotone `pred` holds.
fn first_index(last: i64, pred: impl Fn(i64) -> bool) -> Option<i64> {
    let (mut lo, mut hi) = (0, last.saturating_add(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { hi = mid } else { lo = mid + 1 }
    }
    (lo <= last).then_some(lo)
}

/// A UTC DATE-TIME as written in a FREEBUSY period or a time-range (`YYYYMMDDTHHMMSSZ`).
pub(crate) fn utc_literal(text: &str) -> Option<Timestamp> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc().timestamp())
}

/// A DATE or DATE-TIME property value as written: `YYYYMMDD`, `YYYYMMDDTHHMMSS` with `Z`, a
/// numeric offset or a TZID, or floating. Anything else is not a time and overlaps no range.
fn literal_time(line: &Line, zones: &Zones) -> Option<CalTime> {
    let value = line.value.trim();
    if value.len() == 8 {
        return NaiveDate::parse_from_str(value, "%Y%m%d").ok().map(CalTime::date);
    }
    if let Ok(fixed) = chrono::DateTime::parse_from_str(value, "%Y%m%dT%H%M%S%z") {
        return Some(CalTime { local: fixed.naive_local(), zone: Zone::Fixed(*fixed.offset()), is_date: false });
    }
    let mut time = model::lenient_date_time(value)?;
    if let (Zone::Floating, Some(tzid)) = (time.zone, line.param("TZID")) {
        time.zone = zones.resolve(tzid);
    }
    Some(time)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
