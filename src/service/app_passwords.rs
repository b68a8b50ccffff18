//! App passwords (issue 20, decision 0025): a secret per client or script, made by its user,
//! shown once, revocable, accepted as the Basic password (CalDAV clients) and as a Bearer token
//! (the JSON API). The secret is 24 random bytes (192 bits) after a `kal_` prefix; only its
//! SHA-256 is stored, the lookup key, so verifying costs one hash and one indexed statement —
//! no argon2: that slow hash exists to protect guessable passwords, and nobody guesses 192 bits.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{ServiceError, ServiceResult};
use crate::store::{AppPassword, AppPasswordStore, NewAppPassword, Store, UserId, UserStore};

/// Every app password starts with this, so authentication knows to look one up (and secret
/// scanners can recognise a leaked one).
pub const PREFIX: &str = "kal_";

/// Characters of the secret kept for lists: the prefix and four more.
const HINT_LEN: usize = PREFIX.len() + 4;

/// A label is a name for people: one line, not too long.
const MAX_LABEL: usize = 100;

/// A new app password: the row, and the secret, which is never shown again.
#[derive(Debug, Clone)]
pub struct Issued {
    pub app: AppPassword,
    pub secret: String,
}

/// The stored form of a secret: its SHA-256, as feed tokens are kept (decision 0022).
pub fn secret_hash(secret: &str) -> Vec<u8> {
    super::feeds::token_hash(secret)
}

/// Whether `s` has the shape of an app password (only those are looked up).
pub fn looks_like(s: &str) -> bool {
    s.len() == PREFIX.len() + 32 && s.starts_with(PREFIX)
}

fn new_secret() -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()))
}

/// Makes an app password for `user` labelled `label` (trimmed; "app password" when empty).
pub async fn create(store: &Store, user: UserId, label: &str) -> ServiceResult<Issued> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(ServiceError::BadRequest(format!("a label is one line of at most {MAX_LABEL} characters")));
    }
    let label = if label.is_empty() { "app password" } else { label };
    let secret = new_secret();
    let hint = secret.chars().take(HINT_LEN).collect::<String>();
    let app = store.create_app_password(NewAppPassword { user, label: label.to_owned(), secret_hash: secret_hash(&secret), hint }).await?;
    Ok(Issued { app, secret })
}

/// Makes one for the user named `name` (the CLI).
pub async fn create_for(store: &Store, name: &str, label: &str) -> ServiceResult<Issued> {
    let user = store.user_by_name(name).await?.ok_or_else(|| ServiceError::BadRequest(format!("no user {name}")))?;
    create(store, user.id, label).await
}

pub async fn list(store: &Store, user: UserId) -> ServiceResult<Vec<AppPassword>> {
    Ok(store.app_passwords_of(user).await?)
}

/// Revokes the user's app password `id`: it stops working at once on this node (the caller
/// drops its credential cache) and within the user cache's time on the others.
pub async fn revoke(store: &Store, user: UserId, id: i64) -> ServiceResult<()> {
    if store.delete_app_password(user, id).await? { Ok(()) } else { Err(ServiceError::NotFound) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_their_shape_and_are_unique() {
        let (a, b) = (new_secret(), new_secret());
        assert!(looks_like(&a) && looks_like(&b), "{a}");
        assert_ne!(a, b);
        assert!(!looks_like("kal_short") && !looks_like(&a.replace(PREFIX, "xyz_")));
        assert_eq!(secret_hash(&a).len(), 32);
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
