//! Sessions end to end, with the guest played locally (the real agent binary as a host process) so
//! these run fast and without a hypervisor: permissions, the transcript, usage, rules, a crashed VM,
//! resume, idle shutdown and the memory cap. `vm_*.rs` runs the same through real VMs.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fake_model::{FakeModel, Script};
use serde_json::{json, Value};
use workroom_host::session::{
    Host, NewSession, PermissionAnswer, SessionEvent, SessionHandle, VmState,
};

use workroom_host::session::undo::{OnConflict, UndoOutcome};
use workroom_host::store::Direction;
use workroom_host::vm::FakeBackend;

struct Rig {
    host: Host,
    backend: Arc<FakeBackend>,
    model: FakeModel,
    folder: PathBuf,
    id: String,
    /// Guests of the VMs started so far, newest last.
    guests: Arc<std::sync::Mutex<Vec<Arc<workroom_host::vm::FakeGuest>>>>,
    _data: tempfile::TempDir,
    _work: tempfile::TempDir,
}

/// A host with a placeholder image (the fake backend boots nothing), one session over a folder named
/// "Taxes 2026", and the fake model (scripted with the folder's path) behind the real model proxy.
fn rig(script: impl Fn(&str) -> Value, settings: &[(&str, &str)]) -> Rig {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let images = data.path().join("images");
    std::fs::create_dir_all(images.join("x86_64")).unwrap();
    for f in ["kernel", "initramfs.cpio.gz"] {
        std::fs::write(images.join("x86_64").join(f), b"unused by the fake backend").unwrap();
    }
    std::fs::write(images.join("x86_64/manifest.json"), b"{}").unwrap();
    let folder = work.path().join("Taxes 2026");
    std::fs::create_dir_all(&folder).unwrap();
    let backend = Arc::new(FakeBackend::new());
    let id = Host::open(data.path(), &images, backend.clone())
        .unwrap()
        .create_session(std::slice::from_ref(&folder), NewSession::default())
        .unwrap()
        .id;
    // The locally played guest runs the agent on the host, so the model names host paths.
    let folder = folder.canonicalize().unwrap();
    let model = FakeModel::start(
        Script::from_json_str(&script(&folder.to_string_lossy()).to_string()).unwrap(),
    )
    .unwrap();
    let store = workroom_host::store::Store::open(data.path()).unwrap();
    store.set_setting("base_url", &model.base_url()).unwrap();
    for (k, v) in settings {
        store.set_setting(k, v).unwrap();
    }
    std::env::set_var("ANTHROPIC_API_KEY", "sk-ant-host-only");
    let host = Host::open(data.path(), &images, backend.clone()).unwrap();
    Rig {
        host,
        backend,
        model,
        folder,
        id,
        guests: Arc::default(),
        _data: data,
        _work: work,
    }
}

impl Rig {
    fn open(&self) -> SessionHandle {
        let handle = self.host.open_session(&self.id).unwrap();
        let backend = self.backend.clone();
        let guests = self.guests.clone();
        // Each VM the session starts gets a locally played guest.
        tokio::spawn(async move {
            while let Some(guest) = backend.next_guest().await {
                let guest = Arc::new(guest);
                guests.lock().unwrap().push(guest.clone());
                tokio::spawn(support::serve_local_guest(guest));
            }
        });
        handle
    }
}

fn tool(name: &str, input: Value) -> Value {
    json!({"content": [{"type": "tool_use", "name": name, "input": input}]})
}

fn say(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}]})
}

/// Reads events until `pred` matches; answers nothing by itself.
async fn until(session: &mut SessionHandle, pred: impl Fn(&SessionEvent) -> bool) -> SessionEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), session.next_event())
            .await
            .expect("an event within 30 s")
            .expect("session still open");
        if let SessionEvent::Error { message } = &event {
            eprintln!("session error: {message}");
        }
        if pred(&event) {
            return event;
        }
    }
}

fn is_result(e: &SessionEvent) -> bool {
    matches!(e, SessionEvent::Frame { frame } if frame["type"] == "result")
}

#[tokio::test]
async fn new_files_need_no_question_but_commands_do_and_every_decision_is_recorded() {
    let rig = rig(
        |folder| {
            json!({"steps": [
                tool("Write", json!({"file_path": format!("{folder}/notes.txt"), "content": "hello\n"})),
                tool("Bash", json!({"command": "touch made-by-bash.txt"})),
                tool("Bash", json!({"command": "rm notes.txt"})),
                say("done"),
            ]})
        },
        &[],
    );
    let mut session = rig.open();
    session.send("make notes");
    let auto = until(&mut session, |e| {
        matches!(e, SessionEvent::AutoAllowed { .. })
    })
    .await;
    let SessionEvent::AutoAllowed {
        reason, summary, ..
    } = auto
    else {
        unreachable!()
    };
    assert_eq!(reason, "new file");
    assert_eq!(summary, "Create notes.txt in Taxes 2026");

    let SessionEvent::Permission(touch) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    assert_eq!(touch.summary, "Run `touch made-by-bash.txt` in Taxes 2026");
    session.answer(&touch.request_id, PermissionAnswer::AllowOnce);
    let SessionEvent::Permission(rm) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    session.answer(
        &rm.request_id,
        PermissionAnswer::DenyWithMessage("keep my notes".into()),
    );
    until(&mut session, is_result).await;
    session.close().await;

    assert_eq!(
        std::fs::read_to_string(rig.folder.join("notes.txt")).unwrap(),
        "hello\n",
        "the denied rm did not run"
    );
    assert!(rig.folder.join("made-by-bash.txt").exists());
    let (frames, damaged) = rig.host.store().frames(&rig.id).unwrap();
    assert_eq!(damaged, 0);
    let decisions: Vec<(String, String)> = frames
        .iter()
        .filter(|f| f.direction == Direction::Host && f.body["type"] == "workroom_permission")
        .map(|f| {
            (
                f.body["decision"].as_str().unwrap().to_string(),
                f.body["by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        vec![
            ("allow_once".into(), "host".into()),
            ("allow_once".into(), "user".into()),
            ("deny_with_message".into(), "user".into()),
        ]
    );
    let record = rig.host.store().session(&rig.id).unwrap();
    assert!(record.agent_session_id.is_some());
    assert!(record.input_tokens > 0);
    assert_eq!(rig.host.store().turns(&rig.id).unwrap().len(), 1);
    // The key stayed on the host: the proxy added it to every model request.
    let requests = rig.model.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests
        .iter()
        .all(|r| r.headers.get("x-api-key").map(String::as_str) == Some("sk-ant-host-only")));
}

#[tokio::test]
async fn always_allow_saves_a_rule_that_the_next_session_starts_with() {
    let rig = rig(
        |_| {
            json!({"steps": [
                tool("Bash", json!({"command": "touch one.txt"})),
                say("first"),
                tool("Bash", json!({"command": "touch two.txt"})),
                say("second"),
            ]})
        },
        &[],
    );
    let mut session = rig.open();
    session.send("one");
    let SessionEvent::Permission(ask) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    session.answer(&ask.request_id, PermissionAnswer::AlwaysAllow);
    until(&mut session, is_result).await;
    session.close().await;
    let rules = rig.host.store().rules_for(Some(&rig.folder)).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule, "Bash(touch:*)");
    assert_eq!(rules[0].folder.as_deref(), Some(rig.folder.as_path()));

    // A new VM, a new agent process: the saved rule comes along, so no question is asked.
    let mut session = rig.open();
    session.send("two");
    let event = until(&mut session, |e| {
        is_result(e) || matches!(e, SessionEvent::Permission(_))
    })
    .await;
    assert!(is_result(&event), "asked again: {event:?}");
    assert!(rig.folder.join("two.txt").exists());
    session.close().await;
}

#[tokio::test]
async fn a_vm_that_dies_mid_turn_is_reported_and_the_next_message_resumes_with_history() {
    let rig = rig(
        |_| {
            json!({"steps": [
                say("I will remember the word banana."),
                {"content": [{"type": "text", "text": "this answer never arrives"}], "headers_delay_ms": 3000},
                say("The word was banana."),
            ]})
        },
        &[],
    );
    let mut session = rig.open();
    session.send("remember banana");
    until(&mut session, is_result).await;
    session.send("this turn will be cut short");
    until(&mut session, |e| matches!(e, SessionEvent::Frame { frame } if frame["type"] == "system" && frame["subtype"] == "status")).await;
    // The guest dies while the model is still answering (its request has arrived).
    while rig.model.requests().len() < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rig.backend.started(), 1);
    kill_current_vm(&rig).await;
    let failed = until(&mut session, |e| {
        matches!(e, SessionEvent::Vm(VmState::Failed { .. }))
    })
    .await;
    let SessionEvent::Vm(VmState::Failed { reason, .. }) = failed else {
        unreachable!()
    };
    assert!(reason.contains("conversation is saved"), "{reason}");

    session.send("what was the word?");
    let result = until(&mut session, is_result).await;
    let SessionEvent::Frame { frame } = result else {
        unreachable!()
    };
    assert_eq!(frame["result"], "The word was banana.");
    assert_eq!(rig.backend.started(), 2, "a fresh VM was started");
    // Each turn's cost is its own, also after the agent process (and its running total) restarted.
    let turns = rig.host.store().turns(&rig.id).unwrap();
    assert_eq!(turns.len(), 2);
    assert!(turns.iter().all(|t| t.cost_usd > 0.0), "{turns:?}");
    let total: f64 = turns.iter().map(|t| t.cost_usd).sum();
    assert!((rig.host.store().session(&rig.id).unwrap().cost_usd - total).abs() < 1e-9);
    let last = rig.model.requests().into_iter().last().unwrap();
    let history = last.body["messages"].to_string();
    assert!(
        history.contains("remember banana") && history.contains("I will remember the word banana."),
        "{history}"
    );
    session.close().await;
}

/// Crashes the VM the fake backend started most recently.
async fn kill_current_vm(rig: &Rig) {
    let guest = rig
        .guests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a running guest");
    guest.crash();
}

#[tokio::test]
async fn an_idle_vm_is_stopped_and_boots_again_on_the_next_message() {
    let rig = rig(
        |_| json!({"rules": [{"when": {}, "reply": say("ok")}]}),
        &[
            ("idle_seconds", "1"),
            ("vm_cpus", "2"),
            ("vm_memory_mib", "384"),
        ],
    );
    let mut session = rig.open();
    session.send("hi");
    until(&mut session, is_result).await;
    // The VM got the machine shape from the settings.
    let config = rig.guests.lock().unwrap()[0].config().clone();
    assert_eq!((config.cpus, config.memory_mib), (2, 384));
    let stopped = until(&mut session, |e| {
        matches!(e, SessionEvent::Vm(VmState::Stopped { .. }))
    })
    .await;
    assert!(format!("{stopped:?}").contains("idle"));
    session.send("hi again");
    until(&mut session, is_result).await;
    assert_eq!(rig.backend.started(), 2);
    session.close().await;
}

#[tokio::test]
async fn the_memory_cap_refuses_a_vm_that_would_not_fit() {
    let rig = rig(
        |_| json!({"rules": [{"when": {}, "reply": say("ok")}]}),
        &[("vm_memory_mib", "512"), ("max_total_memory_mib", "700")],
    );
    let mut first = rig.open();
    first.send("hi");
    until(&mut first, is_result).await;
    let other = rig
        .host
        .create_session(std::slice::from_ref(&rig.folder), NewSession::default())
        .unwrap();
    let mut second = rig.host.open_session(&other.id).unwrap();
    second.send("hi");
    let error = until(&mut second, |e| matches!(e, SessionEvent::Error { .. })).await;
    assert!(
        format!("{error:?}").contains("Too many sessions are running"),
        "{error:?}"
    );
    first.close().await;
    // With the first VM gone there is room again.
    second.send("hi");
    until(&mut second, |e| {
        matches!(e, SessionEvent::Vm(VmState::Booting { .. }))
    })
    .await;
    second.close().await;
}

#[tokio::test]
async fn closing_a_session_while_its_vm_boots_stops_the_boot_and_keeps_the_message() {
    let rig = rig(|_| json!({}), &[]);
    // Nobody plays the guest, so this VM never says hello: the boot would wait for its timeout.
    let mut session = rig.host.open_session(&rig.id).unwrap();
    session.send("hello?");
    until(&mut session, |e| {
        matches!(e, SessionEvent::Vm(VmState::Booting { step }) if step.contains("starting the virtual machine"))
    })
    .await;
    tokio::time::timeout(Duration::from_secs(5), session.close())
        .await
        .expect("closing does not wait for the boot");
    let (frames, _) = rig.host.store().frames(&rig.id).unwrap();
    assert!(frames
        .iter()
        .any(|f| f.body["type"] == "workroom_unsent" && f.body["text"] == "hello?"));
}

#[tokio::test]
async fn a_folder_added_to_a_session_is_shared_when_it_next_opens() {
    let extra = tempfile::tempdir().unwrap();
    let extra_folder = extra.path().join("Receipts");
    std::fs::create_dir_all(&extra_folder).unwrap();
    let extra_path = extra_folder.canonicalize().unwrap();
    let target = extra_path.join("summary.txt");
    let rig = rig(
        |_| {
            json!({"steps": [
                say("first turn in one folder"),
                tool("Write", json!({"file_path": target, "content": "both folders\n"})),
                say("written"),
            ]})
        },
        &[],
    );
    let mut session = rig.open();
    session.send("hello");
    until(&mut session, is_result).await;
    session.close().await;

    let record = rig.host.add_folder(&rig.id, &extra_folder).unwrap();
    assert_eq!(record.folders, vec![rig.folder.clone(), extra_path.clone()]);
    assert!(rig
        .host
        .add_folder(&rig.id, Path::new("/no/such/folder"))
        .is_err());

    let mut session = rig.open();
    session.send("write in the new folder");
    let auto = until(&mut session, |e| {
        matches!(e, SessionEvent::AutoAllowed { .. })
    })
    .await;
    assert!(
        format!("{auto:?}").contains("summary.txt in Receipts"),
        "{auto:?}"
    );
    until(&mut session, is_result).await;
    session.close().await;
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "both folders\n");
    // The conversation went on: the second VM's agent resumed the first turn's history.
    let last = rig.model.requests().into_iter().last().unwrap();
    assert!(last.body["messages"]
        .to_string()
        .contains("first turn in one folder"));
}

#[tokio::test]
async fn a_turn_that_changed_files_through_the_shell_is_undone_and_redone() {
    let rig = rig(
        |_| {
            json!({"steps": [
                tool("Bash", json!({"command": "rm keep.txt && mkdir out && echo new > out/new.txt && sed -i s/one/ONE/ edit.txt"})),
                say("done"),
            ]})
        },
        &[],
    );
    std::fs::write(rig.folder.join("keep.txt"), "mine\n").unwrap();
    std::fs::write(rig.folder.join("edit.txt"), "one\ntwo\n").unwrap();
    let mut session = rig.open();
    session.send("tidy up");
    let SessionEvent::Permission(bash) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    session.answer(&bash.request_id, PermissionAnswer::AllowOnce);
    // The turn's changes, computed on the host from checkpoints (whatever tool made them).
    let SessionEvent::Frame { frame } = until(
        &mut session,
        |e| matches!(e, SessionEvent::Frame { frame } if frame["type"] == "workroom_changes"),
    )
    .await
    else {
        unreachable!()
    };
    let kinds: Vec<(String, String)> = frame["folders"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            // Entries are stored compactly: "p" is the path.
            let path = c["after"]["p"]
                .as_str()
                .or(c["before"]["p"].as_str())
                .unwrap_or("?");
            (c["type"].as_str().unwrap().to_string(), path.to_string())
        })
        .collect();
    assert!(
        kinds.iter().any(|(t, p)| t == "deleted" && p == "keep.txt")
            && kinds
                .iter()
                .any(|(t, p)| t == "added" && p == "out/new.txt")
            && kinds
                .iter()
                .any(|(t, p)| t == "modified" && p == "edit.txt"),
        "{kinds:?} from {frame}"
    );
    until(&mut session, is_result).await;
    session.close().await;
    assert_eq!(rig.host.turn_changes(&rig.id).unwrap().len(), 1);

    // Undo: the folder is as it was before the turn.
    let outcome = rig.host.undo(&rig.id, None, OnConflict::Ask).unwrap();
    assert!(
        matches!(outcome, UndoOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("keep.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("edit.txt")).unwrap(),
        "one\ntwo\n"
    );
    assert!(!rig.folder.join("out").exists());
    // Redo: the turn's result is back.
    rig.host.redo(&rig.id, OnConflict::Ask).unwrap();
    assert!(!rig.folder.join("keep.txt").exists());
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("out/new.txt")).unwrap(),
        "new\n"
    );
    // The person edits a file the agent wrote: undo asks instead of overwriting it.
    std::fs::write(rig.folder.join("edit.txt"), "my own edit\n").unwrap();
    let outcome = rig.host.undo(&rig.id, Some(1), OnConflict::Ask).unwrap();
    let UndoOutcome::Conflicts(conflicts) = outcome else {
        panic!("expected conflicts, got {outcome:?}")
    };
    assert_eq!(conflicts[0].1[0].path, "edit.txt");
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("edit.txt")).unwrap(),
        "my own edit\n"
    );
    // Keeping the person's edit restores the rest.
    rig.host.undo(&rig.id, Some(1), OnConflict::Keep).unwrap();
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("edit.txt")).unwrap(),
        "my own edit\n"
    );
    assert!(rig.folder.join("keep.txt").exists() && !rig.folder.join("out").exists());
}

#[tokio::test]
async fn over_the_undo_cap_the_message_waits_for_consent_and_the_turn_runs_without_undo() {
    let rig = rig(
        |_| {
            json!({"steps": [
                tool("Bash", json!({"command": "echo changed > notes.txt"})),
                say("done"),
            ]})
        },
        &[("checkpoint_max_mb", "1")],
    );
    std::fs::write(rig.folder.join("video.bin"), vec![7u8; 3 << 20]).unwrap();
    std::fs::write(rig.folder.join("notes.txt"), "mine\n").unwrap();
    let mut session = rig.open();
    session.send("tidy up");
    let SessionEvent::UndoOverCap {
        text,
        cap_bytes,
        folders,
    } = until(&mut session, |e| {
        matches!(
            e,
            SessionEvent::UndoOverCap { .. } | SessionEvent::Frame { .. }
        )
    })
    .await
    else {
        panic!("the message went out although its checkpoint is over the cap")
    };
    assert_eq!((text.as_str(), cap_bytes), ("tidy up", 1 << 20));
    assert_eq!(folders[0].folder, rig.folder);
    assert!(folders[0].bytes >= 3 << 20, "{folders:?}");
    assert!(
        rig.model.requests().is_empty(),
        "nothing reached the model before the person agreed"
    );

    session.send_with(
        text,
        workroom_host::session::SendOptions { without_undo: true },
    );
    let SessionEvent::Permission(bash) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    // Mid-turn, undo waits: the agent is working on the folder.
    assert!(matches!(
        rig.host.undo(&rig.id, None, OnConflict::Ask),
        Err(workroom_host::session::undo::UndoError::Busy)
    ));
    session.answer(&bash.request_id, PermissionAnswer::AllowOnce);
    until(&mut session, is_result).await;
    session.close().await;
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("notes.txt")).unwrap(),
        "changed\n"
    );
    // The transcript says the turn ran without undo, and why (recorded by the hook, before the
    // question).
    let (frames, _) = rig.host.store().frames(&rig.id).unwrap();
    let no_undo = frames
        .iter()
        .find(|f| f.body["type"] == "workroom_no_undo")
        .expect("a workroom_no_undo record");
    assert!(no_undo.body["reason"]
        .as_str()
        .unwrap()
        .contains("without undo"));
    assert!(rig.host.turn_changes(&rig.id).unwrap().is_empty());
    assert!(matches!(
        rig.host.undo(&rig.id, None, OnConflict::Ask),
        Err(workroom_host::session::undo::UndoError::Nothing(_))
    ));
}

#[tokio::test]
async fn questions_are_answered_and_an_approved_plan_ends_plan_mode_for_good() {
    let rig = rig(
        |folder| {
            let question = json!({"question": "Which format?", "header": "Format", "multiSelect": false,
                "options": [{"label": "CSV", "description": "plain"}, {"label": "XLSX", "description": "Excel"}]});
            json!({"steps": [
                tool("AskUserQuestion", json!({"questions": [question]})),
                tool("ExitPlanMode", json!({"plan": "1. Write report.txt"})),
                tool("Write", json!({"file_path": format!("{folder}/report.txt"), "content": "r"})),
                say("done"),
            ]})
        },
        &[],
    );
    rig.host
        .store()
        .update_session(&rig.id, None, None, Some("plan"))
        .unwrap();
    let mut session = rig.open();
    session.send("make a report");
    let SessionEvent::Permission(question) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    assert_eq!(question.tool_name, "AskUserQuestion");
    assert_eq!(question.detail.as_deref(), Some("Which format?"));
    session.answer(
        &question.request_id,
        PermissionAnswer::Answers([("Which format?".to_string(), "XLSX".to_string())].into()),
    );
    let SessionEvent::Permission(plan) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    assert_eq!(plan.tool_name, "ExitPlanMode");
    assert_eq!(plan.detail.as_deref(), Some("1. Write report.txt"));
    session.answer(
        &plan.request_id,
        PermissionAnswer::ApprovePlan("acceptEdits".into()),
    );
    // In acceptEdits the Write needs no question; the turn ends.
    let end = until(&mut session, |e| {
        is_result(e) || matches!(e, SessionEvent::Permission(_))
    })
    .await;
    assert!(
        is_result(&end),
        "the Write asked although the plan was approved with edits: {end:?}"
    );
    session.close().await;
    assert_eq!(
        std::fs::read_to_string(rig.folder.join("report.txt")).unwrap(),
        "r"
    );
    let last = rig.model.requests().into_iter().last().unwrap();
    let body = last.body.to_string();
    assert!(
        body.contains("\\\"Which format?\\\"=\\\"XLSX\\\""),
        "{body}"
    );
    assert!(body.contains("approved your plan"), "{body}");
    // The mode the plan was approved with is the session's from now on.
    assert_eq!(
        rig.host.store().session(&rig.id).unwrap().permission_mode,
        "acceptEdits"
    );
}

#[tokio::test]
async fn a_connector_the_host_runs_offers_its_tools_and_each_call_is_asked_about() {
    let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/calc_server.py");
    let config =
        json!({"mcpServers": {"calc": {"command": "python3", "args": [server]}}}).to_string();
    let rig = rig(
        |_| {
            json!({"steps": [
                tool("mcp__calc__add", json!({"a": 2, "b": 3})),
                say("two and three make five"),
            ]})
        },
        &[("mcp_config", config.as_str())],
    );
    let mut session = rig.open();
    session.send("add 2 and 3");
    let SessionEvent::Permission(prompt) =
        until(&mut session, |e| matches!(e, SessionEvent::Permission(_))).await
    else {
        unreachable!()
    };
    assert_eq!(prompt.tool_name, "mcp__calc__add");
    assert!(
        prompt.summary.contains("connector tool"),
        "{}",
        prompt.summary
    );
    session.answer(&prompt.request_id, PermissionAnswer::AllowOnce);
    let mut result_text = String::new();
    loop {
        let SessionEvent::Frame { frame } =
            until(&mut session, |e| matches!(e, SessionEvent::Frame { .. })).await
        else {
            unreachable!()
        };
        if frame["type"] == "user" {
            if let Some(text) = frame["message"]["content"][0]["content"][0]["text"].as_str() {
                result_text = text.to_string();
            }
        }
        if frame["type"] == "result" {
            break;
        }
    }
    session.close().await;
    assert_eq!(result_text, "sum=5");
    // The model was offered the connector's tool under its MCP name.
    let first = &rig.model.requests()[0].body;
    assert!(first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "mcp__calc__add" && t["description"] == "Adds two numbers."));
}
