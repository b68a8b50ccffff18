//! The Apple configuration profile (`.mobileconfig`) that adds a CalDAV account to Calendar on
//! iOS, iPadOS and macOS: an XML property list whose one payload is `com.apple.caldav.account`
//! (keys as Apple's device-management reference lists them: host, port, SSL, principal URL,
//! user name, and a password only when asked for). The profile is not signed or encrypted, so
//! a password in it is readable by whoever gets the file: the page offers only a fresh,
//! revocable app password for it, never the account's own.

use std::fmt::Write as _;

use super::Server;

/// `Content-Type` of a profile: Safari and macOS hand files of this type to the profile
/// installer.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// One account's profile.
#[derive(Debug, Clone)]
pub struct Profile<'a> {
    pub server: &'a Server,
    pub user: &'a str,
    /// The principal's path (`/principals/alice/` under the base path), as CalDAV names it.
    pub principal_path: &'a str,
    /// A password to include: a freshly made app password, or None (the device asks).
    pub password: Option<&'a str>,
}

/// A value of the property list.
enum Value<'a> {
    Str(&'a str),
    Int(u16),
    Bool(bool),
}

impl Profile<'_> {
    /// The payloads' identifier: stable per server and user, so installing a newer profile
    /// replaces the older one instead of adding a second account (Apple matches profiles by
    /// PayloadIdentifier).
    pub fn identifier(&self) -> String {
        let clean = |s: &str| -> String {
            s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect()
        };
        format!("kalends.{}.{}", clean(&self.server.authority()), clean(self.user))
    }

    /// The whole `.mobileconfig` document, with new PayloadUUIDs each time.
    pub fn render(&self) -> String {
        let id = self.identifier();
        let name = format!("Kalends calendar ({} at {})", self.user, self.server.authority());
        let account_uuid = uuid_v4();
        let profile_uuid = uuid_v4();
        let account_id = format!("{id}.caldav");
        let mut account: Vec<(&str, Value<'_>)> = vec![
            ("CalDAVAccountDescription", Value::Str(&name)),
            ("CalDAVHostName", Value::Str(&self.server.host)),
            ("CalDAVPort", Value::Int(self.server.port)),
            ("CalDAVPrincipalURL", Value::Str(self.principal_path)),
            ("CalDAVUseSSL", Value::Bool(self.server.https)),
            ("CalDAVUsername", Value::Str(self.user)),
        ];
        if let Some(password) = self.password {
            account.push(("CalDAVPassword", Value::Str(password)));
        }
        account.extend([
            ("PayloadDescription", Value::Str("Adds the Kalends CalDAV account to Calendar.")),
            ("PayloadDisplayName", Value::Str(&name)),
            ("PayloadIdentifier", Value::Str(&account_id)),
            ("PayloadType", Value::Str("com.apple.caldav.account")),
            ("PayloadUUID", Value::Str(&account_uuid)),
            ("PayloadVersion", Value::Int(1)),
        ]);
        let outer: [(&str, Value<'_>); 7] = [
            ("PayloadDescription", Value::Str("Connects Calendar to your account on this Kalends server.")),
            ("PayloadDisplayName", Value::Str(&name)),
            ("PayloadIdentifier", Value::Str(&id)),
            ("PayloadRemovalDisallowed", Value::Bool(false)),
            ("PayloadType", Value::Str("Configuration")),
            ("PayloadUUID", Value::Str(&profile_uuid)),
            ("PayloadVersion", Value::Int(1)),
        ];
        let mut xml = String::from(concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
            "<plist version=\"1.0\">\n<dict>\n\t<key>PayloadContent</key>\n\t<array>\n\t\t<dict>\n",
        ));
        write_entries(&mut xml, "\t\t\t", &account);
        xml.push_str("\t\t</dict>\n\t</array>\n");
        write_entries(&mut xml, "\t", &outer);
        xml.push_str("</dict>\n</plist>\n");
        xml
    }

    /// The download's file name.
    pub fn file_name(&self) -> String {
        format!("{}.mobileconfig", self.identifier())
    }
}

fn write_entries(xml: &mut String, indent: &str, entries: &[(&str, Value<'_>)]) {
    for (key, value) in entries {
        let _ = writeln!(xml, "{indent}<key>{}</key>", escape(key));
        let _ = match value {
            Value::Str(s) => writeln!(xml, "{indent}<string>{}</string>", escape(s)),
            Value::Int(n) => writeln!(xml, "{indent}<integer>{n}</integer>"),
            Value::Bool(b) => writeln!(xml, "{indent}<{}/>", if *b { "true" } else { "false" }),
        };
    }
}

/// XML character data: the five predefined entities (XML 1.0 §2.4), and control characters,
/// which XML 1.0 cannot carry at all, left out.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A random (version 4) UUID in upper case, as Apple's own profiles write them (RFC 9562 §5.4).
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use plist::{Dictionary, Value as P};

    fn parse(xml: &str) -> Dictionary {
        P::from_reader_xml(xml.as_bytes()).unwrap().into_dictionary().unwrap()
    }

    fn account(root: &Dictionary) -> &Dictionary {
        let content = root.get("PayloadContent").and_then(P::as_array).unwrap();
        assert_eq!(content.len(), 1, "one payload");
        content[0].as_dictionary().unwrap()
    }

    fn text<'a>(d: &'a Dictionary, key: &str) -> &'a str {
        d.get(key).and_then(P::as_string).unwrap_or_else(|| panic!("{key} missing"))
    }

    #[test]
    fn the_profile_parses_back_with_the_caldav_payload() {
        let server = Server::parse("https://cal.example.org/dav/").unwrap();
        let p = Profile { server: &server, user: "alice", principal_path: "/dav/principals/alice/", password: None };
        let root = parse(&p.render());
        assert_eq!(text(&root, "PayloadType"), "Configuration");
        assert_eq!(root.get("PayloadVersion").and_then(P::as_signed_integer), Some(1));
        assert_eq!(root.get("PayloadRemovalDisallowed").and_then(P::as_boolean), Some(false));
        let a = account(&root);
        assert_eq!(text(a, "PayloadType"), "com.apple.caldav.account");
        assert_eq!(text(a, "CalDAVHostName"), "cal.example.org");
        assert_eq!(a.get("CalDAVPort").and_then(P::as_signed_integer), Some(443));
        assert_eq!(a.get("CalDAVUseSSL").and_then(P::as_boolean), Some(true));
        assert_eq!(text(a, "CalDAVPrincipalURL"), "/dav/principals/alice/");
        assert_eq!(text(a, "CalDAVUsername"), "alice");
        assert!(a.get("CalDAVPassword").is_none(), "no password unless asked for");
        // The account's identifier sits under the profile's, and both are stable.
        assert_eq!(text(&root, "PayloadIdentifier"), "kalends.cal-example-org.alice");
        assert_eq!(text(a, "PayloadIdentifier"), "kalends.cal-example-org.alice.caldav");
        assert_eq!(p.file_name(), "kalends.cal-example-org.alice.mobileconfig");
    }

    #[test]
    fn uuids_are_unique_and_well_formed() {
        let server = Server::parse("http://127.0.0.1:8080/").unwrap();
        let p = Profile { server: &server, user: "bob", principal_path: "/principals/bob/", password: None };
        let (one, two) = (parse(&p.render()), parse(&p.render()));
        let uuids = [text(&one, "PayloadUUID"), text(account(&one), "PayloadUUID"), text(&two, "PayloadUUID"), text(account(&two), "PayloadUUID")];
        for (i, u) in uuids.iter().enumerate() {
            assert_eq!(u.len(), 36);
            assert_eq!(&u[14..15], "4", "version 4: {u}");
            assert!(matches!(&u[19..20], "8" | "9" | "A" | "B"), "RFC 9562 variant: {u}");
            assert!(uuids[i + 1..].iter().all(|v| v != u), "{u} repeated");
        }
        let a = account(&one);
        assert_eq!(a.get("CalDAVUseSSL").and_then(P::as_boolean), Some(false));
        assert_eq!(a.get("CalDAVPort").and_then(P::as_signed_integer), Some(8080));
    }

    #[test]
    fn values_are_escaped_and_a_password_only_when_given() {
        let server = Server::parse("https://h.example/").unwrap();
        let nasty = "a&b<c>\"d'\u{1}</string><key>CalDAVPassword</key><string>x";
        let p = Profile { server: &server, user: "o'neil&co", principal_path: nasty, password: Some("kal_s3cret<&>") };
        let xml = p.render();
        assert!(!xml.contains('\u{1}'), "control characters cannot be carried by XML 1.0");
        let a = parse(&xml);
        let a = account(&a);
        assert_eq!(text(a, "CalDAVPrincipalURL"), nasty.replace('\u{1}', ""));
        assert_eq!(text(a, "CalDAVUsername"), "o'neil&co");
        assert_eq!(text(a, "CalDAVPassword"), "kal_s3cret<&>");
        assert_eq!(xml.matches("<key>CalDAVPassword</key>").count(), 1, "the injected key stayed text");
    }
}
