//! Password hashing: argon2id with the crate's defaults (OWASP: 19 MiB, 2 passes, 1 lane),
//! stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! Hashing is CPU- and memory-heavy by design. The API runs it on the blocking pool, at most a
//! few at a time (see [`crate::ApiState`]), so a burst of logins cannot starve the runtime or
//! exhaust memory.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// Hashes `password` with a fresh random salt; the result is what `users.password_hash` holds.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Shortest and longest new password accepted, in characters.
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// Checks a new password against the policy (NIST SP 800-63B: length, not the account name; no
/// composition rules). The error says what is wrong, never the password.
pub fn check_new_password(username: &str, password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!("new_password: at least {MIN_LEN} characters"));
    }
    if len > MAX_LEN {
        return Err(format!("new_password: at most {MAX_LEN} characters"));
    }
    if password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("new_password: must not contain the username".into());
    }
    Ok(())
}

/// Whether `password` matches the PHC string `phc`. A malformed `phc` never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// A well-formed hash with the same parameters as [`hash_password`] (random salt and output, so
/// no password matches it). Logins for unknown users verify against it: they cost as much as a
/// wrong password, and the answer's timing does not reveal which accounts exist. A unit test keeps
/// its parameters in step with [`hash_password`].
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$7sD1nCcjQ7OQqKH5bLNDPA$RkbcP7UBLEAi5H4kH8iS3zKJqGX7pIOGdmhhjzkCaXE";

#[cfg(test)]
mod tests {
    use super::*;

    /// The `$argon2id$v=19$m=...,t=...,p=...` prefix of a PHC string.
    fn params(phc: &str) -> String {
        phc.split('$').take(4).collect::<Vec<_>>().join("$")
    }

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn new_passwords_are_long_and_not_the_username() {
        assert!(check_new_password("ann", "correct horse battery").is_ok());
        assert!(check_new_password("ann", "short").unwrap_err().contains("at least 12"));
        assert!(check_new_password("ann", &"x".repeat(129)).unwrap_err().contains("at most"));
        assert!(check_new_password("caregiver", "my-Caregiver-2024").unwrap_err().contains("username"));
        assert!(check_new_password("ann", "密码密码密码密码密码密码").is_ok(), "characters, not bytes");
    }

    #[test]
    fn dummy_hash_costs_what_a_real_one_does() {
        let real = hash_password("x").unwrap();
        assert_eq!(params(DUMMY_HASH), params(&real));
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("", DUMMY_HASH));
    }
}
