//! An event object's instance timeline, computed at write time: the start and end of every
//! instance up to a horizon, encoded compactly, so that a calendar-query whose filter is a
//! plain VEVENT time-range (RFC 4791 §9.9) is decided without parsing or expanding the object.
//!
//! Only objects whose instances are the same in every query zone get one, so the stored answer
//! is the exact evaluation's answer: no RANGE=THISANDFUTURE (its shift compares instants that
//! may float) and no floating DATE-TIME (RFC 4791 §7.3 reads it in the query's zone before
//! exact lengths are added, so its instances move with the zone). DATE values stay days in
//! every zone and are kept as wall-clock readings, converted per query as the exact path does.

use super::filter::TimeRange;
use super::index;
use super::query::event_passes;
use super::model::{PeriodEnd, Timing};
use super::recur::{Limits, Occurrence, Window};
use super::time::{CalTime, MAX_OFFSET_EAST, MAX_OFFSET_WEST, Zone, resolve_local};
use super::{ComponentKind, Timestamp};

/// Instances stored per object at most; a longer timeline is not stored and queries evaluate
/// the object exactly. A daily rule over eleven years fits.
pub const TIMELINE_CAP: usize = 4_096;

/// How far past the write an unbounded recurrence is laid out.
pub const HORIZON_SECONDS: i64 = 2 * 366 * 86_400;

/// A timeline whose horizon is nearer than this is laid out again by the background worker.
pub const RENEW_SECONDS: i64 = 366 * 86_400;

/// Format byte, so a later layout can tell old rows apart.
const VERSION: u8 = 2;

/// Bits beside the length in a run's second number.
const START_FLOATS: u64 = 0b10;
const END_FLOATS: u64 = 0b01;

/// The stored timeline of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Instances sorted by start, as runs (see `encode`). A fixed time is stored as its UTC
    /// instant, a DATE as its wall-clock reading taken as UTC.
    pub encoded: Vec<u8>,
    /// `None` when every instance is stored; otherwise every instance whose earliest possible
    /// start is at or before this instant is stored, and later ones are not.
    pub until: Option<Timestamp>,
}

/// One stored instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    start: Timestamp,
    end: Timestamp,
    start_floats: bool,
    end_floats: bool,
}

impl Stored {
    fn of(o: &Occurrence) -> Stored {
        Stored { start: o.start.face(), end: o.end.face(), start_floats: o.start.is_floating(), end_floats: o.end.is_floating() }
    }
}

/// The timeline of a VEVENT object whose components passed validation, laid out up to
/// `horizon`; `None` when the object does not qualify (see the module docs) or has more than
/// `TIMELINE_CAP` instances before the horizon.
pub fn build(kind: ComponentKind, timings: &[Timing<'_>], horizon: Timestamp) -> Option<Timeline> {
    if kind != ComponentKind::Event || !timings.iter().all(qualifies) {
        return None;
    }
    let overridden: Vec<CalTime> = timings.iter().filter_map(|t| t.recurrence_id).collect();
    let mut stored = Vec::new();
    let mut until = None;
    for t in timings {
        let start = t.dtstart?;
        // RFC 5545 §3.8.4.4: overrides replace the master's instances; exactly as the query does.
        let exclude = if t.recurrence_id.is_none() { overridden.as_slice() } else { &[] };
        let set = index::recurrence_set(t, start, index::event_length(t, &start), exclude).ok()?;
        let window = if set.is_finite() {
            Window::ALL
        } else {
            until = Some(horizon);
            Window { start: None, end: Some(horizon) }
        };
        let expansion = set.expand(window, Limits { max_scanned: index::INDEX_SCAN_CAP, max_instances: TIMELINE_CAP + 1 });
        if !expansion.complete {
            return None;
        }
        stored.extend(expansion.occurrences.iter().map(Stored::of));
        if stored.len() > TIMELINE_CAP {
            return None;
        }
    }
    stored.sort_by_key(|s| (s.start, s.end));
    Some(Timeline { encoded: encode(&stored)?, until })
}

/// No value whose instant depends on the query zone (module docs).
fn qualifies(t: &Timing<'_>) -> bool {
    let fixed_or_date = |c: &CalTime| c.is_date || c.zone != Zone::Floating;
    let period_end = |e: &Option<PeriodEnd>| match e {
        Some(PeriodEnd::At(c)) => fixed_or_date(c),
        _ => true,
    };
    // DTSTART and DTEND have one value type (validation, RFC 5545 §3.8.2.2), so here both
    // are fixed or both DATEs and the length is the same in every zone.
    !t.this_and_future
        && [t.dtstart, t.dtend, t.recurrence_id].iter().flatten().all(fixed_or_date)
        && t.rdates.iter().all(|(c, e)| fixed_or_date(c) && period_end(e))
        && t.exdates.iter().all(fixed_or_date)
}

impl Timeline {
    /// RFC 4791 §9.9 for a VEVENT: whether any instance overlaps `range`, floating DATEs read in
    /// `zone`. `None` when the stored instances cannot tell (the range reaches past the horizon
    /// and none of them matched, or the encoding is unreadable): evaluate exactly then.
    pub fn overlaps(&self, range: &TimeRange, zone: chrono_tz::Tz) -> Option<bool> {
        let reader = Reader { bytes: self.encoded.strip_prefix(&[VERSION])?, start: 0, length: 0 };
        for run in reader {
            match run?.overlaps(range, zone)? {
                Scan::Found => return Some(true),
                Scan::PastTheEnd => break,
                Scan::NotHere => {}
            }
        }
        match self.until {
            None => Some(false),
            // Unstored instances start after `until` in every zone, so after the range ends.
            Some(until) if range.end.is_some_and(|e| e <= until) => Some(false),
            Some(_) => None,
        }
    }
}

/// What one run says about a range.
enum Scan {
    Found,
    NotHere,
    /// This run reaches past the range's end, so every later one starts after it.
    PastTheEnd,
}

/// Instances `first`, then `more` others, each `step` seconds after the previous one, all of
/// `first`'s length and kind: a rule's stretch between two DST changes is one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: Stored,
    step: i64,
    more: u64,
}

/// A stored reading is at most this far from any zone's instant.
const SLACK: i64 = MAX_OFFSET_EAST + MAX_OFFSET_WEST;

impl Run {
    fn overlaps(&self, range: &TimeRange, zone: chrono_tz::Tz) -> Option<Scan> {
        let Stored { start, end, start_floats, end_floats } = self.first;
        // Identical instances need one test.
        let more = if self.step > 0 { self.more } else { 0 };
        // Skip, by arithmetic, the instances that end more than the slack before the range
        // starts: an instance passes only if its later end reaches the range start.
        let mut k = 0;
        if let (Some(range_start), true) = (range.start, self.step > 0) {
            let behind = range_start.checked_sub(SLACK)?.checked_sub(start.max(end))?;
            if behind > 0 {
                k = u64::try_from(behind.div_euclid(self.step)).ok()?;
            }
        }
        while k <= more {
            let shift = self.step.checked_mul(i64::try_from(k).ok()?)?;
            let (s, e) = (start.checked_add(shift)?, end.checked_add(shift)?);
            // Sorted by stored start, so once one starts past the end with the slack, all
            // later ones do too.
            if range.end.is_some_and(|range_end| s - SLACK >= range_end) {
                return Some(Scan::PastTheEnd);
            }
            if event_passes(range, instant(s, start_floats, zone), instant(e, end_floats, zone)) {
                return Some(Scan::Found);
            }
            k += 1;
        }
        Some(Scan::NotHere)
    }
}

/// A stored value's instant: as stored when fixed, else its wall clock read in `zone` as
/// `CalTime::utc_in` reads it.
fn instant(value: Timestamp, floats: bool, zone: chrono_tz::Tz) -> Timestamp {
    if !floats {
        return value;
    }
    match chrono::DateTime::from_timestamp(value, 0) {
        Some(t) => resolve_local(zone, t.naive_utc()).timestamp(),
        None => value,
    }
}

fn flags(s: &Stored) -> u64 {
    (if s.start_floats { START_FLOATS } else { 0 }) | (if s.end_floats { END_FLOATS } else { 0 })
}

/// Per run three LEB128 varints: the first start's distance from the previous run's last
/// start (zigzag), its length's difference from the previous run's length (zigzag, shifted
/// past the two float bits), and how many more instances follow at that same distance each.
fn encode(instances: &[Stored]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(16);
    out.push(VERSION);
    let (mut start, mut length) = (0i64, 0i64);
    let mut rest = instances;
    while let Some((first, after)) = rest.split_first() {
        let step = first.start.checked_sub(start)?;
        let first_length = first.end.checked_sub(first.start)?;
        // The run goes on while each instance follows the previous by `step` with the same
        // length and kind.
        let mut previous = first;
        let same = after
            .iter()
            .take_while(|s| {
                let follows = s.start.checked_sub(previous.start) == Some(step)
                    && s.end.checked_sub(s.start) == Some(first_length)
                    && flags(s) == flags(first);
                previous = s;
                follows
            })
            .count();
        put_varint(&mut out, zigzag(step));
        put_varint(&mut out, zigzag(first_length.checked_sub(length)?).checked_mul(4)? | flags(first));
        put_varint(&mut out, u64::try_from(same).ok()?);
        start = first.start.checked_add(step.checked_mul(i64::try_from(same).ok()?)?)?;
        length = first_length;
        rest = &after[same..];
    }
    Some(out)
}

/// Decodes runs in order; an item is `None` when the bytes are malformed.
struct Reader<'a> {
    bytes: &'a [u8],
    /// The previous run's last start and its length, which the next run's are relative to.
    start: Timestamp,
    length: i64,
}

impl Iterator for Reader<'_> {
    type Item = Option<Run>;

    fn next(&mut self) -> Option<Option<Run>> {
        if self.bytes.is_empty() {
            return None;
        }
        Some(self.read())
    }
}

impl Reader<'_> {
    fn read(&mut self) -> Option<Run> {
        let step = unzigzag(self.varint()?);
        let start = self.start.checked_add(step)?;
        let tagged = self.varint()?;
        let more = self.varint()?;
        let length = self.length.checked_add(unzigzag(tagged >> 2))?;
        let end = start.checked_add(length)?;
        self.start = start.checked_add(step.checked_mul(i64::try_from(more).ok()?)?)?;
        self.length = length;
        let first = Stored { start, end, start_floats: tagged & START_FLOATS != 0, end_floats: tagged & END_FLOATS != 0 };
        Some(Run { first, step, more })
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.bytes.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Some(value);
            }
        }
        // Truncated, or longer than any u64: unreadable, and nothing further is read.
        self.bytes = &[];
        None
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
