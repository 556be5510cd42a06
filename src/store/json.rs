//! Reading the Go tool's JSON payloads. Go's `encoding/json` matches field names
//! case-insensitively, ignores unknown fields and accepts `null`; these helpers do the same.
use serde_json::{Map, Value};

/// Parse a JSON object, or say why not (the reason never contains the payload itself).
pub(crate) fn object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("expected a JSON object".to_string()),
        Err(e) => Err(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        )),
    }
}

/// A field looked up the way Go does: exact name first, then case-insensitively.
pub(crate) fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A string field; `null`, missing or non-string values read as `None`.
pub(crate) fn string(map: &Map<String, Value>, name: &str) -> Option<String> {
    field(map, name).and_then(Value::as_str).map(str::to_string)
}
