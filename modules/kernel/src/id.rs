//! Opaque, typed global IDs: base64url of `Type:uuid`. A `User` ID is refused where a
//! `Company` ID is expected, and no ID reveals whether a row exists for another tenant.

use crate::AppError;
use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

pub fn encode(type_name: &str, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// Splits a global ID into its type name and row id; `None` when it is not one of ours.
pub fn decode_any(id: &str) -> Option<(String, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(id.as_bytes()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (ty, raw) = text.split_once(':')?;
    Some((ty.to_owned(), Uuid::parse_str(raw).ok()?))
}

/// Decodes an ID that must name a `type_name` row; `field` is the argument path for the
/// BAD_USER_INPUT error.
pub fn decode(type_name: &str, id: &ID, field: &str) -> Result<Uuid, AppError> {
    match decode_any(id) {
        Some((ty, uuid)) if ty == type_name => Ok(uuid),
        _ => Err(AppError::bad_input(field, format!("not a {type_name} ID"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_the_type() {
        let u = Uuid::now_v7();
        let id = encode("User", u);
        assert_eq!(decode("User", &id, "id").unwrap(), u);
        assert_eq!(
            decode("Company", &id, "id").unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert!(decode_any("not base64 !").is_none());
        assert!(decode_any(&URL_SAFE_NO_PAD.encode("User:nope")).is_none());
    }
}
