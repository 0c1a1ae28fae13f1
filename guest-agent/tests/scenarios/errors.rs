//! Model API failures: retries with the server's delay, dropped streams, and errors that end the turn.

use serde_json::json;

use crate::harness::{say, Setup};

#[tokio::test]
async fn rate_limits_and_overload_are_retried_with_announcements() {
    let script = json!({"steps": [
        {"error": {"status": 429, "message": "slow down", "headers": {"retry-after-ms": "30"}}},
        {"error": {"status": 529, "message": "Overloaded", "headers": {"retry-after": "0"}}},
        say("made it"),
    ]});
    let mut agent = Setup::new(script).start().await;
    agent.user("hi").await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["result"], "made it");
    let retries = agent.of("system", Some("api_retry"));
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[0]["error_status"], 429);
    assert_eq!(retries[0]["retry_delay_ms"], 30);
    assert_eq!(retries[1]["error"], "overloaded");
    // Every request carried the headers a real API needs.
    for request in agent.model_requests() {
        assert_eq!(request.headers["anthropic-version"], "2023-06-01");
        assert_eq!(request.headers["x-api-key"], "sk-ant-test-key");
        assert_eq!(request.body["stream"], true);
    }
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn dropped_and_failing_streams_are_retried() {
    let script = json!({"steps": [
        {"content": [{"type": "text", "text": "this will be cut off"}], "drop_after_events": 3},
        {"content": [{"type": "text", "text": "overloaded midway"}], "error_after_events": {"after": 3}},
        say("complete"),
    ]});
    let mut agent = Setup::new(script).start().await;
    agent.user("hi").await;
    let result = agent.result().await;
    assert_eq!(result["result"], "complete");
    assert_eq!(agent.of("system", Some("api_retry")).len(), 2);
    agent.close().await;
}

#[tokio::test]
async fn a_bad_request_ends_the_turn_with_a_clear_error() {
    let script = json!({"steps": [{"error": {"status": 400, "message": "prompt is too long"}}], "rules": [{"when": {}, "reply": say("recovered")}]});
    let mut agent = Setup::new(script).start().await;
    agent.user("hi").await;
    let result = agent.result().await;
    assert_eq!(result["is_error"], true);
    assert_eq!(
        result["subtype"], "success",
        "Claude Code reports API errors this way"
    );
    assert_eq!(result["api_error_status"], 400);
    assert_eq!(result["terminal_reason"], "api_error");
    assert!(result["result"]
        .as_str()
        .unwrap()
        .contains("API Error: 400 prompt is too long"));
    let synthetic = agent.of("assistant", None);
    assert_eq!(synthetic.last().unwrap()["message"]["model"], "<synthetic>");
    assert_eq!(
        agent.of("system", Some("api_retry")).len(),
        0,
        "400 is not retried"
    );
    // The session survives the error.
    agent.user("again").await;
    assert_eq!(agent.result().await["result"], "recovered");
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn retries_give_up_after_the_limit() {
    let script = json!({"rules": [{"when": {}, "reply": {"error": {"status": 529, "headers": {"retry-after-ms": "1"}}}}]});
    let mut agent = Setup::new(script)
        .env("WORKROOM_MAX_RETRIES", "3")
        .start()
        .await;
    agent.user("hi").await;
    let result = agent.result().await;
    assert_eq!(result["is_error"], true);
    assert_eq!(result["api_error_status"], 529);
    assert_eq!(agent.of("system", Some("api_retry")).len(), 3);
    assert_eq!(agent.model_requests().len(), 4);
    assert_eq!(agent.close().await, 1);
}

#[tokio::test]
async fn an_unreachable_model_is_reported_not_hung() {
    let mut agent = Setup::new(json!({}))
        .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
        .env("WORKROOM_MAX_RETRIES", "1")
        .start()
        .await;
    agent.user("hi").await;
    let result = agent.result().await;
    assert_eq!(result["is_error"], true);
    assert!(
        result["result"]
            .as_str()
            .unwrap()
            .contains("connection failed"),
        "{result}"
    );
    agent.close().await;
}
