//! CALDAV:calendar-data as a REPORT asks for it (RFC 4791 §9.6): component and property
//! selection, `expand` (each instance its own component, in UTC), `limit-recurrence-set` and
//! `limit-freebusy-set`. Lines that are passed through keep the client's bytes (folding
//! included); only the lines an option rewrites are written anew.

use std::borrow::Cow;

use super::filter::TimeRange;
use super::query::{ExactTimes, Listed, QueryContext, QueryError, with_times};
use super::raw;
use super::time::CalTime;
use super::{ComponentKind, Timestamp};

/// What a CALDAV:calendar-data element asks for. The default is the object as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataRequest {
    /// §9.6.1 CALDAV:comp on VCALENDAR; `None` returns every component and property.
    pub select: Option<CompSelect>,
    pub recurrence: RecurrenceMode,
    /// §9.6.7: FREEBUSY periods outside this range are left out.
    pub limit_freebusy: Option<TimeRange>,
}

impl DataRequest {
    /// Whether the stored bytes answer the request unchanged.
    pub fn is_whole_object(&self) -> bool {
        self.select.is_none() && self.recurrence == RecurrenceMode::AsStored && self.limit_freebusy.is_none()
    }
}

/// How recurring components come back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecurrenceMode {
    #[default]
    AsStored,
    /// §9.6.5: one component per instance overlapping the range, RECURRENCE-ID set, times in
    /// UTC, no RRULE/RDATE/EXDATE/EXRULE and no VTIMEZONE.
    Expand(TimeRange),
    /// §9.6.6: the master, plus only the overrides whose current or original time overlaps.
    LimitRecurrenceSet(TimeRange),
}

/// §9.6.1 CALDAV:comp: a component by name, with the properties and sub-components to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompSelect {
    /// Upper-case component name.
    pub name: String,
    pub props: Selection<PropSelect>,
    pub comps: Selection<CompSelect>,
}

/// CALDAV:allprop / allcomp, or a list (possibly empty) of what to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<T> {
    All,
    Only(Vec<T>),
}

/// §9.6.4 CALDAV:prop: a property by name; `novalue` keeps its name and parameters only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropSelect {
    pub name: String,
    pub novalue: bool,
}

/// The calendar data `request` asks for from the stored object `data`.
pub fn render<'d>(data: &'d [u8], request: &DataRequest, ctx: QueryContext) -> Result<Cow<'d, [u8]>, QueryError> {
    if request.is_whole_object() {
        return Ok(Cow::Borrowed(data));
    }
    let text = std::str::from_utf8(data).map_err(|e| QueryError::Unreadable(e.to_string()))?;
    let mut root = parse_tree(text)?;
    match request.recurrence {
        RecurrenceMode::AsStored => {}
        RecurrenceMode::Expand(range) => {
            root = with_times(data, ctx, |_, times| expand(&root, times, &range))?;
        }
        RecurrenceMode::LimitRecurrenceSet(range) => {
            root = with_times(data, ctx, |_, times| limit_recurrence_set(&root, times, &range))?;
        }
    }
    if let Some(range) = request.limit_freebusy {
        limit_freebusy(&mut root, &range);
    }
    if let Some(select) = &request.select {
        root = select_in(&root, select);
    }
    let mut out = String::with_capacity(text.len());
    write(&root, &mut out);
    Ok(Cow::Owned(out.into_bytes()))
}

/// A component as the source has it: properties and sub-components in their order.
#[derive(Debug, Clone)]
struct Node<'a> {
    /// Upper-case name.
    name: String,
    /// The BEGIN line as sent (it may be spelt `begin:vevent`).
    begin: Cow<'a, str>,
    end: Cow<'a, str>,
    items: Vec<Item<'a>>,
}

#[derive(Debug, Clone)]
enum Item<'a> {
    Prop(Prop<'a>),
    Child(Node<'a>),
}

#[derive(Debug, Clone)]
struct Prop<'a> {
    /// Upper-case name.
    name: String,
    /// The physical lines as sent (folds kept), or a line written here, already folded.
    raw: Cow<'a, str>,
    /// The unfolded line.
    text: Cow<'a, str>,
}

impl<'a> Prop<'a> {
    fn new(line: String) -> Prop<'a> {
        let mut folded = String::new();
        raw::push_folded(&line, &mut folded);
        folded.truncate(folded.trim_end_matches("\r\n").len());
        let name = line.split([';', ':']).next().unwrap_or_default().to_ascii_uppercase();
        Prop { name, raw: Cow::Owned(folded), text: Cow::Owned(line) }
    }

    /// The name and parameters, without the value (`DTSTART;TZID=X`).
    fn head(&self) -> &str {
        match raw::property(&self.text) {
            Ok(p) => &self.text[..self.text.len() - p.value.len() - 1],
            Err(_) => &self.text,
        }
    }

    fn value(&self) -> &str {
        raw::property(&self.text).map_or("", |p| p.value)
    }
}

impl<'a> Node<'a> {
    fn children(&self) -> impl Iterator<Item = &Node<'a>> {
        self.items.iter().filter_map(|i| match i {
            Item::Child(c) => Some(c),
            Item::Prop(_) => None,
        })
    }

    fn shell(&self) -> Node<'a> {
        Node { name: self.name.clone(), begin: self.begin.clone(), end: self.end.clone(), items: Vec::new() }
    }
}

/// The one VCALENDAR of a stored object (validated on write, so a failure here is old data).
fn parse_tree(source: &str) -> Result<Node<'_>, QueryError> {
    let mut stack: Vec<Node<'_>> = Vec::new();
    let mut done: Option<Node<'_>> = None;
    // Data stored before the limits existed may exceed them (the tree is dropped recursively).
    let mut budget = raw::ComponentBudget::default();
    for line in raw::content_lines(source) {
        let prop = raw::property(&line.text).map_err(QueryError::Unreadable)?;
        let name = prop.name.to_ascii_uppercase();
        let raw_text = source.get(line.start..line.end).unwrap_or_default();
        match name.as_str() {
            "BEGIN" => {
                stack.push(Node {
                    name: prop.value.trim().to_ascii_uppercase(),
                    begin: Cow::Borrowed(raw_text),
                    end: Cow::Borrowed(""),
                    items: Vec::new(),
                });
                budget.open(stack.len()).map_err(QueryError::Unreadable)?;
            }
            "END" => {
                let mut node = stack.pop().ok_or_else(|| QueryError::Unreadable("END without BEGIN".into()))?;
                node.end = Cow::Borrowed(raw_text);
                match stack.last_mut() {
                    Some(parent) => parent.items.push(Item::Child(node)),
                    None => done = Some(node),
                }
            }
            _ => {
                let parent = stack.last_mut().ok_or_else(|| QueryError::Unreadable("a property outside VCALENDAR".into()))?;
                parent.items.push(Item::Prop(Prop { name, raw: Cow::Borrowed(raw_text), text: line.text }));
            }
        }
    }
    done.filter(|_| stack.is_empty()).ok_or_else(|| QueryError::Unreadable("no complete VCALENDAR".into()))
}

fn write(node: &Node<'_>, out: &mut String) {
    raw::with_crlf(&node.begin, out);
    for item in &node.items {
        match item {
            Item::Prop(p) => raw::with_crlf(&p.raw, out),
            Item::Child(c) => write(c, out),
        }
    }
    raw::with_crlf(&node.end, out);
}

/// §9.6.5: the VCALENDAR with each member replaced by its instances in `range`.
fn expand<'a>(root: &Node<'a>, times: &ExactTimes<'_>, range: &TimeRange) -> Result<Node<'a>, QueryError> {
    check_alignment(root, times)?;
    let listing = times.listing(range)?;
    let children: Vec<&Node<'a>> = root.children().collect();
    let mut out = root.shell();
    for item in &root.items {
        if let Item::Prop(p) = item {
            out.items.push(Item::Prop(p.clone()));
        }
    }
    for (index, child) in children.iter().enumerate() {
        if child.name == "VTIMEZONE" {
            continue;
        }
        if times.member_facts(index).is_none() {
            out.items.push(Item::Child((*child).clone()));
        }
    }
    for listed in &listing {
        let Some(child) = children.get(listed.member) else { continue };
        out.items.push(Item::Child(instance(child, listed, times)));
    }
    Ok(out)
}

/// Members are addressed by position among the VCALENDAR's children, so this tree and the
/// one the oracle was built on must list the same children.
fn check_alignment(root: &Node<'_>, times: &ExactTimes<'_>) -> Result<(), QueryError> {
    if root.children().count() == times.member_slots() {
        Ok(())
    } else {
        Err(QueryError::Unreadable("the two parses of the object disagree on its components".into()))
    }
}

/// One instance of `component` as its own component: times in UTC (DATEs stay DATEs: they
/// have no zone to convert from), RECURRENCE-ID set, recurrence properties dropped.
fn instance<'a>(component: &Node<'a>, listed: &Listed, times: &ExactTimes<'_>) -> Node<'a> {
    let mut out = component.shell();
    let kind = times.member_facts(listed.member).map(|(k, _)| k);
    let mut placed_rid = false;
    for item in &component.items {
        let Item::Prop(p) = item else {
            out.items.push(item.clone());
            continue;
        };
        let new = match (p.name.as_str(), listed.occurrence) {
            ("RRULE" | "RDATE" | "EXDATE" | "EXRULE", _) => continue,
            ("DTSTART", Some(o)) => vec![time_line("DTSTART", &o.start, times)],
            ("DTEND", Some(o)) => vec![time_line("DTEND", &o.end, times)],
            ("DUE", Some(o)) if kind == Some(ComponentKind::Todo) => vec![time_line("DUE", &o.end, times)],
            ("RECURRENCE-ID", _) => {
                placed_rid = true;
                match listed.original {
                    Some(rid) => vec![time_line("RECURRENCE-ID", &rid, times)],
                    None => vec![],
                }
            }
            ("DTSTART" | "DTEND" | "DUE", None) => vec![utc_copy(p, times)],
            _ => {
                out.items.push(item.clone());
                continue;
            }
        };
        out.items.extend(new.into_iter().map(Item::Prop));
    }
    if let (false, Some(rid)) = (placed_rid, listed.original) {
        let at = out.items.iter().position(|i| matches!(i, Item::Prop(p) if p.name == "DTSTART")).map_or(0, |i| i + 1);
        out.items.insert(at, Item::Prop(time_line("RECURRENCE-ID", &rid, times)));
    }
    out
}

/// `NAME:…Z` for a DATE-TIME (UTC), `NAME;VALUE=DATE:…` for a DATE.
fn time_line<'a>(name: &str, t: &CalTime, times: &ExactTimes<'_>) -> Prop<'a> {
    if t.is_date {
        return Prop::new(format!("{name};VALUE=DATE:{}", t.local.format("%Y%m%d")));
    }
    Prop::new(format!("{name}:{}", utc_text(times.instant(t))))
}

/// A DTSTART/DTEND/DUE of a to-do without instance times, re-read into UTC when it names a
/// zone (§9.6.5 forbids references to VTIMEZONE).
fn utc_copy<'a>(p: &Prop<'a>, times: &ExactTimes<'_>) -> Prop<'a> {
    match times.literal(p) {
        Some(t) => time_line(&p.name, &t, times),
        None => p.clone(),
    }
}

fn utc_text(ts: Timestamp) -> String {
    super::time::utc_date_time(ts)
}

/// §9.6.6: the master and the overrides that impact `range`; everything else as stored.
fn limit_recurrence_set<'a>(root: &Node<'a>, times: &ExactTimes<'_>, range: &TimeRange) -> Result<Node<'a>, QueryError> {
    check_alignment(root, times)?;
    let mut out = root.shell();
    let mut index = 0;
    for item in &root.items {
        let keep = match item {
            Item::Prop(_) => true,
            Item::Child(_) => {
                index += 1;
                match times.member_facts(index - 1) {
                    Some((_, timing)) if timing.recurrence_id.is_some() => times.override_impacts(index - 1, range)?,
                    _ => true,
                }
            }
        };
        if keep {
            out.items.push(item.clone());
        }
    }
    Ok(out)
}

/// §9.6.7: in each VFREEBUSY, only the FREEBUSY periods that overlap `range`.
fn limit_freebusy(root: &mut Node<'_>, range: &TimeRange) {
    for item in &mut root.items {
        let Item::Child(child) = item else { continue };
        if child.name != "VFREEBUSY" {
            continue;
        }
        child.items.retain_mut(|item| {
            let Item::Prop(p) = item else { return true };
            if p.name != "FREEBUSY" {
                return true;
            }
            let kept: Vec<&str> = p.value().split(',').filter(|period| period_overlaps(period, range)).collect();
            if kept.is_empty() {
                return false;
            }
            if kept.len() != p.value().split(',').count() {
                *p = Prop::new(format!("{}:{}", p.head(), kept.join(",")));
            }
            true
        });
    }
}

/// Whether a FREEBUSY period (`start/end` or `start/duration`, UTC per RFC 5545 §3.8.2.6)
/// overlaps `range`. A period that cannot be read is kept: dropping data would be worse.
fn period_overlaps(period: &str, range: &TimeRange) -> bool {
    let Some((start, end)) = period.trim().split_once('/') else { return true };
    let Some(start) = super::query::utc_literal(start) else { return true };
    let end = match super::query::utc_literal(end) {
        Some(e) => e,
        None => match duration_seconds(end) {
            Some(d) => start.saturating_add(d),
            None => return true,
        },
    };
    range.start.is_none_or(|s| end > s) && range.end.is_none_or(|e| start < e)
}

/// An RFC 5545 §3.3.6 DURATION in seconds (days taken as 86,400 s: FREEBUSY is in UTC).
fn duration_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let mut rest = rest.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut in_time = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(['T', 't']) {
            in_time = true;
            rest = r;
            continue;
        }
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?.to_ascii_uppercase();
        let scale = match (unit, in_time) {
            ('W', false) => 7 * 86_400,
            ('D', false) => 86_400,
            ('H', true) => 3600,
            ('M', true) => 60,
            ('S', true) => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(scale)?)?;
        rest = &rest[digits + 1..];
    }
    Some(sign * total)
}

/// §9.6.1–§9.6.4: keep what `select` names. BEGIN/END always stay.
fn select_in<'a>(node: &Node<'a>, select: &CompSelect) -> Node<'a> {
    let mut out = node.shell();
    for item in &node.items {
        match item {
            Item::Prop(p) => match &select.props {
                Selection::All => out.items.push(item.clone()),
                Selection::Only(list) => {
                    if let Some(wanted) = list.iter().find(|w| w.name == p.name) {
                        let kept = if wanted.novalue { Prop::new(format!("{}:", p.head())) } else { p.clone() };
                        out.items.push(Item::Prop(kept));
                    }
                }
            },
            Item::Child(c) => match &select.comps {
                Selection::All => out.items.push(item.clone()),
                Selection::Only(list) => {
                    if let Some(wanted) = list.iter().find(|w| w.name == c.name) {
                        out.items.push(Item::Child(select_in(c, wanted)));
                    }
                }
            },
        }
    }
    out
}

impl ExactTimes<'_> {
    /// The time value a property line states, for lines `listing` gave no instance for.
    fn literal(&self, p: &Prop<'_>) -> Option<CalTime> {
        let line = super::ical::parse_line(&p.text).ok()?;
        self.literal_time(&line)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
