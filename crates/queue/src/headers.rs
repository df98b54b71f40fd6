//! AMQP message headers: the job generation, trace context and dead-letter reason travel here,
//! so a message body stays exactly the job's stored payload.

use lapin::types::{AMQPValue, FieldTable, ShortString};

/// Headers from a JSON object (as stored in the outbox): strings, integers and booleans;
/// anything else is left out.
pub fn from_json(value: &serde_json::Value) -> FieldTable {
    let mut table = FieldTable::default();
    if let Some(map) = value.as_object() {
        for (key, value) in map {
            let value = match value {
                serde_json::Value::String(s) => AMQPValue::LongString(s.as_str().into()),
                serde_json::Value::Bool(b) => AMQPValue::Boolean(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => AMQPValue::LongLongInt(i),
                    None => continue,
                },
                _ => continue,
            };
            table.insert(ShortString::from(key.as_str()), value);
        }
    }
    table
}

/// An integer header, whatever integer width the publisher chose.
pub fn int(headers: &FieldTable, key: &str) -> Option<i64> {
    match headers.inner().get(key)? {
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongLongInt(v) => Some(*v),
        _ => None,
    }
}

/// A text header.
pub fn text(headers: &FieldTable, key: &str) -> Option<String> {
    match headers.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// Sets a text header.
pub fn set_text(headers: &mut FieldTable, key: &str, value: &str) {
    headers.insert(key.into(), AMQPValue::LongString(value.into()));
}

/// Sets an integer header.
pub fn set_int(headers: &mut FieldTable, key: &str, value: i64) {
    headers.insert(key.into(), AMQPValue::LongLongInt(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_headers_round_trip() {
        let table =
            from_json(&serde_json::json!({"x-job-seq": 3, "traceparent": "00-ab", "n": null}));
        assert_eq!(int(&table, "x-job-seq"), Some(3));
        assert_eq!(text(&table, "traceparent").as_deref(), Some("00-ab"));
        assert_eq!(int(&table, "n"), None);
        assert_eq!(int(&table, "missing"), None);
    }
}
