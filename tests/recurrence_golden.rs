//! Compares Kalends' expansion (`calendar::instances::expand_object`) with the golden
//! recurrence corpus in `fixtures/recurrence/`: for every case in `cases.toml`, the instances of
//! `cases/<name>.ics` in the case's window and calendar zone must equal
//! `expected/<name>.json`, which `conformance/recurrence/generate.py` computed independently of
//! Kalends (recurring-ical-events, plus the RFC corrections in `corrections.json`).
//!
//! Every case is compared and every differing case is printed before the test fails, so one
//! run shows the whole picture. The goldens are never rewritten here.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use kalends::calendar::ical;
use kalends::calendar::instances::{Instance, expand_object};
use kalends::calendar::recur::Window;

/// Far above any case's instance count: the corpus tests expansion, not the cap.
const MAX_INSTANCES: usize = 10_000;

const UTC_FORMAT: &str = "%Y%m%dT%H%M%SZ";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recurrence")
}

struct Case {
    name: String,
    description: String,
    start: String,
    end: String,
    zone: String,
}

/// One instance as the golden files write it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    // Field order is the sort order generate.py uses: start, uid, recurrence_id, end.
    start: String,
    uid: String,
    recurrence_id: Option<String>,
    end: String,
    all_day: bool,
    status: Option<String>,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} .. {}  uid={} recurrence_id={} all_day={} status={}",
            self.start,
            self.end,
            self.uid,
            self.recurrence_id.as_deref().unwrap_or("null"),
            self.all_day,
            self.status.as_deref().unwrap_or("null")
        )
    }
}

fn load_cases() -> Vec<Case> {
    let path = fixtures().join("cases.toml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let manifest: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    let cases = manifest
        .get("case")
        .and_then(|c| c.as_array())
        .expect("cases.toml has [[case]] tables");
    cases
        .iter()
        .map(|c| {
            let field = |key: &str| c.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let name = field("name").expect("every case has a name");
            let need = |key: &str| field(key).unwrap_or_else(|| panic!("case {name} has no {key}"));
            Case {
                description: need("description"),
                start: need("start"),
                end: need("end"),
                // RFC 4791 §7.3: without a calendar-timezone, floating times are read in UTC here.
                zone: field("zone").unwrap_or_else(|| "UTC".to_owned()),
                name,
            }
        })
        .collect()
}

fn timestamp(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, UTC_FORMAT)
        .unwrap_or_else(|e| panic!("{text} is not YYYYMMDDTHHMMSSZ: {e}"))
        .and_utc()
        .timestamp()
}

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map_or_else(
        || format!("out of range ({ts})"),
        |t| t.format(UTC_FORMAT).to_string(),
    )
}

/// Kalends' instances of one case as rows. STATUS is read from the component the instance
/// names (`Instance::component`), so a wrong component index shows up as a wrong status; the
/// `cancelled` flag must agree with it.
fn actual(case: &Case, data: &[u8]) -> Result<Vec<Row>, String> {
    let zone: chrono_tz::Tz = case
        .zone
        .parse()
        .map_err(|e| format!("zone {}: {e}", case.zone))?;
    let window = Window {
        start: Some(timestamp(&case.start)),
        end: Some(timestamp(&case.end)),
    };
    let instances = expand_object(data, window, zone, MAX_INSTANCES)
        .map_err(|e| format!("expand_object failed: {e:?}"))?;
    let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    let root = ical::parse(text)?
        .into_iter()
        .next()
        .ok_or("no VCALENDAR")?;
    let mut problems = Vec::new();
    let rows = instances
        .iter()
        .map(|i| {
            let row = row_of(i, &root);
            if i.cancelled != (row.status.as_deref() == Some("CANCELLED")) {
                problems.push(format!(
                    "cancelled={} but STATUS is {:?}: {row}",
                    i.cancelled, row.status
                ));
            }
            row
        })
        .collect();
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems.join("\n"))
    }
}

fn row_of(i: &Instance, root: &ical::Component) -> Row {
    let status = root
        .children
        .get(i.component)
        .and_then(|c| c.prop("STATUS"))
        .map(|l| l.value.trim().to_ascii_uppercase());
    Row {
        uid: i.uid.clone(),
        recurrence_id: i.recurrence_id.map(utc),
        start: i.start.map_or_else(|| "none".to_owned(), utc),
        end: i.end.map_or_else(|| "none".to_owned(), utc),
        all_day: i.all_day,
        status,
    }
}

fn expected(case: &Case) -> Vec<Row> {
    let path = fixtures()
        .join("expected")
        .join(format!("{}.json", case.name));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (run conformance/recurrence/generate.py --write)",
            path.display()
        )
    });
    let golden = json::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        golden.get("case").and_then(json::Value::as_str),
        Some(case.name.as_str()),
        "{}",
        path.display()
    );
    let instances = golden
        .get("instances")
        .and_then(json::Value::as_array)
        .unwrap_or_else(|| panic!("{}: no instances", path.display()));
    instances
        .iter()
        .map(|v| {
            let text = |key: &str| v.get(key).and_then(json::Value::as_str).map(str::to_owned);
            let need = |key: &str| {
                text(key).unwrap_or_else(|| panic!("{}: an instance has no {key}", path.display()))
            };
            Row {
                uid: need("uid"),
                recurrence_id: text("recurrence_id"),
                start: need("start"),
                end: need("end"),
                all_day: v
                    .get("all_day")
                    .and_then(json::Value::as_bool)
                    .unwrap_or_else(|| panic!("{}: all_day", path.display())),
                status: text("status"),
            }
        })
        .collect()
}

/// The rows only in `want` (missing) and only in `got` (unexpected), as a readable diff.
fn diff(want: &[Row], got: &[Row]) -> String {
    let mut out = String::new();
    let mut rest = got.to_vec();
    for row in want {
        match rest.iter().position(|g| g == row) {
            Some(i) => {
                rest.remove(i);
            }
            None => out.push_str(&format!("    - expected, missing: {row}\n")),
        }
    }
    for row in rest {
        out.push_str(&format!("    + actual, unexpected: {row}\n"));
    }
    out
}

#[test]
fn kalends_expansion_matches_every_golden_case() {
    let cases = load_cases();
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names.len(),
        cases.len(),
        "case names in cases.toml must be unique"
    );
    for entry in
        std::fs::read_dir(fixtures().join("expected")).expect("read fixtures/recurrence/expected")
    {
        let path = entry.expect("list expected/").path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert!(
            names.contains(stem),
            "{} belongs to no case in cases.toml",
            path.display()
        );
    }

    let mut failed = Vec::new();
    for case in &cases {
        let ics = fixtures().join("cases").join(format!("{}.ics", case.name));
        let data = std::fs::read(&ics).unwrap_or_else(|e| panic!("read {}: {e}", ics.display()));
        let mut want = expected(case);
        want.sort();
        let report = match actual(case, &data) {
            Ok(mut got) => {
                got.sort();
                (got != want).then(|| diff(&want, &got))
            }
            Err(why) => Some(format!("    {}\n", why.replace('\n', "\n    "))),
        };
        if let Some(report) = report {
            println!(
                "FAIL {} [{} .. {}, zone {}]: {}\n{report}",
                case.name, case.start, case.end, case.zone, case.description
            );
            failed.push(case.name.as_str());
        }
    }
    println!(
        "recurrence golden: {} passed, {} failed",
        cases.len() - failed.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {} golden cases differ: {}",
        failed.len(),
        cases.len(),
        failed.join(", ")
    );
}

/// A reader for the golden files' JSON (objects, arrays, strings, booleans, null; the format
/// has no numbers), since the crate has no JSON dependency.
mod json {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Str(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::Str(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_bool(&self) -> Option<bool> {
            match self {
                Value::Bool(b) => Some(*b),
                _ => None,
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Array(items) => Some(items),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            chars: text.char_indices().peekable(),
        };
        let value = p.value()?;
        p.skip_space();
        match p.chars.next() {
            None => Ok(value),
            Some((at, c)) => Err(format!("unexpected {c:?} at byte {at} after the value")),
        }
    }

    struct Parser<'a> {
        chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    }

    impl Parser<'_> {
        fn skip_space(&mut self) {
            while self
                .chars
                .next_if(|(_, c)| c.is_ascii_whitespace())
                .is_some()
            {}
        }

        fn expect(&mut self, want: char) -> Result<(), String> {
            self.skip_space();
            match self.chars.next() {
                Some((_, c)) if c == want => Ok(()),
                Some((at, c)) => Err(format!("expected {want:?}, found {c:?} at byte {at}")),
                None => Err(format!("expected {want:?}, found the end")),
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.skip_space();
            match self.chars.peek().copied() {
                Some((_, '{')) => self.object(),
                Some((_, '[')) => self.array(),
                Some((_, '"')) => self.string().map(Value::Str),
                Some((_, 't')) => self.word("true", Value::Bool(true)),
                Some((_, 'f')) => self.word("false", Value::Bool(false)),
                Some((_, 'n')) => self.word("null", Value::Null),
                Some((at, c)) => Err(format!("unexpected {c:?} at byte {at}")),
                None => Err("unexpected end".into()),
            }
        }

        fn word(&mut self, word: &str, value: Value) -> Result<Value, String> {
            for want in word.chars() {
                self.expect(want)?;
            }
            Ok(value)
        }

        fn object(&mut self) -> Result<Value, String> {
            self.expect('{')?;
            let mut members = Vec::new();
            self.skip_space();
            if self.chars.next_if(|(_, c)| *c == '}').is_some() {
                return Ok(Value::Object(members));
            }
            loop {
                self.skip_space();
                let key = self.string()?;
                self.expect(':')?;
                members.push((key, self.value()?));
                self.skip_space();
                match self.chars.next() {
                    Some((_, ',')) => continue,
                    Some((_, '}')) => return Ok(Value::Object(members)),
                    other => {
                        return Err(format!(
                            "expected ',' or '}}' in an object, found {other:?}"
                        ));
                    }
                }
            }
        }

        fn array(&mut self) -> Result<Value, String> {
            self.expect('[')?;
            let mut items = Vec::new();
            self.skip_space();
            if self.chars.next_if(|(_, c)| *c == ']').is_some() {
                return Ok(Value::Array(items));
            }
            loop {
                items.push(self.value()?);
                self.skip_space();
                match self.chars.next() {
                    Some((_, ',')) => continue,
                    Some((_, ']')) => return Ok(Value::Array(items)),
                    other => {
                        return Err(format!("expected ',' or ']' in an array, found {other:?}"));
                    }
                }
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.expect('"')?;
            let mut out = String::new();
            loop {
                match self.chars.next() {
                    Some((_, '"')) => return Ok(out),
                    Some((_, '\\')) => out.push(self.escape()?),
                    Some((_, c)) => out.push(c),
                    None => return Err("unterminated string".into()),
                }
            }
        }

        fn escape(&mut self) -> Result<char, String> {
            match self.chars.next().map(|(_, c)| c) {
                Some('"') => Ok('"'),
                Some('\\') => Ok('\\'),
                Some('/') => Ok('/'),
                Some('n') => Ok('\n'),
                Some('t') => Ok('\t'),
                Some('r') => Ok('\r'),
                Some('b') => Ok('\u{8}'),
                Some('f') => Ok('\u{c}'),
                Some('u') => {
                    let high = self.hex4()?;
                    if (0xD800..0xDC00).contains(&high) {
                        // A UTF-16 surrogate pair, as json.dumps writes non-BMP characters.
                        self.expect('\\')?;
                        self.expect('u')?;
                        let low = self.hex4()?;
                        let code =
                            0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                        char::from_u32(code)
                            .ok_or_else(|| format!("bad surrogate pair {high:04x} {low:04x}"))
                    } else {
                        char::from_u32(high).ok_or_else(|| format!("bad escape \\u{high:04x}"))
                    }
                }
                other => Err(format!("bad escape {other:?}")),
            }
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let mut code = 0;
            for _ in 0..4 {
                let digit = self
                    .chars
                    .next()
                    .and_then(|(_, c)| c.to_digit(16))
                    .ok_or("bad \\u escape")?;
                code = code * 16 + digit;
            }
            Ok(code)
        }
    }

    #[test]
    fn reads_the_golden_shape() {
        let v = parse(r#"{"case": "a\"b", "instances": [{"x": null, "y": true, "z": "\u00e9\ud83d\ude00"}], "e": []}"#).unwrap_or(Value::Null);
        assert_eq!(v.get("case").and_then(Value::as_str), Some("a\"b"));
        let first = &v
            .get("instances")
            .and_then(Value::as_array)
            .unwrap_or_default()[0];
        assert_eq!(first.get("x"), Some(&Value::Null));
        assert_eq!(first.get("y").and_then(Value::as_bool), Some(true));
        assert_eq!(first.get("z").and_then(Value::as_str), Some("é😀"));
        assert!(parse("{\"a\": 1}").is_err());
        assert!(parse("[true] x").is_err());
    }
}
