//! Every tool, through the real agent, with results checked on disk and in the frames.

use serde_json::json;

use crate::harness::{read, say, tool, Setup};

#[tokio::test]
async fn every_tool_runs_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let r = |name: &str| root.join(name).display().to_string();
    let script = json!({"steps": [
        tool("Bash", json!({"command": "echo hello && mkdir -p sub && cd sub", "description": "Make a folder"})),
        tool("Bash", json!({"command": "pwd"})),
        tool("Read", json!({"file_path": r("notes.txt")})),
        tool("Edit", json!({"file_path": r("notes.txt"), "old_string": "apple", "new_string": "pear"})),
        tool("Write", json!({"file_path": r("new.txt"), "content": "fresh\n"})),
        tool("Glob", json!({"pattern": "**/*.txt"})),
        tool("Grep", json!({"pattern": "pea?r", "output_mode": "content"})),
        tool("TodoWrite", json!({"todos": [{"content": "Check notes", "status": "completed", "activeForm": "Checking notes"}]})),
        tool("Read", json!({"file_path": "/etc/hostname"})),
        tool("Edit", json!({"file_path": r("new.txt"), "old_string": "missing", "new_string": "x"})),
        tool("Nope", json!({})),
        say("All done."),
    ]});
    let mut agent = Setup::new(script)
        .in_dir(dir)
        .file("notes.txt", "one apple a day\n")
        .args(&["--permission-mode", "bypassPermissions"])
        .start()
        .await;
    agent.user("exercise every tool").await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["result"], "All done.");
    assert_eq!(result["num_turns"], 12);

    let results = agent.tool_results();
    assert_eq!(results.len(), 11, "{results:#?}");
    assert_eq!(results[0], ("hello".to_string(), false));
    assert!(
        results[1].0.ends_with("/sub"),
        "cwd persists: {}",
        results[1].0
    );
    assert!(
        results[2].0.contains("one apple a day") && results[2].0.contains("1\t"),
        "{}",
        results[2].0
    );
    assert!(!results[3].1, "edit: {}", results[3].0);
    assert_eq!(read(&agent.path("notes.txt")), "one pear a day\n");
    assert!(!results[4].1);
    assert_eq!(read(&agent.path("new.txt")), "fresh\n");
    assert!(
        results[5].0.contains("notes.txt") && results[5].0.contains("new.txt"),
        "{}",
        results[5].0
    );
    assert!(
        results[6].0.contains("notes.txt") && results[6].0.contains("one pear a day"),
        "{}",
        results[6].0
    );
    assert!(!results[7].1, "todo: {}", results[7].0);
    assert!(
        results[8].1 && results[8].0.contains("outside"),
        "read outside: {}",
        results[8].0
    );
    assert!(
        results[9].1,
        "edit of a missing string fails: {}",
        results[9].0
    );
    assert!(
        results[10].1 && results[10].0.contains("No such tool"),
        "{}",
        results[10].0
    );

    // The structured output reaches SDK clients as `tool_use_result`.
    let write_frame = agent
        .of("user", None)
        .into_iter()
        .find(|f| f["tool_use_result"]["type"] == "create")
        .cloned()
        .expect("a Write tool_use_result");
    assert_eq!(
        write_frame["tool_use_result"]["filePath"],
        json!(root.join("new.txt"))
    );

    // What the model received: the tool result of the first call, keyed by its id.
    let requests = agent.model_requests();
    let second = &requests[1].body;
    let last = second["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["content"][0]["type"], "tool_result");
    assert_eq!(last["content"][0]["content"], "hello");
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn oversized_tool_output_is_truncated_and_lines_stay_under_one_mebibyte() {
    let script = json!({"steps": [
        tool("Bash", json!({"command": "head -c 5000000 /dev/zero | tr '\\0' x"})),
        say("ok"),
    ]});
    let mut agent = Setup::new(script)
        .args(&["--permission-mode", "bypassPermissions"])
        .start()
        .await;
    agent.user("print a lot").await;
    let result = agent.result().await;
    assert_eq!(result["subtype"], "success");
    let (text, _) = &agent.tool_results()[0];
    assert!(text.contains("characters truncated"), "marker missing");
    assert!(text.len() < 40_000, "model sees {} bytes", text.len());
    // `next()` already asserted every line is under 1 MiB.
    assert_eq!(agent.close().await, 0);
}

#[tokio::test]
async fn write_refuses_paths_outside_the_folder_and_through_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
    let script = json!({"steps": [
        tool("Write", json!({"file_path": outside.path().join("a.txt"), "content": "x"})),
        tool("Write", json!({"file_path": root.join("escape/b.txt"), "content": "x"})),
        tool("Bash", json!({"command": "true"})),
        say("ok"),
    ]});
    let mut agent = Setup::new(script)
        .in_dir(dir)
        .args(&["--permission-mode", "bypassPermissions"])
        .start()
        .await;
    agent.user("try to escape").await;
    agent.result().await;
    let results = agent.tool_results();
    assert!(results[0].1 && results[1].1, "{results:#?}");
    assert!(!outside.path().join("a.txt").exists());
    assert!(!outside.path().join("b.txt").exists());
    assert_eq!(agent.close().await, 0);
}
