//! Wire behaviour: version, initialize, frame order, partial messages, and bad input.

use serde_json::{json, Value};

use crate::harness::{say, tool, Setup};

#[test]
fn version_matches_what_sdks_check() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_workroom-agent"))
        .arg("-v")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim(), "2.1.332 (Claude Code)");
}

#[tokio::test]
async fn initialize_is_answered_before_any_user_message() {
    let mut agent = Setup::new(json!({})).start().await;
    let answer = agent.initialize(Value::Null).await;
    assert_eq!(answer["response"]["subtype"], "success");
    assert_eq!(answer["response"]["request_id"], "init");
    let body = &answer["response"]["response"];
    assert_eq!(body["claude_code_version"], "2.1.332");
    assert_eq!(body["current_permission_mode"], "default");
    assert_eq!(agent.close().await, 0);
    assert!(agent.model_requests().is_empty());
}

#[tokio::test]
async fn a_turn_has_init_blocks_and_exactly_one_result_with_partial_events_in_order() {
    let script = json!({"steps": [
        {"content": [
            {"type": "thinking", "thinking": "Let me think."},
            {"type": "text", "text": "Listing files."},
            {"type": "tool_use", "name": "Glob", "input": {"pattern": "*"}}
        ], "usage": {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50}},
        say("Done."),
    ]});
    let mut agent = Setup::new(script)
        .args(&["--include-partial-messages", "--model", "claude-sonnet-4-5"])
        .env("MAX_THINKING_TOKENS", "2048")
        .start()
        .await;
    agent.user("list").await;
    let result = agent.result().await;
    let kinds: Vec<String> = agent
        .frames
        .iter()
        .map(|f| match (&f["type"], &f["subtype"], &f["event"]["type"]) {
            (Value::String(t), Value::String(s), _) => format!("{t}/{s}"),
            (Value::String(t), _, Value::String(e)) => format!("{t}/{e}"),
            (Value::String(t), _, _) => t.clone(),
            _ => "?".into(),
        })
        .collect();
    assert_eq!(kinds[0], "system/init");
    assert_eq!(kinds[1], "system/status");
    assert_eq!(kinds[2], "stream_event/message_start");
    // For each block: start, deltas, the complete assistant frame, then stop.
    let first_assistant = kinds.iter().position(|k| k == "assistant").unwrap();
    assert_eq!(
        kinds[first_assistant + 1],
        "stream_event/content_block_stop"
    );
    assert_eq!(kinds.iter().filter(|k| k.starts_with("result")).count(), 1);
    assert_eq!(kinds.last().unwrap(), "result/success");

    let assistants = agent.of("assistant", None);
    assert_eq!(assistants.len(), 4, "one frame per block");
    assert_eq!(assistants[0]["message"]["content"][0]["type"], "thinking");
    assert!(!assistants[0]["message"]["content"][0]["signature"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(
        assistants[0]["message"]["id"],
        assistants[2]["message"]["id"]
    );

    // Thinking is echoed back with its signature; caching marks the system prompt and the last block.
    let second = &agent.model_requests()[1].body;
    let history = second["messages"].as_array().unwrap();
    assert_eq!(history[1]["content"][0]["type"], "thinking");
    assert_eq!(
        history[1]["content"][0]["signature"],
        assistants[0]["message"]["content"][0]["signature"]
    );
    assert_eq!(second["system"][0]["cache_control"]["type"], "ephemeral");
    let last = history.last().unwrap()["content"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["cache_control"]["type"], "ephemeral");
    assert!(
        history[0]["content"][0].get("cache_control").is_none(),
        "the breakpoint moves"
    );
    assert_eq!(second["thinking"]["budget_tokens"], 2048);

    assert_eq!(result["num_turns"], 2);
    assert_eq!(result["usage"]["cache_read_input_tokens"], 50);
    assert!(result["total_cost_usd"].as_f64().unwrap() > 0.0);
    assert!(
        result["modelUsage"]["claude-sonnet-4-5"]["costUSD"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(result["duration_ms"].is_u64() && result["duration_api_ms"].is_u64());
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn malformed_and_oversized_input_is_skipped_and_the_session_goes_on() {
    let mut agent = Setup::new(json!({"steps": [say("still here")]}))
        .start()
        .await;
    agent.send_raw("this is not json\n").await;
    agent.send_raw("{\"type\": \"user\", broken\n").await;
    agent.send_raw("{\"type\": \"user\"}\n").await;
    agent.send_raw("[1, 2, 3]\n").await;
    agent
        .send_raw(&format!(
            "{{\"type\":\"user\",\"x\":\"{}\"}}\n",
            "a".repeat(2 << 20)
        ))
        .await;
    agent.send(json!({"type": "brand_new_frame", "x": 1})).await;
    agent.send(json!({"type": "keep_alive"})).await;
    let unsupported = agent
        .control(
            "u1",
            json!({"subtype": "rewind_files", "user_message_id": "x"}),
        )
        .await;
    assert_eq!(unsupported["response"]["subtype"], "error");
    assert!(unsupported["response"]["error"]
        .as_str()
        .unwrap()
        .contains("rewind_files"));
    agent.user("are you there?").await;
    let result = agent.result().await;
    assert_eq!(result["result"], "still here");
    assert_eq!(agent.model_requests().len(), 1);
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn max_turns_stops_a_tool_loop() {
    let script =
        json!({"rules": [{"when": {}, "reply": tool("Bash", json!({"command": "echo again"}))}]});
    let mut agent = Setup::new(script).args(&["--max-turns", "2"]).start().await;
    agent.user("loop forever").await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "error_max_turns");
    assert_eq!(result["is_error"], true);
    assert_eq!(result["errors"][0], "Reached maximum number of turns (2)");
    assert!(result.get("result").is_none());
    assert_eq!(agent.model_requests().len(), 2);
    assert_eq!(agent.close().await, 1);
}

#[tokio::test]
async fn session_state_frames_when_asked() {
    let mut agent = Setup::new(json!({"steps": [say("hi")]}))
        .env("CLAUDE_CODE_SDK_READS_SESSION_STATE", "1")
        .start()
        .await;
    agent.user("hello").await;
    agent.result().await;
    let idle = agent
        .until(|f| f["subtype"] == "session_state_changed")
        .await;
    assert_eq!(idle["state"], "idle");
    let states: Vec<_> = agent
        .of("system", Some("session_state_changed"))
        .iter()
        .map(|f| f["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, vec!["running", "idle"]);
    agent.close().await;
}
