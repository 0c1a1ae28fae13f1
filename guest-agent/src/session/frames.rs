//! Builders for the frames the agent emits, with the envelope fields every frame carries.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use workroom_protocol::anthropic::{ContentBlock, Message, MessageContent, Role};
use workroom_protocol::frame::{SystemFrame, UserFrame};
use workroom_protocol::Frame;

/// A fresh frame id.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current time as RFC 3339 with milliseconds (`2026-11-27T14:14:59.969Z`).
pub fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A `system` frame of `subtype` with `data`.
pub fn system(session_id: &str, subtype: &str, data: Value) -> Frame {
    let data = match data {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Frame::System(SystemFrame {
        subtype: subtype.into(),
        session_id: Some(session_id.into()),
        uuid: Some(uuid()),
        data,
    })
}

/// A `user` frame the agent emits (tool results, interrupt markers).
pub fn user(session_id: &str, content: Vec<ContentBlock>, tool_use_result: Option<Value>) -> Frame {
    Frame::User(UserFrame {
        message: Message {
            role: Role::User,
            content: MessageContent::Blocks(content),
        },
        parent_tool_use_id: None,
        session_id: Some(session_id.into()),
        uuid: Some(uuid()),
        timestamp: Some(timestamp()),
        tool_use_result,
        extra: Map::new(),
    })
}

/// `system/session_state_changed` (only sent when the client asked for state reports).
pub fn state(session_id: &str, state: &str) -> Frame {
    system(
        session_id,
        "session_state_changed",
        json!({"state": state, "sdk_host_only": true}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(timestamp().len(), 24);
    }
}
