//! Property: whatever sequence of edits the organizer makes (and answers the attendees give in
//! between), delivering every message the domain produces leaves each attendee's copy showing
//! what the organizer's copy says about them: the same instances, at the same times, with the
//! same SUMMARY and their own PARTSTAT. Seeded, so a failure replays.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::organizer::ZONE;
use super::*;
use crate::calendar::instances::expand_object;
use crate::calendar::recur::Window;
use crate::sched::{apply_cancel, apply_reply, apply_request, attendee_change, organizer_change, refresh_others};

const PEOPLE: [&str; 4] = ["a", "b", "c", "d"];
const ANSWERS: [&str; 3] = ["ACCEPTED", "DECLINED", "TENTATIVE"];

#[derive(Debug, Clone)]
struct Over {
    shift: u32,
    attendees: Vec<&'static str>,
    summary: String,
    cancelled: bool,
}

/// What the organizer's client shows: a daily series of seven in July 2024.
#[derive(Debug, Clone)]
struct Model {
    hour: u32,
    minutes: u32,
    summary: String,
    location: Option<String>,
    attendees: Vec<&'static str>,
    exdates: BTreeSet<u32>,
    overrides: BTreeMap<u32, Over>,
    bump: bool,
}

fn rid(hour: u32, day: u32) -> String {
    format!("202407{:02}T{hour:02}0000", day + 1)
}

impl Model {
    /// The organizer's PUT: the model, with the PARTSTATs and SEQUENCE the client last read.
    fn render(&self, stored: Option<&str>) -> String {
        let stored = stored.map(items).unwrap_or_default();
        let seq = stored.first().and_then(|m| m.value("SEQUENCE")).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0) + i64::from(self.bump);
        let answer = |rid: Option<&str>, who: &str| {
            let c = stored.iter().find(|c| c.value("RECURRENCE-ID") == rid).or(stored.first());
            c.map(|c| partstat_of(c, &format!("mailto:{who}@x.org"))).filter(|p| !p.is_empty()).unwrap_or_else(|| "NEEDS-ACTION".into())
        };
        let people = |rid: Option<&str>, list: &[&str]| -> String {
            list.iter().map(|p| format!("ATTENDEE;PARTSTAT={}:mailto:{p}@x.org\r\n", answer(rid, p))).collect()
        };
        let mut out = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//model//EN\r\n{ZONE}BEGIN:VEVENT\r\nUID:prop\r\nDTSTAMP:20240601T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:{}\r\nDURATION:PT{}M\r\nRRULE:FREQ=DAILY;COUNT=7\r\nSUMMARY:{}\r\nSEQUENCE:{seq}\r\n\
ORGANIZER:mailto:o@x.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x.org\r\n{}",
            rid(self.hour, 0),
            self.minutes,
            self.summary,
            people(None, &self.attendees)
        );
        for day in &self.exdates {
            out.push_str(&format!("EXDATE;TZID=Europe/Berlin:{}\r\n", rid(self.hour, *day)));
        }
        if let Some(location) = &self.location {
            out.push_str(&format!("LOCATION:{location}\r\n"));
        }
        out.push_str("END:VEVENT\r\n");
        for (day, o) in &self.overrides {
            let r = rid(self.hour, *day);
            out.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:prop\r\nDTSTAMP:20240601T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:{r}\r\n\
DTSTART;TZID=Europe/Berlin:{}\r\nDURATION:PT{}M\r\nSUMMARY:{}\r\nSEQUENCE:{seq}\r\nORGANIZER:mailto:o@x.org\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:o@x.org\r\n{}{}END:VEVENT\r\n",
                rid(self.hour + o.shift, *day),
                self.minutes,
                o.summary,
                people(Some(&r), &o.attendees),
                if o.cancelled { "STATUS:CANCELLED\r\n" } else { "" }
            ));
        }
        out.push_str("END:VCALENDAR\r\n");
        out
    }

    fn edit(&mut self, rng: &mut StdRng, step: usize) {
        self.bump = rng.random_bool(0.15);
        let day = rng.random_range(0..7u32);
        let who = PEOPLE[rng.random_range(0..PEOPLE.len())];
        match rng.random_range(0..10) {
            0 => self.summary = format!("Sync {step}"),
            1 => {
                self.hour = rng.random_range(8..15);
                self.overrides.clear();
                self.exdates.clear();
            }
            2 => self.minutes = [15, 30, 45, 60][rng.random_range(0..4)],
            3 if !self.attendees.contains(&who) => self.attendees.push(who),
            4 => self.attendees.retain(|p| *p != who),
            5 | 6 if !self.exdates.contains(&day) => {
                let attendees = PEOPLE.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
                let shift = rng.random_range(0..3);
                self.overrides.insert(day, Over { shift, attendees, summary: format!("Moved {step}"), cancelled: false });
            }
            7 => {
                self.overrides.remove(&day);
            }
            8 => {
                self.overrides.remove(&day);
                if !self.exdates.insert(day) {
                    self.exdates.remove(&day);
                }
            }
            _ => match self.overrides.get_mut(&day) {
                Some(o) => o.cancelled = !o.cancelled,
                None => self.location = Some(format!("Room {step}")),
            },
        }
    }
}

/// Everyone's copies, and delivery of messages to them.
struct World {
    organizer: String,
    copies: BTreeMap<Address, String>,
    delivered: usize,
}

impl World {
    fn deliver(&mut self, messages: Vec<Message>) {
        for m in messages {
            check_message(&m);
            self.delivered += 1;
            let existing = self.copies.get(&m.recipient).map(String::as_str);
            let applied = match m.method {
                Method::Request => apply_request(&m.text, existing, &m.recipient, NOW).unwrap(),
                Method::Cancel => apply_cancel(&m.text, existing).unwrap(),
                Method::Reply => {
                    let after = stored(apply_reply(&m.text, &self.organizer, NOW).unwrap());
                    self.organizer = after;
                    let refresh = refresh_others(&self.organizer, &m.originator, NOW);
                    self.deliver(refresh);
                    continue;
                }
                other => panic!("unexpected {other:?}"),
            };
            self.copies.insert(m.recipient.clone(), stored(applied));
        }
    }

    /// An attendee answers one instance of their copy: PARTSTAT on a component, or an EXDATE.
    fn answer(&mut self, rng: &mut StdRng) {
        let Some(who) = self.copies.keys().nth(rng.random_range(0..self.copies.len().max(1))).cloned() else { return };
        let copy = self.copies[&who].clone();
        let mut parsed = text::parse(&copy).unwrap();
        let targets: Vec<usize> = (0..parsed.children.len())
            .filter(|&i| parsed.children[i].name == "VEVENT" && parsed.children[i].value("STATUS").is_none())
            .filter(|&i| parsed.children[i].props_named("ATTENDEE").any(|p| who.is(p.value())))
            .collect();
        let Some(&at) = targets.get(rng.random_range(0..targets.len().max(1))) else { return };
        let target = &mut parsed.children[at];
        let exdate_day = rng.random_range(0..7u32);
        if target.prop("RRULE").is_some() && rng.random_bool(0.25) {
            let start = target.value("DTSTART").unwrap_or_default().to_owned();
            let value = format!("202407{:02}{}", exdate_day + 1, &start[8..]);
            let mut p = text::Prop::new("EXDATE", &value);
            p.set_param("TZID", "Europe/Berlin");
            target.props.push(p);
            // As clients do (RFC 6638 B.8): the excluded instance's override goes too.
            parsed.children.retain(|c| c.value("RECURRENCE-ID") != Some(value.as_str()));
        } else if let Some(line) = target.props.iter_mut().find(|p| p.name == "ATTENDEE" && who.is(p.value())) {
            line.set_param("PARTSTAT", ANSWERS[rng.random_range(0..ANSWERS.len())]);
        }
        let plan = attendee_change(Some(&copy), &text::write(&parsed, true), std::slice::from_ref(&who), NOW).unwrap();
        self.copies.insert(who, plan.store);
        self.deliver(plan.messages);
    }
}

/// (RECURRENCE-ID, start, end, SUMMARY, PARTSTAT) of each instance `who` takes part in.
fn instances_of(text: &str, who: &Address) -> BTreeSet<(Option<i64>, i64, i64, String, String)> {
    let window = Window { start: Some(1_719_000_000), end: Some(1_721_000_000) };
    let parsed = cal(text);
    let mut out = BTreeSet::new();
    for i in expand_object(text.as_bytes(), window, chrono_tz::UTC, 100).unwrap() {
        let c = &parsed.children[i.component];
        assert_eq!(c.name, "VEVENT");
        let Some(p) = c.props_named("ATTENDEE").find(|p| who.is(p.value())) else { continue };
        if i.cancelled {
            continue;
        }
        let summary = c.value("SUMMARY").unwrap_or_default().to_owned();
        out.insert((i.recurrence_id, i.start.unwrap_or(0), i.end.unwrap_or(0), summary, p.param("PARTSTAT").unwrap_or("NEEDS-ACTION").to_owned()));
    }
    out
}

fn check_views(world: &World, context: &str) {
    for person in PEOPLE {
        let who = addr(&format!("mailto:{person}@x.org"));
        let expected = instances_of(&world.organizer, &who);
        let got = world.copies.get(&who).map(|c| instances_of(c, &who)).unwrap_or_default();
        let extra: Vec<_> = got.difference(&expected).collect();
        let missing: Vec<_> = expected.difference(&got).filter(|i| i.4 != "DECLINED").collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{context}: {person} sees {extra:?} the organizer does not, misses {missing:?}\norganizer:\n{}\ncopy:\n{}",
            world.organizer,
            world.copies.get(&who).map(String::as_str).unwrap_or("(none)")
        );
    }
}

#[test]
fn attendees_copies_follow_the_organizer() {
    let owner = [addr("mailto:o@x.org")];
    let mut total = 0;
    for seed in 0..40u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = Model {
            hour: 10,
            minutes: 30,
            summary: "Sync".into(),
            location: None,
            attendees: vec!["a", "b"],
            exdates: BTreeSet::new(),
            overrides: BTreeMap::new(),
            bump: false,
        };
        let first = model.render(None);
        let plan = organizer_change(None, &first, &owner, NOW).unwrap();
        let mut world = World { organizer: plan.store, copies: BTreeMap::new(), delivered: 0 };
        world.deliver(plan.messages);
        check_views(&world, &format!("seed {seed}, creation"));
        for step in 0..25 {
            if rng.random_bool(0.3) {
                world.answer(&mut rng);
                check_views(&world, &format!("seed {seed}, step {step}, an answer"));
            }
            let before = model.clone();
            model.edit(&mut rng, step);
            let new = model.render(Some(&world.organizer));
            let plan = organizer_change(Some(&world.organizer), &new, &owner, NOW).unwrap();
            let stored_seq = |t: &str| items(t).iter().filter_map(|c| c.value("SEQUENCE")?.parse::<i64>().ok()).max().unwrap_or(0);
            assert!(stored_seq(&plan.store) >= stored_seq(&world.organizer), "SEQUENCE went down");
            world.organizer = plan.store;
            world.deliver(plan.messages);
            check_views(&world, &format!("seed {seed}, step {step}, {before:?} -> {model:?}"));
        }
        total += world.delivered;
    }
    assert!(total > 1_000, "only {total} messages: the edits do not exercise delivery");
}
