//! The alarms of one parsed object, read once, and the fires they give in a time window.

use chrono_tz::Tz;

use super::{AlarmAction, AlarmContext, AlarmError, Fire, Occasion};
use crate::calendar::filter::TimeRange;
use crate::calendar::ical::{Component, Line, unescape_text};
use crate::calendar::model::{Alarm, Timing, Trigger, lenient_date_time};
use crate::calendar::query::{ExactTimes, Listed};
use crate::calendar::time::{CalTime, Length, Zone};
use crate::calendar::{ComponentKind, Timestamp};

/// Apple writes ACTION:NONE alarms with TRIGGER 19760401T005545Z as a "no default alarm"
/// sentinel (RFC 9074 names ACTION:NONE); any absolute trigger before 1980-01-01 is taken as one.
const SENTINEL_BEFORE: Timestamp = 315_532_800;

/// A day-based (nominal) offset can differ from its length in seconds by a DST change (at most
/// two hours anywhere); the instance window is widened by this much on each side.
const NOMINAL_SLACK: i64 = 3 * 3_600;

/// Thunderbird's snooze of one occurrence: `X-MOZ-SNOOZE-TIME-<PRTime of its RECURRENCE-ID>`.
const MOZ_SNOOZE: &str = "X-MOZ-SNOOZE-TIME";

/// One VALARM that can fire.
struct AlarmSpec {
    action: AlarmAction,
    alarm: Alarm,
    /// RFC 9074 §6 ACKNOWLEDGED: fires at or before it were dealt with.
    acknowledged: Option<Timestamp>,
    summary: Option<String>,
    description: Option<String>,
    attendees: Vec<String>,
}

/// A VEVENT or VTODO directly inside the VCALENDAR, with what decides its fires.
struct MemberAlarms {
    /// Cancelled, a completed to-do, or declined by the owner: nothing of it fires.
    off: bool,
    uid: String,
    is_master: bool,
    /// The override's RECURRENCE-ID in UTC; `None` for a master.
    own_instance: Option<Timestamp>,
    /// X-MOZ-LASTACK: fires at or before it were dismissed in Thunderbird.
    last_ack: Option<Timestamp>,
    alarms: Vec<AlarmSpec>,
    /// RELATED=END has an end to relate to (RFC 5545 §3.8.6.3).
    has_end: bool,
    /// A to-do without DTSTART: not in the listing's instances, anchored on DUE alone.
    undated_due: Option<CalTime>,
    /// Relative alarms on an RRULE without COUNT or UNTIL.
    endless: bool,
    /// The component as written, for absolute triggers and snoozes.
    occasion: Occasion,
}

/// A Thunderbird snooze: a DISPLAY fire at `at` for `instance`, described by member `member`.
struct Snooze {
    member: usize,
    instance: Option<Timestamp>,
    at: Timestamp,
    /// For an occurrence of the master: its start, and the master's length, in UTC seconds.
    moved_to: Option<Timestamp>,
}

/// The alarm facts of one object, over the query oracle that lists its instances.
pub(super) struct Schedule<'t, 'a> {
    times: &'t ExactTimes<'a>,
    zone: Tz,
    max_instances: usize,
    members: Vec<Option<MemberAlarms>>,
    snoozes: Vec<Snooze>,
    /// The earliest and latest offset, in seconds, of a relative fire from its anchor.
    reach: Option<(i64, i64)>,
    /// Whether any relative offset counts nominal days.
    nominal: bool,
}

impl<'t, 'a> Schedule<'t, 'a> {
    pub(super) fn new(root: &Component, times: &'t ExactTimes<'a>, ctx: &AlarmContext) -> Result<Self, AlarmError> {
        let mut s = Schedule {
            times,
            zone: ctx.zone,
            max_instances: ctx.max_instances,
            members: Vec::with_capacity(times.member_slots()),
            snoozes: Vec::new(),
            reach: None,
            nominal: false,
        };
        for (index, component) in root.children.iter().enumerate().take(times.member_slots()) {
            let member = match times.member_facts(index) {
                Some((kind @ (ComponentKind::Event | ComponentKind::Todo), timing)) => {
                    Some(s.member(index, component, kind, timing, ctx.owner_addresses)?)
                }
                _ => None,
            };
            s.members.push(member);
        }
        s.inherit_last_ack();
        for (index, component) in root.children.iter().enumerate() {
            s.read_snoozes(index, component);
        }
        Ok(s)
    }

    /// Whether a relative alarm rides on an endless recurrence: then something always fires later.
    pub(super) fn endless(&self) -> bool {
        self.members.iter().flatten().any(|m| m.endless)
    }

    /// Every fire with `after < at <= until` (`None`: no end), sorted by (at, key), one per
    /// (instance, key).
    pub(super) fn fires(&self, after: Timestamp, until: Option<Timestamp>) -> Result<Vec<Fire>, AlarmError> {
        let mut out = Vec::new();
        if let Some((first, last)) = self.reach {
            let slack = if self.nominal { NOMINAL_SLACK } else { 0 } + 1;
            // Anchors between after - last and until - first give fires in (after, until].
            let range = TimeRange {
                start: Some(after.saturating_sub(last).saturating_sub(slack)),
                end: until.map(|u| u.saturating_sub(first).saturating_add(slack)),
            };
            for listed in self.times.listing(&range)? {
                self.instance_fires(&listed, after, until, &mut out)?;
            }
        }
        for m in self.members.iter().flatten().filter(|m| !m.off) {
            for spec in &m.alarms {
                match spec.alarm.trigger {
                    Trigger::Absolute(at) => {
                        let at = self.fixed(at);
                        if at.utc_in(self.zone) >= SENTINEL_BEFORE {
                            self.push_fires(m, spec, at, m.own_instance, &m.occasion, after, until, &mut out)?;
                        }
                    }
                    // A to-do without DTSTART is no listed instance: RELATED=END relates to its
                    // DUE, RELATED=START to nothing (RFC 5545 §3.8.6.3), so it does not fire,
                    // although the CalDAV VALARM time-range (query.rs, after RFC 4791 §7.8.5's
                    // example) anchors both on DUE.
                    Trigger::Relative { offset, from_end: true } => {
                        if let Some(due) = m.undated_due {
                            let first = self.fixed(due).plus(offset);
                            self.push_fires(m, spec, first, m.own_instance, &m.occasion, after, until, &mut out)?;
                        }
                    }
                    Trigger::Relative { .. } => {}
                }
            }
        }
        for snooze in &self.snoozes {
            self.snooze_fire(snooze, after, until, &mut out);
        }
        // Stable: among equal (at, key, instance), the first alarm in the object wins.
        out.sort_by(|a, b| (a.at, &a.key, a.instance).cmp(&(b.at, &b.key, b.instance)));
        out.dedup_by(|b, a| a.at == b.at && a.key == b.key && a.instance == b.instance);
        Ok(out)
    }

    /// The relative alarms of the component describing one listed instance.
    fn instance_fires(&self, listed: &Listed, after: Timestamp, until: Option<Timestamp>, out: &mut Vec<Fire>) -> Result<(), AlarmError> {
        let (Some(m), Some(occ)) = (self.members.get(listed.member).and_then(Option::as_ref), listed.occurrence) else {
            return Ok(());
        };
        if m.off {
            return Ok(());
        }
        let instance = listed.original.map(|t| self.times.instant(&t));
        let occasion = Occasion {
            start: Some(self.times.instant(&occ.start)),
            end: Some(self.times.instant(&occ.end)),
            all_day: occ.start.is_date,
            zone: zone_name(&occ.start, self.zone),
            ..m.occasion.clone()
        };
        for spec in &m.alarms {
            let Trigger::Relative { offset, from_end } = spec.alarm.trigger else { continue };
            if from_end && !m.has_end {
                continue;
            }
            let anchor = if from_end { occ.end } else { occ.start };
            let first = self.fixed(anchor).plus(offset);
            self.push_fires(m, spec, first, instance, &occasion, after, until, out)?;
        }
        Ok(())
    }

    /// The fires of one alarm from its first trigger `first` (REPEAT more, DURATION apart) that
    /// fall in (after, until] and are not acknowledged.
    #[allow(clippy::too_many_arguments)]
    fn push_fires(
        &self,
        m: &MemberAlarms,
        spec: &AlarmSpec,
        first: CalTime,
        instance: Option<Timestamp>,
        occasion: &Occasion,
        after: Timestamp,
        until: Option<Timestamp>,
        out: &mut Vec<Fire>,
    ) -> Result<(), AlarmError> {
        let interval = spec.alarm.interval;
        // A REPEAT without a DURATION repeats at the same instant: one fire.
        let last = if interval == Length::ZERO { 0 } else { i64::from(spec.alarm.repeat) };
        let at = |k: i64| {
            let step = Length::new(interval.days.saturating_mul(k), interval.seconds.saturating_mul(k));
            first.plus(step).utc_in(self.zone)
        };
        let past_until = |t: Timestamp| until.is_some_and(|u| t > u);
        // The trigger times are monotone in k (a DURATION's parts share its sign, and whole
        // days keep their order across DST), so the k in the window form one run.
        let (lo, hi) = if interval.is_negative() {
            (first_index(last, |k| !past_until(at(k))), first_index(last, |k| at(k) <= after))
        } else {
            (first_index(last, |k| at(k) > after), first_index(last, |k| past_until(at(k))))
        };
        let (lo, hi) = (lo.unwrap_or(last + 1), hi.unwrap_or(last + 1));
        if hi.saturating_sub(lo) > i64::try_from(self.max_instances).unwrap_or(i64::MAX) {
            return Err(AlarmError::TooManyInstances);
        }
        for k in lo..hi {
            let t = at(k);
            let acknowledged = spec.acknowledged.is_some_and(|a| a >= t) || m.last_ack.is_some_and(|a| a >= t);
            if !acknowledged {
                out.push(Fire {
                    at: t,
                    action: spec.action,
                    instance,
                    key: key(spec.action, t),
                    summary: spec.summary.clone(),
                    description: spec.description.clone(),
                    attendees: spec.attendees.clone(),
                    occasion: occasion.clone(),
                });
            }
        }
        Ok(())
    }

    fn snooze_fire(&self, s: &Snooze, after: Timestamp, until: Option<Timestamp>, out: &mut Vec<Fire>) {
        let Some(m) = self.members.get(s.member).and_then(Option::as_ref) else { return };
        let in_window = s.at > after && until.is_none_or(|u| s.at <= u);
        if m.off || !in_window || m.last_ack.is_some_and(|a| a >= s.at) {
            return;
        }
        let mut occasion = m.occasion.clone();
        if let (Some(to), Some(start)) = (s.moved_to, occasion.start) {
            occasion.end = occasion.end.map(|e| e - start + to);
            occasion.start = Some(to);
        }
        out.push(Fire {
            at: s.at,
            action: AlarmAction::Display,
            instance: s.instance,
            key: key(AlarmAction::Display, s.at),
            summary: None,
            description: None,
            attendees: Vec::new(),
            occasion,
        });
    }

    /// A DATE or floating anchor as a time in the context zone (RFC 4791 §7.3), so that exact
    /// offsets are added to the instant that zone gives.
    fn fixed(&self, t: CalTime) -> CalTime {
        if t.is_date || t.zone == Zone::Floating {
            CalTime { local: t.local, zone: Zone::Iana(self.zone), is_date: false }
        } else {
            t
        }
    }

    fn utc_prop(&self, c: &Component, name: &str) -> Option<Timestamp> {
        c.prop(name).and_then(|l| self.utc_value(l))
    }

    fn utc_value(&self, line: &Line) -> Option<Timestamp> {
        lenient_date_time(&line.value).map(|t| t.utc_in(self.zone))
    }

    fn member(
        &mut self,
        index: usize,
        c: &Component,
        kind: ComponentKind,
        timing: &Timing<'_>,
        owners: &[String],
    ) -> Result<MemberAlarms, AlarmError> {
        let status = c.prop("STATUS").map(|l| l.value.trim().to_ascii_uppercase());
        // RFC 5545 §3.8.1.11, §3.8.2.1: a finished or called-off to-do reminds of nothing.
        let done = kind == ComponentKind::Todo && (status.as_deref() == Some("COMPLETED") || c.prop("COMPLETED").is_some());
        let off = timing.cancelled || done || declined(c, owners);
        let mut alarms = Vec::new();
        for (position, child) in c.children.iter().enumerate() {
            if child.name != "VALARM" {
                continue;
            }
            let Some(action) = child.prop("ACTION").and_then(|l| AlarmAction::parse(&l.value)) else { continue };
            let Some(alarm) = self.times.read_alarm(index, position)? else { continue };
            let text = |name: &str| child.prop(name).map(|l| unescape_text(&l.value));
            alarms.push(AlarmSpec {
                action,
                alarm,
                acknowledged: self.utc_prop(child, "ACKNOWLEDGED"),
                summary: text("SUMMARY"),
                description: text("DESCRIPTION"),
                attendees: if action == AlarmAction::Email {
                    child.props_named("ATTENDEE").map(|l| l.value.trim().to_owned()).collect()
                } else {
                    Vec::new()
                },
            });
        }
        let mut relative = false;
        for spec in &alarms {
            if let Trigger::Relative { offset, .. } = spec.alarm.trigger {
                relative = true;
                let a = spec.alarm;
                let first = offset.approx_seconds();
                let last = first.saturating_add(a.interval.approx_seconds().saturating_mul(i64::from(a.repeat)));
                let (lo, hi) = self.reach.unwrap_or((first, first));
                self.reach = Some((lo.min(first).min(last), hi.max(first).max(last)));
                self.nominal |= offset.days != 0 || (a.repeat > 0 && a.interval.days != 0);
            }
        }
        let has_end = match kind {
            ComponentKind::Event => timing.dtend.is_some() || timing.duration.is_some(),
            _ => timing.due.is_some() || (timing.dtstart.is_some() && timing.duration.is_some()),
        };
        let endless = relative && timing.rrules.iter().any(|r| r.count.is_none() && r.until.is_none());
        Ok(MemberAlarms {
            off,
            uid: timing.uid.unwrap_or_default().to_owned(),
            is_master: timing.recurrence_id.is_none(),
            own_instance: timing.recurrence_id.map(|t| self.times.instant(&t)),
            last_ack: self.utc_prop(c, "X-MOZ-LASTACK"),
            alarms,
            has_end,
            undated_due: if timing.dtstart.is_none() && kind == ComponentKind::Todo { timing.due } else { None },
            endless,
            occasion: self.occasion_of(c, kind, timing),
        })
    }

    /// The component as written: DTSTART and its end (DTEND, DURATION, DUE, or the implied
    /// length of RFC 5545 §3.6.1 for an event).
    fn occasion_of(&self, c: &Component, kind: ComponentKind, t: &Timing<'_>) -> Occasion {
        let start = t.dtstart;
        let end = match kind {
            ComponentKind::Event => t.dtend.or_else(|| {
                start.map(|s| s.plus(t.duration.unwrap_or(if s.is_date { Length::ONE_DAY } else { Length::ZERO })))
            }),
            _ => t.due.or_else(|| start.zip(t.duration).map(|(s, d)| s.plus(d))),
        };
        let text = |name: &str| c.prop(name).map(|l| unescape_text(&l.value));
        Occasion {
            uid: t.uid.unwrap_or_default().to_owned(),
            kind,
            summary: text("SUMMARY"),
            location: text("LOCATION"),
            description: text("DESCRIPTION"),
            start: start.map(|s| self.times.instant(&s)),
            end: end.map(|e| self.times.instant(&e)),
            all_day: start.is_some_and(|s| s.is_date),
            zone: start.or(end).map_or_else(|| self.zone.name().to_owned(), |s| zone_name(&s, self.zone)),
        }
    }

    /// An override's fires are also covered by its master's X-MOZ-LASTACK (see the module doc).
    fn inherit_last_ack(&mut self) {
        let masters: Vec<(String, Timestamp)> = self
            .members
            .iter()
            .flatten()
            .filter(|m| m.is_master)
            .filter_map(|m| m.last_ack.map(|a| (m.uid.clone(), a)))
            .collect();
        for m in self.members.iter_mut().flatten().filter(|m| !m.is_master) {
            if let Some((_, a)) = masters.iter().find(|(uid, _)| *uid == m.uid) {
                m.last_ack = Some(m.last_ack.map_or(*a, |own| own.max(*a)));
            }
        }
    }

    /// Thunderbird's snoozes on member `index`: `X-MOZ-SNOOZE-TIME` for the component's own
    /// instance, `X-MOZ-SNOOZE-TIME-<n>` for the occurrence whose RECURRENCE-ID is n µs after
    /// the epoch (PRTime), described by its override when there is one.
    fn read_snoozes(&mut self, index: usize, c: &Component) {
        let Some(m) = self.members.get(index).and_then(Option::as_ref) else { return };
        let mut found = Vec::new();
        for line in &c.props {
            let Some(rest) = line.name.strip_prefix(MOZ_SNOOZE) else { continue };
            let Some(at) = self.utc_value(line) else { continue };
            if rest.is_empty() {
                found.push(Snooze { member: index, instance: m.own_instance, at, moved_to: None });
            } else if let Some(rid) = rest.strip_prefix('-').and_then(|n| n.parse::<i64>().ok()).map(|n| n.div_euclid(1_000_000)) {
                let describer = self.members.iter().position(|o| {
                    o.as_ref().is_some_and(|o| !o.is_master && o.uid == m.uid && o.own_instance == Some(rid))
                });
                found.push(match describer {
                    Some(o) => Snooze { member: o, instance: Some(rid), at, moved_to: None },
                    None => Snooze { member: index, instance: Some(rid), at, moved_to: Some(rid) },
                });
            }
        }
        self.snoozes.extend(found);
    }
}

fn key(action: AlarmAction, at: Timestamp) -> String {
    format!("{}@{at}", action.as_str())
}

/// Whether an ATTENDEE that is the owner said PARTSTAT=DECLINED (RFC 5545 §3.2.12).
fn declined(c: &Component, owners: &[String]) -> bool {
    c.props_named("ATTENDEE").any(|a| {
        a.param("PARTSTAT").is_some_and(|p| p.trim().eq_ignore_ascii_case("DECLINED"))
            && owners.iter().any(|o| bare_address(o).eq_ignore_ascii_case(bare_address(&a.value)))
    })
}

/// A calendar user address without its `mailto:` scheme.
fn bare_address(address: &str) -> &str {
    let address = address.trim();
    match address.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &address[7..],
        _ => address,
    }
}

/// The IANA name of the zone `t` is written in; the context zone for DATEs and floating times.
fn zone_name(t: &CalTime, context: Tz) -> String {
    if t.is_date {
        return context.name().to_owned();
    }
    match t.zone {
        Zone::Iana(tz) => tz.name().to_owned(),
        Zone::Utc => "UTC".to_owned(),
        Zone::Floating => context.name().to_owned(),
        // A numeric offset has no IANA name but a whole-hour one: Etc/GMT-1 is UTC+1.
        Zone::Fixed(offset) => {
            let seconds = offset.local_minus_utc();
            let hours = -seconds / 3600;
            if seconds % 3600 == 0 && seconds != 0 && (-12..=14).contains(&-hours) {
                format!("Etc/GMT{hours:+}")
            } else {
                "UTC".to_owned()
            }
        }
    }
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
