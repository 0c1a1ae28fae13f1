//! The permission flow: can_use_tool requests, allow/deny answers, rules, modes and hooks.

use serde_json::{json, Value};

use crate::harness::{read, say, tool, Agent, Setup};

const STDIO: &[&str] = &["--permission-prompt-tool", "stdio"];

async fn write_session(answer: impl FnOnce(&Value) -> Value) -> (Agent, Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().canonicalize().unwrap().join("hello.txt");
    let script = json!({"steps": [
        tool("Write", json!({"file_path": target, "content": "hi\n"})),
        say("Finished."),
    ]});
    let mut agent = Setup::new(script).in_dir(dir).args(STDIO).start().await;
    agent.initialize(Value::Null).await;
    agent.user("write hello").await;
    let ask = agent.until(|f| f["type"] == "control_request").await;
    let response = answer(&ask);
    let id = ask["request_id"].as_str().unwrap().to_string();
    agent.respond(&id, response).await;
    let result = agent.result().await;
    (agent, ask, result)
}

#[tokio::test]
async fn allow_runs_the_tool_and_the_request_carries_what_a_prompt_needs() {
    let (mut agent, ask, result) =
        write_session(|ask| json!({"behavior": "allow", "updatedInput": ask["request"]["input"]}))
            .await;
    let request = &ask["request"];
    assert_eq!(request["subtype"], "can_use_tool");
    assert_eq!(request["tool_name"], "Write");
    assert_eq!(request["description"], "hello.txt");
    assert!(request["tool_use_id"]
        .as_str()
        .unwrap()
        .starts_with("toolu_"));
    assert_eq!(request["permission_suggestions"][0]["type"], "setMode");
    assert!(request["blocked_path"]
        .as_str()
        .unwrap()
        .ends_with("/hello.txt"));
    assert_eq!(result["subtype"], "success");
    assert_eq!(read(&agent.path("hello.txt")), "hi\n");
    assert_eq!(result["permission_denials"], json!([]));
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn deny_never_runs_the_tool_and_tells_the_model() {
    let (mut agent, _, result) =
        write_session(|_| json!({"behavior": "deny", "message": "Not in my folder"})).await;
    assert!(!agent.path("hello.txt").exists(), "a denied tool ran");
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["permission_denials"][0]["tool_name"], "Write");
    assert_eq!(
        agent.tool_results()[0],
        ("Not in my folder".to_string(), true)
    );
    let requests = agent.model_requests();
    assert_eq!(requests.len(), 2, "the model hears about the denial");
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn deny_with_interrupt_ends_the_turn() {
    let (mut agent, _, result) =
        write_session(|_| json!({"behavior": "deny", "message": "Stop", "interrupt": true})).await;
    assert!(!agent.path("hello.txt").exists());
    assert_eq!(result["subtype"], "error_during_execution");
    assert_eq!(result["is_error"], true);
    assert_eq!(
        agent.model_requests().len(),
        1,
        "no request after an interrupting deny"
    );
    assert_eq!(agent.close().await, 1);
}

#[tokio::test]
async fn updated_input_is_what_runs() {
    let (mut agent, _, result) = write_session(|ask| {
        let mut input = ask["request"]["input"].clone();
        input["content"] = json!("changed by the user\n");
        json!({"behavior": "allow", "updatedInput": input})
    })
    .await;
    assert_eq!(result["subtype"], "success");
    assert_eq!(read(&agent.path("hello.txt")), "changed by the user\n");
    agent.close().await;
}

#[tokio::test]
async fn an_error_answer_counts_as_deny() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().canonicalize().unwrap().join("x.txt");
    let script =
        json!({"steps": [tool("Write", json!({"file_path": target, "content": "x"})), say("ok")]});
    let mut agent = Setup::new(script).in_dir(dir).args(STDIO).start().await;
    agent.user("go").await;
    let ask = agent.until(|f| f["type"] == "control_request").await;
    agent
        .send(json!({"type": "control_response", "response": {"subtype": "error", "request_id": ask["request_id"], "error": "callback crashed"}}))
        .await;
    agent.result().await;
    assert!(!agent.path("x.txt").exists());
    assert!(agent.tool_results()[0].0.contains("callback crashed"));
    agent.close().await;
}

#[tokio::test]
async fn mode_switches_change_what_asks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let script = json!({"steps": [
        tool("Write", json!({"file_path": root.join("a.txt"), "content": "a"})),
        say("wrote a"),
        tool("Write", json!({"file_path": root.join("b.txt"), "content": "b"})),
        say("tried b"),
    ]});
    let mut agent = Setup::new(script).in_dir(dir).args(STDIO).start().await;
    agent.initialize(Value::Null).await;
    let answer = agent
        .control(
            "m1",
            json!({"subtype": "set_permission_mode", "mode": "acceptEdits"}),
        )
        .await;
    assert_eq!(answer["response"]["response"]["mode"], "acceptEdits");
    agent.user("write a").await;
    agent.result().await;
    assert!(agent.path("a.txt").exists());
    assert!(
        agent.of("control_request", None).is_empty(),
        "acceptEdits must not ask for an edit"
    );

    agent
        .control(
            "m2",
            json!({"subtype": "set_permission_mode", "mode": "plan"}),
        )
        .await;
    agent.user("write b").await;
    let result = agent.result().await;
    assert!(!agent.path("b.txt").exists(), "plan mode is read-only");
    assert!(agent.tool_results()[1].0.contains("plan mode"));
    assert_eq!(result["permission_denials"][0]["tool_name"], "Write");
    let init = agent.of("system", Some("init"));
    assert_eq!(init.last().unwrap()["permissionMode"], "plan");

    let bad = agent
        .control(
            "m3",
            json!({"subtype": "set_permission_mode", "mode": "yolo"}),
        )
        .await;
    assert_eq!(bad["response"]["subtype"], "error");
    agent.close().await;
}

#[tokio::test]
async fn rules_from_the_command_line() {
    let script = json!({"steps": [
        tool("Bash", json!({"command": "touch allowed.txt"})),
        tool("Bash", json!({"command": "rm -f keep.txt"})),
        tool("Bash", json!({"command": "touch asked.txt"})),
        say("done"),
    ]});
    let mut agent = Setup::new(script)
        .file("keep.txt", "precious")
        .args(&[
            "--allowedTools",
            "Bash(touch allowed.txt)",
            "--disallowedTools",
            "Bash(rm:*)",
        ])
        .start()
        .await;
    agent.user("go").await;
    let result = agent.result().await;
    assert!(agent.path("allowed.txt").exists());
    assert!(agent.path("keep.txt").exists(), "the deny rule must hold");
    assert!(
        !agent.path("asked.txt").exists(),
        "without a prompt tool, ask means deny"
    );
    let denied = agent.of("system", Some("permission_denied"));
    assert_eq!(denied.len(), 1);
    assert_eq!(result["permission_denials"].as_array().unwrap().len(), 2);
    // Who decided travels with each tool result.
    let decisions: Vec<_> = agent
        .of("user", None)
        .iter()
        .filter_map(|f| f.get("tool_result_meta"))
        .map(|m| m[0]["permission_decision"].clone())
        .collect();
    assert_eq!(
        decisions[0],
        json!({"decision": "accept", "source": "rule Bash(touch allowed.txt)"})
    );
    assert_eq!(decisions[1]["decision"], "reject");
    agent.close().await;
}

#[tokio::test]
async fn always_allow_rules_granted_by_the_user_apply_for_the_rest_of_the_session() {
    let script = json!({"steps": [
        tool("Bash", json!({"command": "touch one.txt"})),
        tool("Bash", json!({"command": "touch two.txt"})),
        say("done"),
    ]});
    let mut agent = Setup::new(script).args(STDIO).start().await;
    agent.user("go").await;
    let ask = agent.until(|f| f["type"] == "control_request").await;
    let suggestion = ask["request"]["permission_suggestions"][0].clone();
    assert_eq!(suggestion["rules"][0]["ruleContent"], "touch:*");
    agent
        .respond(
            ask["request_id"].as_str().unwrap(),
            json!({"behavior": "allow", "updatedInput": ask["request"]["input"], "updatedPermissions": [suggestion]}),
        )
        .await;
    agent.result().await;
    assert!(agent.path("one.txt").exists() && agent.path("two.txt").exists());
    assert_eq!(
        agent.of("control_request", None).len(),
        1,
        "the second touch is covered by the new rule"
    );
    agent.close().await;
}

#[tokio::test]
async fn hooks_are_asked_before_permission_and_can_block() {
    let script = json!({"steps": [
        tool("Bash", json!({"command": "touch blocked.txt"})),
        tool("Bash", json!({"command": "echo fine"})),
        say("done"),
    ]});
    let mut agent = Setup::new(script).args(STDIO).start().await;
    let hooks = json!({
        "PreToolUse": [{"matcher": "Bash", "hookCallbackIds": ["pre"]}],
        "PostToolUse": [{"matcher": null, "hookCallbackIds": ["post"]}],
    });
    let init = agent.initialize(hooks).await;
    assert_eq!(init["response"]["response"]["hooks_applied"], true);
    agent.user("go").await;

    let pre = agent.until(|f| f["type"] == "control_request").await;
    assert_eq!(pre["request"]["subtype"], "hook_callback");
    assert_eq!(pre["request"]["callback_id"], "pre");
    assert_eq!(pre["request"]["input"]["hook_event_name"], "PreToolUse");
    assert_eq!(
        pre["request"]["input"]["tool_input"]["command"],
        "touch blocked.txt"
    );
    agent
        .respond(
            pre["request_id"].as_str().unwrap(),
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": "no touching"}}),
        )
        .await;

    // The read-only echo: PreToolUse (no opinion), runs without asking, then PostToolUse with its output.
    let pre2 = agent.until(|f| f["type"] == "control_request").await;
    assert_eq!(pre2["request"]["callback_id"], "pre");
    agent
        .respond(pre2["request_id"].as_str().unwrap(), json!({}))
        .await;
    let post = agent.until(|f| f["type"] == "control_request").await;
    assert_eq!(post["request"]["callback_id"], "post");
    assert_eq!(
        post["request"]["input"]["tool_response"]["stdout"],
        "fine\n"
    );
    agent
        .respond(
            post["request_id"].as_str().unwrap(),
            json!({"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "remember this"}}),
        )
        .await;
    agent.result().await;
    assert!(!agent.path("blocked.txt").exists());
    let results = agent.tool_results();
    assert_eq!(results[0], ("no touching".to_string(), true));
    assert!(results[1].0.contains("remember this"));
    assert!(agent
        .of("control_request", None)
        .iter()
        .all(|f| f["request"]["subtype"] != "can_use_tool"));
    agent.close().await;
}

#[tokio::test]
async fn an_approved_plan_ends_plan_mode_and_questions_are_answered_through_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let question = json!({"question": "Which format?", "header": "Format", "multiSelect": false,
        "options": [{"label": "CSV", "description": "plain text"}, {"label": "XLSX", "description": "Excel"}]});
    let script = json!({"steps": [
        tool("AskUserQuestion", json!({"questions": [question]})),
        tool("ExitPlanMode", json!({"plan": "1. Write report.txt"})),
        tool("Write", json!({"file_path": root.join("report.txt"), "content": "r"})),
        say("done"),
    ]});
    let mut agent = Setup::new(script)
        .in_dir(dir)
        .args(&[
            "--permission-prompt-tool",
            "stdio",
            "--permission-mode",
            "plan",
        ])
        .start()
        .await;
    agent.initialize(Value::Null).await;
    agent.user("make a report").await;

    // The question reaches the client as a permission prompt; the answers come back in the input.
    let ask = agent.until(|f| f["type"] == "control_request").await;
    assert_eq!(ask["request"]["tool_name"], "AskUserQuestion");
    let mut input = ask["request"]["input"].clone();
    input["answers"] = json!({"Which format?": "XLSX"});
    let id = ask["request_id"].as_str().unwrap().to_string();
    agent
        .respond(&id, json!({"behavior": "allow", "updatedInput": input}))
        .await;

    // Plan mode still lets the plan through to the user, who approves it.
    let ask = agent
        .until(|f| f["type"] == "control_request" && f["request"]["tool_name"] == "ExitPlanMode")
        .await;
    assert_eq!(ask["request"]["input"]["plan"], "1. Write report.txt");
    let id = ask["request_id"].as_str().unwrap().to_string();
    agent
        .respond(
            &id,
            json!({"behavior": "allow", "updatedInput": ask["request"]["input"]}),
        )
        .await;

    // Out of plan mode, the Write asks as in default mode.
    let ask = agent
        .until(|f| f["type"] == "control_request" && f["request"]["tool_name"] == "Write")
        .await;
    let id = ask["request_id"].as_str().unwrap().to_string();
    agent
        .respond(
            &id,
            json!({"behavior": "allow", "updatedInput": ask["request"]["input"]}),
        )
        .await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "success");
    assert_eq!(read(&agent.path("report.txt")), "r");
    let results = agent.tool_results();
    assert!(
        results[0].0.contains("\"Which format?\"=\"XLSX\"") && !results[0].1,
        "{results:?}"
    );
    assert!(results[1].0.contains("approved your plan"), "{results:?}");
    let status = agent.of("system", Some("status"));
    assert!(
        status.iter().any(|s| s["permissionMode"] == "default"),
        "{status:?}"
    );
    agent.close().await;
}
