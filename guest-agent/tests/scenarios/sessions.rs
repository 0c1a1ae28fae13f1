//! Sessions across processes and providers: resume, OpenAI-compatible servers, context compaction.

use serde_json::json;

use crate::harness::{say, Setup};

#[tokio::test]
async fn resume_continues_with_the_full_history() {
    let mut first = Setup::new(json!({"steps": [say("The secret word is banana.")]}))
        .start()
        .await;
    first.user("remember banana").await;
    let result = first.result().await;
    let session_id = result["session_id"].as_str().unwrap().to_string();
    assert_eq!(first.close().await, 0);

    let second = Setup::new(json!({"steps": [say("It was banana.")]}))
        .args(&["--resume", &session_id])
        .reuse(first.dir, first.state);
    let mut second = second.start().await;
    second.user("what was the word?").await;
    let result = second.result().await;
    assert_eq!(result["session_id"], session_id.as_str());
    let messages = second.model_requests()[0].body["messages"].clone();
    let text = messages.to_string();
    assert!(
        text.contains("remember banana") && text.contains("The secret word is banana."),
        "{text}"
    );
    assert_eq!(messages.as_array().unwrap().len(), 3);
    assert_eq!(second.close().await, 0);
}

#[tokio::test]
async fn resuming_an_unknown_session_fails_clearly() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_workroom-agent"))
        .args([
            "--resume",
            "no-such-session",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
        ])
        .env(
            "WORKROOM_AGENT_STATE_DIR",
            tempfile::tempdir().unwrap().path(),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No conversation found"));
    assert!(out.stdout.is_empty(), "stdout carries only frames");
}

#[tokio::test]
async fn openai_compatible_servers_work_even_when_finish_reason_lies() {
    let script = json!({"steps": [
        {"content": [{"type": "text", "text": "Running it."}, {"type": "tool_use", "name": "Bash", "input": {"command": "echo from-openai"}}], "openai_finish_reason": "stop"},
        say("Saw it."),
    ]});
    let mut agent = Setup::new(script)
        .openai("qwen3")
        .args(&["--permission-mode", "bypassPermissions"])
        .start()
        .await;
    agent.user("run it").await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(agent.tool_results()[0], ("from-openai".to_string(), false));
    assert_eq!(result["result"], "Saw it.");
    let requests = agent.model_requests();
    assert!(requests[0].path.starts_with("/v1/chat/completions"));
    assert_eq!(requests[0].body["model"], "qwen3");
    let second = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(second.last().unwrap()["role"], "tool");
    assert_eq!(second.last().unwrap()["content"], "from-openai");
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn a_full_context_is_compacted_instead_of_failing() {
    let script = json!({"steps": [
        say("first answer"),
        say("Summary: the user said hello twice."),
        say("after compaction"),
    ]});
    let mut agent = Setup::new(script)
        .env("WORKROOM_CONTEXT_WINDOW", "3000")
        .start()
        .await;
    agent.user("hello").await;
    agent.result().await;
    agent.user(&"hello again ".repeat(300)).await;
    let result = agent.result().await;
    assert_eq!(result["result"], "after compaction");
    assert_eq!(agent.of("system", Some("compact_boundary")).len(), 1);
    let requests = agent.model_requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[1].body["messages"]
        .to_string()
        .contains("Summarise the conversation"));
    let after = requests[2].body["messages"].to_string();
    assert!(after.contains("Summary: the user said hello twice."));
    assert!(
        !after.contains("first answer"),
        "old turns are replaced by the summary"
    );
    agent.close().await;
}
