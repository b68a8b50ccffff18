//! User management: creation with the default calendar and task list, password changes,
//! deletion, and the first-start `admin` bootstrap.

use super::auth::hash_password;
use super::{ServiceError, ServiceResult};
use crate::calendar::ComponentSet;
use crate::store::{CollectionKind, CollectionProps, NewCollection, NewUser, Store, User, UserId, UserStore};

/// Path segments of the collections every new user gets: Apple Calendar and DAVx5 expect an
/// events calendar, and DAVx5/Tasks.org and Thunderbird show a separate task list.
pub const DEFAULT_CALENDAR: &str = "calendar";
pub const DEFAULT_TASKS: &str = "tasks";
pub const INBOX: &str = "inbox";
pub const OUTBOX: &str = "outbox";

/// A user name is a single URL path segment and an HTTP Basic user-id (no ':'): keep it plain.
pub fn validate_name(name: &str) -> ServiceResult<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+');
    if name.is_empty() || name.len() > 64 || name.starts_with('.') || !name.chars().all(ok_char) {
        return Err(ServiceError::BadRequest(format!(
            "invalid user name {name:?}: use 1-64 of a-z A-Z 0-9 . _ - @ +, not starting with '.'"
        )));
    }
    Ok(())
}

fn validate_password(password: &str) -> ServiceResult<()> {
    if password.is_empty() {
        return Err(ServiceError::BadRequest("the password must not be empty".into()));
    }
    Ok(())
}

fn home_collections(owner: UserId) -> Vec<NewCollection> {
    let calendar = |path: &str, name: &str, components: u8| NewCollection {
        owner,
        parent: None,
        path: path.to_owned(),
        kind: CollectionKind::Calendar,
        props: CollectionProps {
            displayname: Some(name.to_owned()),
            components: ComponentSet(components),
            ..CollectionProps::default()
        },
        dead_props: Vec::new(),
    };
    let scheduling_box = |path: &str, kind: CollectionKind| NewCollection {
        owner,
        parent: None,
        path: path.to_owned(),
        kind,
        props: CollectionProps { components: ComponentSet::ALL, ..CollectionProps::default() },
        dead_props: Vec::new(),
    };
    vec![
        // Events and tasks: clients such as calcurse sync both to one URL (decision 0014).
        calendar(DEFAULT_CALENDAR, "Calendar", ComponentSet::VEVENT | ComponentSet::VTODO),
        calendar(DEFAULT_TASKS, "Tasks", ComponentSet::VTODO),
        // RFC 6638 §2.1, §2.2: every principal has a scheduling inbox and outbox.
        scheduling_box(INBOX, CollectionKind::Inbox),
        scheduling_box(OUTBOX, CollectionKind::Outbox),
    ]
}

/// Creates a user with their default calendar and task list, in one transaction.
pub async fn create(store: &Store, name: &str, email: Option<&str>, password: &str) -> ServiceResult<User> {
    validate_name(name)?;
    validate_password(password)?;
    if let Some(email) = email
        && (!email.contains('@') || email.contains(char::is_whitespace) || email.contains(char::is_control))
    {
        return Err(ServiceError::BadRequest(format!("invalid email address {email:?}")));
    }
    let hash = hash_blocking(password).await?;
    let new = NewUser { name: name.to_owned(), email: email.map(str::to_owned), password_hash: hash };
    // The store fills in the owner id of each home collection inside its transaction.
    Ok(store.create_user(new, home_collections(UserId(0))).await?)
}

pub async fn set_password(store: &Store, name: &str, password: &str) -> ServiceResult<()> {
    validate_password(password)?;
    let hash = hash_blocking(password).await?;
    Ok(store.set_password(name, &hash).await?)
}

pub async fn delete(store: &Store, name: &str) -> ServiceResult<()> {
    Ok(store.delete_user(name).await?)
}

pub async fn list(store: &Store) -> ServiceResult<Vec<User>> {
    Ok(store.list_users().await?)
}

/// On an empty database, creates `admin` with a random password and returns that password
/// (to be shown once). Returns None when users exist.
pub async fn bootstrap_admin(store: &Store) -> ServiceResult<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = random_password();
    match create(store, "admin", None, &password).await {
        // The first administrator of the API (issue 20).
        Ok(_) => store.set_admin("admin", true).await.map(|()| Some(password)).map_err(ServiceError::from),
        // Another node bootstrapped concurrently: fine.
        Err(ServiceError::AlreadyExists) => Ok(None),
        Err(e) => Err(e),
    }
}

/// 20 characters from an unambiguous alphabet (about 115 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn hash_blocking(password: &str) -> ServiceResult<String> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["alice", "a.b", "bob@example.org", "x_y-z+1"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "a:b", "a b", "ü", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_random() {
        let (a, b) = (random_password(), random_password());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
