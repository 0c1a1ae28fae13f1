//! Sub-agents (`Task`): parallel runs with their own context, frames tagged with the parent call,
//! the same permission flow, the folder's agent types, interrupts and cost.

use serde_json::{json, Value};

use crate::harness::{read, say, Agent, Setup};

const STDIO: &[&str] = &["--permission-prompt-tool", "stdio"];

fn task(description: &str, prompt: &str, kind: Option<&str>) -> Value {
    let mut input = json!({"description": description, "prompt": prompt});
    if let Some(kind) = kind {
        input["subagent_type"] = json!(kind);
    }
    json!({"type": "tool_use", "name": "Task", "input": input})
}

/// Answers every permission request with allow, until the result.
async fn allow_all(agent: &mut Agent) -> Value {
    loop {
        let frame = agent
            .until(|f| f["type"] == "control_request" || f["type"] == "result")
            .await;
        if frame["type"] == "result" {
            return frame;
        }
        let id = frame["request_id"].as_str().unwrap().to_string();
        agent
            .respond(
                &id,
                json!({"behavior": "allow", "updatedInput": frame["request"]["input"]}),
            )
            .await;
    }
}

#[tokio::test]
async fn two_sub_agents_run_side_by_side_with_their_own_context_and_report_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".claude/agents")).unwrap();
    std::fs::write(
        root.join(".claude/agents/counter.md"),
        "---\nname: counter\ndescription: Counts receipts\ntools: Read, Glob\n---\nYou count receipts precisely.\n",
    )
    .unwrap();
    let script = json!({"rules": [
        {"when": {"last_user_text_contains": "count the receipts"}, "reply": say("COUNT: 3 receipts")},
        {"when": {"last_user_text_contains": "write the summary"},
         "reply": {"content": [{"type": "tool_use", "name": "Write", "input": {"file_path": root.join("summary.txt"), "content": "s"}}]}},
        {"when": {"tool_result_contains": "COUNT: 3"}, "reply": say("All done: both reported.")},
        {"when": {"tool_result_contains": "summary.txt"}, "reply": say("SUMMARY: written")},
        {"when": {"last_user_text_contains": "do both"},
         "reply": {"content": [task("Count receipts", "Please count the receipts.", Some("counter")),
                               task("Write summary", "Please write the summary.", None)]}},
    ]});
    let mut agent = Setup::new(script).in_dir(dir).args(STDIO).start().await;
    agent.initialize(Value::Null).await;
    agent.user("do both at once").await;
    let result = allow_all(&mut agent).await;
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["result"], "All done: both reported.");
    assert_eq!(read(&agent.path("summary.txt")), "s");

    // The model saw each sub-agent's own context: its system prompt and only its prompt.
    let requests = agent.model_requests();
    assert_eq!(
        requests.len(),
        5,
        "main, two sub-agents (one with a tool step), main"
    );
    let counter = requests
        .iter()
        .find(|r| r.body.to_string().contains("Please count the receipts."))
        .unwrap();
    assert_eq!(counter.body["messages"].as_array().unwrap().len(), 1);
    assert!(counter.body["system"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("You count receipts precisely."));
    let counter_tools: Vec<&str> = counter.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        counter_tools,
        ["Read", "Glob"],
        "the agent type's tools only"
    );
    // The main agent's Task tool lists the folder's agent type.
    let first = &requests[0].body;
    let task_tool = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Task")
        .unwrap();
    assert!(task_tool["description"]
        .as_str()
        .unwrap()
        .contains("- counter: Counts receipts"));

    // Frames of the sub-agents carry their Task call's id; the permission request names the
    // sub-agent's own Write.
    let task_ids: Vec<String> = agent
        .frames
        .iter()
        .filter(|f| f["type"] == "assistant" && f["parent_tool_use_id"].is_null())
        .flat_map(|f| {
            f["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|b| b["name"] == "Task")
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(task_ids.len(), 2);
    let tagged: Vec<&Value> = agent
        .frames
        .iter()
        .filter(|f| f["parent_tool_use_id"].is_string())
        .collect();
    assert!(tagged
        .iter()
        .all(|f| task_ids.contains(&f["parent_tool_use_id"].as_str().unwrap().to_string())));
    assert!(tagged
        .iter()
        .any(|f| f["type"] == "assistant"
            && f["message"]["content"][0]["text"] == "COUNT: 3 receipts"));
    let ask = agent
        .frames
        .iter()
        .find(|f| f["type"] == "control_request")
        .unwrap();
    assert_eq!(ask["request"]["tool_name"], "Write");
    // The Task results come back in the main context, in call order, with the sub-agents' words.
    let results = agent.tool_results();
    let main_results: Vec<&(String, bool)> = results
        .iter()
        .filter(|(text, _)| text.contains("COUNT:") || text.contains("SUMMARY:"))
        .collect();
    assert_eq!(main_results.len(), 2, "{results:?}");
    assert!(result["total_cost_usd"].as_f64().unwrap() > 0.0);
    agent.close().await;
}

#[tokio::test]
async fn an_unknown_agent_type_is_an_error_the_model_can_act_on() {
    let script = json!({"rules": [
        {"when": {"last_is_tool_result": true}, "reply": say("noted")},
        {"when": {}, "reply": {"content": [task("x", "do x", Some("nonexistent"))]}},
    ]});
    let mut agent = Setup::new(script).args(STDIO).start().await;
    agent.initialize(Value::Null).await;
    agent.user("go").await;
    agent.result().await;
    let results = agent.tool_results();
    assert!(
        results[0].1
            && results[0]
                .0
                .contains("Agent type 'nonexistent' not found. Available agents: general-purpose"),
        "{results:?}"
    );
    agent.close().await;
}

#[tokio::test]
async fn an_interrupt_stops_every_sub_agent() {
    let script = json!({"rules": [
        {"when": {"last_user_text_contains": "sleep"},
         "reply": {"content": [{"type": "tool_use", "name": "Bash", "input": {"command": "sleep 30"}}]}},
        {"when": {"last_user_text_contains": "go"},
         "reply": {"content": [task("a", "please sleep", None), task("b", "please sleep too", None)]}},
        {"when": {}, "reply": say("should not be reached")},
    ]});
    let mut agent = Setup::new(script)
        .args(&["--permission-mode", "bypassPermissions"])
        .start()
        .await;
    agent.initialize(Value::Null).await;
    agent.user("go").await;
    // Both sub-agents are running their command.
    for _ in 0..2 {
        agent
            .until(|f| {
                f["type"] == "assistant"
                    && f["parent_tool_use_id"].is_string()
                    && f["message"]["content"][0]["name"] == "Bash"
            })
            .await;
    }
    let started = std::time::Instant::now();
    agent.control("stop", json!({"subtype": "interrupt"})).await;
    let result = agent.result().await;
    assert!(
        started.elapsed().as_secs() < 10,
        "the interrupt took {:?}",
        started.elapsed()
    );
    assert_eq!(result["subtype"], "error_during_execution", "{result}");
    let results = agent.tool_results();
    assert!(
        results
            .iter()
            .filter(|(t, e)| *e && t.contains("sub-agent was interrupted"))
            .count()
            == 2,
        "{results:?}"
    );
    agent.close().await;
}
