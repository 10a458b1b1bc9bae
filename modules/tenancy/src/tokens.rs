//! Access tokens (short-lived JWT, HS256 pinned, issuer/audience/expiry/not-before checked)
//! and opaque secrets (refresh tokens, invitation tokens, API keys), stored as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ils_kernel::{AppError, AppResult, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct TokenSettings {
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The acting company; absent for platform admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<Uuid>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub pa: bool,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: Uuid,
}

impl TokenSettings {
    pub fn issue_access(
        &self,
        user: Uuid,
        company: Option<Uuid>,
        roles: &[Role],
        platform_admin: bool,
    ) -> AppResult<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            cid: company,
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            pa: platform_admin,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + self.access_ttl.as_secs() as i64,
            nbf: now,
            iat: now,
            jti: Uuid::now_v7(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| AppError::internal(format!("token signing failed: {e}")))
    }

    /// Verifies an access token. Every failure is the same UNAUTHENTICATED to the caller.
    pub fn verify_access(&self, token: &str) -> AppResult<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        v.validate_exp = true;
        v.validate_nbf = true;
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&self.secret), &v)
            .map(|d| d.claims)
            .map_err(|_| AppError::Unauthenticated("invalid or expired access token".into()))
    }
}

/// A fresh random secret, URL-safe, 256 bits.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How secrets are stored: hex SHA-256. The secrets are random 256-bit values, so a fast
/// digest is enough (no dictionary to attack), and it can be looked up by equality.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TokenSettings {
        TokenSettings {
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            issuer: "ils".into(),
            audience: "ils-api".into(),
            access_ttl: Duration::from_secs(900),
            refresh_ttl: Duration::from_secs(86400),
        }
    }

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let s = settings();
        let u = Uuid::now_v7();
        let t = s.issue_access(u, None, &[Role::Staff], false).unwrap();
        assert_eq!(s.verify_access(&t).unwrap().sub, u);
        let other = TokenSettings {
            audience: "elsewhere".into(),
            ..settings()
        };
        assert!(other.verify_access(&t).is_err());
        let other = TokenSettings {
            secret: b"another key another key another!".to_vec(),
            ..settings()
        };
        assert!(other.verify_access(&t).is_err());
        assert!(s.verify_access("garbage").is_err());
    }

    #[test]
    fn secrets_are_random_and_digested() {
        let a = random_secret();
        assert_ne!(a, random_secret());
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(digest(&a), digest(&a));
    }
}
