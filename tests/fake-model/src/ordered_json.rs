//! JSON objects that keep their key order.
//!
//! `serde_json::Value` sorts keys (the workspace does not enable `preserve_order`, and turning it on
//! here would change every crate that shares the build). The real services put `type` first and
//! use a stable field order; matching it keeps captured and fake streams diffable.

use std::fmt;

use serde_json::Value;

/// A JSON value whose objects serialize in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// Any plain value (its own nested objects are key-sorted).
    Plain(Value),
    /// An object, in this order.
    Object(Vec<(&'static str, Json)>),
    /// An array.
    Array(Vec<Json>),
}

/// Builds a [`Json::Object`]: `obj! { "type": "ping", "index": 0 }`.
macro_rules! obj {
    ($($key:literal : $value:expr),* $(,)?) => {
        $crate::ordered_json::Json::Object(vec![
            $(($key, $crate::ordered_json::Json::from($value))),*
        ])
    };
}
pub(crate) use obj;

impl Json {
    /// Adds or replaces a key, keeping the position of an existing one.
    pub(crate) fn set(&mut self, key: &'static str, value: impl Into<Json>) {
        if let Json::Object(fields) = self {
            let value = value.into();
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => fields.push((key, value)),
            }
        }
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Plain(value) => write!(f, "{value}"),
            Json::Object(fields) => {
                f.write_str("{")?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{value}", Value::from(*key))?;
                }
                f.write_str("}")
            }
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Self {
        Json::Plain(value)
    }
}

impl From<&Value> for Json {
    fn from(value: &Value) -> Self {
        Json::Plain(value.clone())
    }
}

impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Self {
        Json::Array(items)
    }
}

macro_rules! plain_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Json {
            fn from(value: $t) -> Self {
                Json::Plain(Value::from(value))
            }
        })*
    };
}
plain_from!(&str, String, u64, usize, bool);

impl From<&String> for Json {
    fn from(value: &String) -> Self {
        Json::Plain(Value::from(value.as_str()))
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Self {
        value.map_or(Json::Plain(Value::Null), Into::into)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_order_and_escapes() {
        let value = obj! {
            "type": "x\"y",
            "a": json!({"z": 1, "b": [1, 2]}),
            "list": vec![obj! {"k": 1u64}],
            "none": None::<String>,
        };
        let text = value.to_string();
        assert_eq!(
            text,
            r#"{"type":"x\"y","a":{"b":[1,2],"z":1},"list":[{"k":1}],"none":null}"#
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["type"], "x\"y");
    }
}
