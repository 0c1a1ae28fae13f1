//! Interrupts while the model streams, while a tool runs, and while a permission prompt is open.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{say, tool, Setup};

#[tokio::test]
async fn interrupt_while_streaming_then_the_session_continues() {
    let script = json!({"steps": [
        {"content": [{"type": "text", "text": "a long and slow answer that keeps going and going"}], "event_delay_ms": 150, "text_chunk": 4},
        say("second turn works"),
    ]});
    let mut agent = Setup::new(script)
        .args(&["--include-partial-messages"])
        .start()
        .await;
    agent.initialize(serde_json::Value::Null).await;
    agent.user("talk slowly").await;
    agent
        .until(|f| f["type"] == "stream_event" && f["event"]["type"] == "content_block_delta")
        .await;
    let answer = agent.control("int1", json!({"subtype": "interrupt"})).await;
    assert_eq!(answer["response"]["subtype"], "success");
    assert_eq!(answer["response"]["response"]["still_queued"], json!([]));
    let result = agent.result().await;
    assert_eq!(result["subtype"], "error_during_execution");
    assert_eq!(result["terminal_reason"], "aborted_streaming");
    let marker = agent
        .of("user", None)
        .iter()
        .any(|f| f["message"]["content"][0]["text"] == "[Request interrupted by user]");
    assert!(marker);
    let stop = agent
        .of("stream_event", None)
        .into_iter()
        .find(|f| f["event"]["type"] == "message_stop")
        .cloned();
    assert!(stop.expect("abandoned message_stop")["event"]["abandoned_blocks"].is_object());

    agent.user("again").await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["result"], "second turn works");
    // The second request carries the interrupted exchange so the model knows.
    let second = &agent.model_requests()[1].body;
    assert!(second["messages"]
        .to_string()
        .contains("[Request interrupted by user]"));
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn interrupt_while_a_tool_runs_kills_it() {
    let script = json!({"steps": [tool("Bash", json!({"command": "sleep 60"})), say("never")]});
    let mut agent = Setup::new(script)
        .args(&["--permission-mode", "bypassPermissions"])
        .start()
        .await;
    agent.user("sleep").await;
    agent
        .until(|f| f["type"] == "assistant" && f["message"]["content"][0]["type"] == "tool_use")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    agent.control("int", json!({"subtype": "interrupt"})).await;
    let result = agent.result().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(result["terminal_reason"], "aborted_tools");
    let (text, is_error) = &agent.tool_results()[0];
    assert!(*is_error && text.contains("interrupted"), "{text}");
    assert_eq!(agent.model_requests().len(), 1);
    assert_eq!(
        agent.close().await,
        1,
        "exit code follows the last error result"
    );
}

#[tokio::test]
async fn interrupt_while_a_permission_prompt_is_pending_cancels_it() {
    let script = json!({"steps": [tool("Bash", json!({"command": "touch x"})), say("never")]});
    let mut agent = Setup::new(script)
        .args(&["--permission-prompt-tool", "stdio"])
        .start()
        .await;
    agent.user("touch").await;
    let ask = agent.until(|f| f["type"] == "control_request").await;
    agent.control("int", json!({"subtype": "interrupt"})).await;
    // The prompt is withdrawn before the interrupt is acknowledged, as Claude Code does.
    let cancel = agent
        .frames
        .iter()
        .position(|f| f["type"] == "control_cancel_request" && f["request_id"] == ask["request_id"])
        .expect("the pending prompt is withdrawn");
    let answered = agent
        .frames
        .iter()
        .position(|f| f["type"] == "control_response" && f["response"]["request_id"] == "int")
        .unwrap();
    assert!(cancel < answered);
    let result = agent.result().await;
    assert_eq!(result["subtype"], "error_during_execution");
    assert!(!agent.path("x").exists());
    // A late answer to the cancelled prompt is ignored, not acted on.
    agent
        .respond(
            ask["request_id"].as_str().unwrap(),
            json!({"behavior": "allow"}),
        )
        .await;
    assert_eq!(agent.close().await, 1);
    assert!(!agent.path("x").exists());
}

#[tokio::test]
async fn stdin_eof_finishes_queued_turns_before_exiting() {
    let script = json!({"steps": [say("one"), say("two")]});
    let mut agent = Setup::new(script).start().await;
    agent.user("first").await;
    agent.user("second").await;
    let code = agent.close().await;
    assert_eq!(code, 0);
    let results = agent.of("result", None);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["result"], "one");
    assert_eq!(results[1]["result"], "two");
    assert_eq!(
        agent.of("system", Some("init")).len(),
        2,
        "one init per turn"
    );
}
