//! The link in every emailed DISPLAY/AUDIO reminder that turns those emails off (RFC 8058
//! one-click, and a page for people): `<public_url>/reminders/<token>`, the token naming the
//! user and signed with the RSVP keys (service::scheduling::rsvp), so it works on every node
//! and survives a key rotation for the keys' grace period. It can only switch the user's own
//! reminder emails off and on again: nothing else is reachable with it, and it shows nothing
//! of their data but the user name.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::service::ServiceResult;
use crate::service::scheduling::rsvp::{signing_key, usable};
use crate::store::{AlarmStore, RsvpKey, RsvpStore, Store, UserId, UserStore};

fn mac(key: &RsvpKey, payload: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.secret).ok()?;
    // Domain separation from RSVP tokens signed with the same keys.
    mac.update(b"kalends-reminders\n");
    mac.update(payload);
    Some(mac)
}

/// base64url("r1\n<key id>\n<user id>") "." base64url(HMAC-SHA256).
pub fn sign(key: &RsvpKey, user: UserId) -> String {
    let payload = format!("r1\n{}\n{}", key.id, user.0);
    let tag = mac(key, payload.as_bytes()).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
}

/// The absolute link for an email.
pub fn link(public_url: &str, key: &RsvpKey, user: UserId) -> String {
    format!("{}/reminders/{}", public_url.trim_end_matches('/'), sign(key, user))
}

/// The user a token names, if a key in use signed it (constant-time comparison).
pub fn verify(keys: &[RsvpKey], token: &str, now: i64) -> Option<UserId> {
    let (payload, tag) = token.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let text = std::str::from_utf8(&payload).ok()?;
    let mut fields = text.split('\n');
    if fields.next()? != "r1" {
        return None;
    }
    let key_id: i64 = fields.next()?.parse().ok()?;
    let user: i64 = fields.next()?.parse().ok()?;
    if fields.next().is_some() {
        return None;
    }
    let key = keys.iter().find(|k| k.id == key_id && usable(k, now))?;
    mac(key, &payload)?.verify_slice(&tag).ok()?;
    Some(UserId(user))
}

/// The key emails are signed with (made on first use).
pub async fn key(store: &Store) -> ServiceResult<RsvpKey> {
    signing_key(store).await
}

/// Whose setting a link changes, and what it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub user_name: String,
    pub emails: bool,
}

/// The user and setting behind `token`; None for a link that is not valid (forged, its key
/// gone, its user deleted).
pub async fn show(store: &Store, token: &str, now: i64) -> ServiceResult<Option<Setting>> {
    let keys = store.rsvp_keys().await?;
    let Some(user) = verify(&keys, token, now) else { return Ok(None) };
    let Some(u) = store.user_by_id(user).await? else { return Ok(None) };
    let Some(emails) = store.reminder_emails(user).await? else { return Ok(None) };
    Ok(Some(Setting { user_name: u.name, emails }))
}

/// Sets the emails of the user behind `token`; None for a link that is not valid.
pub async fn set(store: &Store, token: &str, on: bool, now: i64) -> ServiceResult<Option<Setting>> {
    let keys = store.rsvp_keys().await?;
    let Some(user) = verify(&keys, token, now) else { return Ok(None) };
    let Some(u) = store.user_by_id(user).await? else { return Ok(None) };
    if !store.set_reminder_emails(user, on).await? {
        return Ok(None);
    }
    tracing::info!(user = %u.name, emails = on, "reminder emails switched by the link in a reminder");
    Ok(Some(Setting { user_name: u.name, emails: on }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::service::scheduling::rsvp::GRACE;

    fn key(id: i64, byte: u8) -> RsvpKey {
        RsvpKey { id, secret: vec![byte; 32], created_at: 0, retired_at: None }
    }

    #[test]
    fn a_signed_token_names_its_user_and_nothing_else_verifies() {
        let k = key(3, 7);
        let token = sign(&k, UserId(42));
        assert_eq!(verify(std::slice::from_ref(&k), &token, 0), Some(UserId(42)));
        // Another key, a changed user, a truncated tag: refused.
        assert_eq!(verify(&[key(3, 8)], &token, 0), None);
        let (payload, tag) = token.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode("r1\n3\n43");
        assert_eq!(verify(std::slice::from_ref(&k), &format!("{other}.{tag}"), 0), None);
        assert_eq!(verify(std::slice::from_ref(&k), &format!("{payload}.{}", &tag[..10]), 0), None);
        assert_eq!(verify(std::slice::from_ref(&k), "garbage", 0), None);
    }

    #[test]
    fn a_retired_key_verifies_through_its_grace_only() {
        let mut k = key(1, 9);
        let token = sign(&k, UserId(5));
        k.retired_at = Some(1_000);
        assert_eq!(verify(std::slice::from_ref(&k), &token, 1_000 + GRACE), Some(UserId(5)));
        assert_eq!(verify(std::slice::from_ref(&k), &token, 1_001 + GRACE), None);
    }
}
