//! A tagged enum whose unknown variants decode to raw JSON instead of failing.
//!
//! serde's internally tagged enums reject unknown tags; the wire protocol grows by adding tags, so every
//! protocol enum here keeps an `Other(Value)` fallback that re-encodes byte-for-byte the same object.

/// Declares `enum $name { $Variant($Type), ..., Other(serde_json::Value) }` tagged by the `$tag` field.
///
/// Each payload type must serialise to a JSON object (a struct); the tag field is added on encode and
/// removed before the payload is decoded.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident tag $tag:literal {
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )*
            /// A variant this version does not know; kept verbatim.
            Other(serde_json::Value),
        }

        impl $name {
            /// The wire tag of this value (`None` for an `Other` without a string tag).
            pub fn tag(&self) -> Option<&str> {
                match self {
                    $( Self::$variant(_) => Some($wire), )*
                    Self::Other(v) => v.get($tag).and_then(serde_json::Value::as_str),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::Error as _;
                let (tag, payload) = match self {
                    $( Self::$variant(inner) => ($wire, serde_json::to_value(inner).map_err(S::Error::custom)?), )*
                    Self::Other(v) => return v.serialize(serializer),
                };
                let mut object = match payload {
                    serde_json::Value::Object(map) => map,
                    _ => return Err(S::Error::custom(concat!(stringify!($name), " payload is not an object"))),
                };
                object.insert($tag.to_owned(), serde_json::Value::String(tag.to_owned()));
                object.serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let mut value = serde_json::Value::deserialize(deserializer)?;
                let tag = value.get($tag).and_then(serde_json::Value::as_str).map(str::to_owned);
                match tag.as_deref() {
                    $( Some($wire) => {
                        if let Some(map) = value.as_object_mut() {
                            map.remove($tag);
                        }
                        serde_json::from_value(value)
                            .map(Self::$variant)
                            .map_err(|e| D::Error::custom(format!(concat!("invalid ", $wire, ": {}"), e)))
                    } )*
                    _ => Ok(Self::Other(value)),
                }
            }
        }
    };
}

pub(crate) use open_enum;
