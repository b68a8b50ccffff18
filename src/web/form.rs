//! Form bodies as browsers send them: `application/x-www-form-urlencoded` (WHATWG URL §5.1) and
//! `multipart/form-data` (RFC 7578) for the import's file. Pure: bytes in, fields out.

use http::{HeaderMap, header};

/// One form's fields, in order; a file field keeps its bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, Vec<u8>)>,
}

impl Form {
    /// The body as its Content-Type says; an unknown type or a broken body is an empty form
    /// (which then fails the CSRF check, as any form without its token does).
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Form {
        let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let media = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "application/x-www-form-urlencoded" => Form::urlencoded(body),
            "multipart/form-data" => boundary(ctype).map(|b| Form::multipart(body, &b)).unwrap_or_default(),
            _ => Form::default(),
        }
    }

    /// `a=1&b=x+y`: `+` is a space, then percent-decoding (WHATWG URL §5.1).
    pub fn urlencoded(body: &[u8]) -> Form {
        let fields = body
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let mut it = pair.splitn(2, |b| *b == b'=');
                let name = decode(it.next().unwrap_or_default());
                let value = decode(it.next().unwrap_or_default());
                (String::from_utf8_lossy(&name).into_owned(), value)
            })
            .collect();
        Form { fields }
    }

    /// RFC 7578: parts between `--boundary` lines, each with a Content-Disposition naming it.
    pub fn multipart(body: &[u8], boundary: &str) -> Form {
        let delimiter = format!("--{boundary}");
        let mut fields = Vec::new();
        for part in split(body, delimiter.as_bytes()).into_iter().skip(1) {
            // The closing delimiter is `--boundary--`.
            if part.starts_with(b"--") {
                break;
            }
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            let Some(split_at) = find(part, b"\r\n\r\n") else { continue };
            let (head, rest) = (&part[..split_at], &part[split_at + 4..]);
            let value = rest.strip_suffix(b"\r\n").unwrap_or(rest);
            let head = String::from_utf8_lossy(head);
            let Some(name) = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition:")).and_then(disposition_name) else {
                continue;
            };
            fields.push((name, value.to_vec()));
        }
        Form { fields }
    }

    /// The first value of `name` as text ("" when absent).
    pub fn text(&self, name: &str) -> String {
        self.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Whether a checkbox was sent checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn boundary(ctype: &str) -> Option<String> {
    ctype.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
    }).filter(|b| !b.is_empty() && b.len() <= 70)
}

/// `form-data; name="x"; filename="y"` → x.
fn disposition_name(line: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut hay: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = find(hay, delimiter) {
        out.push(&hay[..at]);
        hay = &hay[at + delimiter.len()..];
    }
    out.push(hay);
    out
}

fn decode(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&spaced).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_fields() {
        let f = Form::urlencoded(b"title=Caf%C3%A9+%26+more&empty=&flag&title=second");
        assert_eq!(f.text("title"), "Café & more");
        assert_eq!(f.text("empty"), "");
        assert!(f.checked("flag"));
        assert!(!f.checked("absent"));
    }

    #[test]
    fn multipart_fields_and_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.ics\"\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n\r\n--XyZ--\r\n";
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ".parse().unwrap());
        let f = Form::parse(&h, body);
        assert_eq!(f.text("csrf"), "tok");
        assert_eq!(f.get("file").unwrap(), b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n");
    }

    #[test]
    fn unknown_media_type_is_an_empty_form() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(Form::parse(&h, b"{\"csrf\":\"x\"}"), Form::default());
    }
}
