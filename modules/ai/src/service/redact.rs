//! Patient data stays in the platform unless the company shares it: before a tool's
//! result goes to an external model, the values of the keys the tool names as personal
//! (`Tool::personal`) are replaced, wherever they appear in the result.

use serde_json::Value;

pub const WITHHELD: &str = "[withheld: patient data]";

/// `value` with every value under one of `keys` replaced; whether anything was.
pub fn redact(value: &mut Value, keys: &[&str]) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if keys.contains(&k.as_str()) {
                    if !v.is_null() {
                        *v = Value::String(WITHHELD.into());
                        changed = true;
                    }
                } else {
                    changed |= redact(v, keys);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= redact(v, keys);
            }
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_keys_are_withheld_at_any_depth() {
        let mut v = json!({"orders": [
            {"orderNumber": "ORD-1", "patientName": "Ada Lovelace", "patientRef": "P1"},
            {"orderNumber": "ORD-2", "patientName": null, "patient": {"email": "a@b.c"}}
        ]});
        assert!(redact(&mut v, &["patientName", "email"]));
        assert_eq!(v["orders"][0]["patientName"], WITHHELD);
        assert_eq!(v["orders"][0]["patientRef"], "P1");
        assert_eq!(v["orders"][1]["patientName"], Value::Null);
        assert_eq!(v["orders"][1]["patient"]["email"], WITHHELD);
        let mut none = json!({"sku": "X"});
        assert!(!redact(&mut none, &["patientName"]));
    }
}
