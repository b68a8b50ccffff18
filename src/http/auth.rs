//! HTTP Basic credentials (RFC 7617) from the Authorization header, and the 401 challenge.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::dav::DavResponse;
use crate::error::text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// None when the header is absent or not usable Basic credentials.
pub fn basic_credentials(headers: &HeaderMap) -> Option<Credentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials { user: user.to_owned(), password: password.to_owned() })
}

/// An `Authorization: Bearer` token (RFC 6750 §2.1): the API's app passwords.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// Credentials as a request carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Basic(Credentials),
    Bearer(String),
}

impl Credential {
    pub fn of(headers: &HeaderMap) -> Option<Credential> {
        basic_credentials(headers).map(Credential::Basic).or_else(|| bearer_token(headers).map(Credential::Bearer))
    }

    /// The name failed logins are counted under besides the address: the user name, or for a
    /// token a key of its own (wrong tokens share no bucket, so nobody locks out everyone's).
    pub fn login_name(&self) -> String {
        match self {
            Credential::Basic(c) => c.user.clone(),
            Credential::Bearer(t) => {
                let digest = crate::service::app_passwords::secret_hash(t);
                format!("\0bearer:{}", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
            }
        }
    }

    fn secret(&self) -> &str {
        match self {
            Credential::Basic(c) => &c.password,
            Credential::Bearer(t) => t,
        }
    }

    /// What `Authenticator::recently_verified` is asked about.
    pub fn recent_key(&self) -> (&str, &str) {
        match self {
            Credential::Basic(c) => (&c.user, &c.password),
            Credential::Bearer(_) => ("\0bearer", self.secret()),
        }
    }
}

pub fn challenge() -> DavResponse {
    let mut resp = text(StatusCode::UNAUTHORIZED, "authentication required");
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Kalends\", charset=\"UTF-8\""));
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic YWxpY2U6cDpzcw==")); // alice:p:ss
        assert_eq!(
            basic_credentials(&h),
            Some(Credentials { user: "alice".into(), password: "p:ss".into() })
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(basic_credentials(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&h), None);
    }

    #[test]
    fn parses_bearer_and_keeps_tokens_apart() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer kal_abc"));
        assert_eq!(Credential::of(&h), Some(Credential::Bearer("kal_abc".into())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  "));
        assert_eq!(Credential::of(&h), None);
        let (a, b) = (Credential::Bearer("kal_a".into()), Credential::Bearer("kal_b".into()));
        assert_ne!(a.login_name(), b.login_name());
        assert!(a.login_name().starts_with('\0'), "never a user name");
    }
}
