//! Password rules and argon2id hashing. Hashing is deliberately slow, so it runs on the
//! blocking pool, never on the async executor.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use ils_kernel::{AppError, AppResult};

pub const MIN_LENGTH: usize = 10;
const MAX_LENGTH: usize = 256;
const COMMON: &str = include_str!("common-passwords.txt");

/// Checks the rules; `field` is the argument path for the error.
pub fn validate(password: &str, field: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(AppError::bad_input(
            field,
            format!("password must have at least {MIN_LENGTH} characters"),
        ));
    }
    if chars > MAX_LENGTH {
        return Err(AppError::bad_input(
            field,
            format!("password must have at most {MAX_LENGTH} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.lines().any(|l| !l.starts_with('#') && l == lower) {
        return Err(AppError::bad_input(
            field,
            "this password is too common; choose another",
        ));
    }
    Ok(())
}

/// At most this many hashes at once (each takes ~19 MiB and a core for a while), so a
/// burst of log-ins queues instead of exhausting memory and the blocking pool.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

pub async fn hash(password: &str) -> AppResult<String> {
    let permit = HASHING
        .acquire()
        .await
        .map_err(|_| AppError::internal("hashing closed"))?;
    let password = password.to_owned();
    // The permit moves into the blocking task: a hash keeps running when its request is
    // cancelled, and must keep counting against the limit until it ends.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::internal(format!("hashing task failed: {e}")))?
}

/// Verifies a password. With `None` (an unknown email) it verifies against a fixed hash,
/// so an unknown email costs the same time as a wrong password.
pub async fn verify(password: &str, hash: Option<&str>) -> bool {
    const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qk3qYpmfTebGd1ib0b0QIxzQY8B3pbQ9h/bR0a7AIiQ";
    let Ok(permit) = HASHING.acquire().await else {
        return false;
    };
    let known = hash.is_some();
    let hash = hash.unwrap_or(DECOY).to_owned();
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    ok && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(validate("short", "p").is_err());
        assert!(
            validate("Password123", "p").is_err(),
            "common, whatever the case"
        );
        assert!(validate("correct horse battery", "p").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&h)).await);
        assert!(!verify("wrong horse battery", Some(&h)).await);
        assert!(!verify("correct horse battery", None).await);
    }
}
