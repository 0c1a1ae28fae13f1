//! The shell on Tauri's mock runtime: commands through the real IPC path (ACL included), and a
//! session's events reaching a channel.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow, WebviewWindowBuilder};
use workroom_app::state::AppState;
use workroom_host::session::SessionEvent;
use workroom_host::vm::FakeBackend;

struct Rig {
    app: tauri::App<tauri::test::MockRuntime>,
    window: WebviewWindow<tauri::test::MockRuntime>,
    folder: std::path::PathBuf,
    _data: tempfile::TempDir,
}

fn rig() -> Rig {
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("Taxes 2026");
    std::fs::create_dir_all(&folder).unwrap();
    let state = AppState::open(
        &data.path().join("home"),
        &data.path().join("home/images"),
        Arc::new(FakeBackend::new()),
        None,
    )
    .unwrap();
    let app = workroom_app::run_app(mock_builder(), state)
        .build(tauri::generate_context!())
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    Rig {
        app,
        window,
        folder,
        _data: data,
    }
}

impl Rig {
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.window, request).map(|body| match body {
            InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap(),
            InvokeResponseBody::Raw(_) => panic!("raw response"),
        })
    }
}

#[test]
fn sessions_through_ipc() {
    let rig = rig();
    assert_eq!(rig.invoke("list_sessions", json!({})), Ok(json!([])));
    let created = rig
        .invoke(
            "create_session",
            json!({"folders": [rig.folder], "options": {"title": "Taxes"}}),
        )
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["permission_mode"], "default");
    rig.invoke("rename_session", json!({"id": id, "title": "Taxes 2026"}))
        .unwrap();
    let listed = rig.invoke("list_sessions", json!({})).unwrap();
    assert_eq!(listed[0]["title"], "Taxes 2026");
    assert_eq!(rig.invoke("transcript", json!({"id": id})), Ok(json!([])));
    rig.invoke("set_permission_mode", json!({"id": id, "mode": "plan"}))
        .unwrap();
    assert_eq!(
        rig.invoke("list_sessions", json!({})).unwrap()[0]["permission_mode"],
        "plan"
    );
    rig.invoke("delete_session", json!({"id": id})).unwrap();
    assert_eq!(rig.invoke("list_sessions", json!({})), Ok(json!([])));
}

#[test]
fn errors_are_code_and_message() {
    let rig = rig();
    let err = rig
        .invoke("rename_session", json!({"id": "nope", "title": "x"}))
        .unwrap_err();
    assert_eq!(err["code"], "no_such_session");
    assert!(err["message"].as_str().unwrap().contains("nope"));
    let err = rig
        .invoke("create_session", json!({"folders": ["/does/not/exist"]}))
        .unwrap_err();
    assert_eq!(err["code"], "folder_not_shareable");
    let err = rig
        .invoke("set_permission_mode", json!({"id": "nope", "mode": "yolo"}))
        .unwrap_err();
    assert_eq!(err["code"], "invalid_input");
    assert_eq!(
        rig.invoke("image_status", json!({})),
        Ok(json!({"state": "missing", "arch": workroom_host::vm::Arch::default().as_str()}))
    );
    assert_eq!(rig.invoke("take_launch_folders", json!({})), Ok(json!([])));
    let settings = rig.invoke("get_settings", json!({})).unwrap();
    assert_eq!(settings["default_permission_mode"], "default");
    let settings = rig
        .invoke("set_settings", json!({"changes": {"idle_minutes": 3}}))
        .unwrap();
    assert_eq!(settings["idle_minutes"], 3);
}

#[test]
fn session_events_reach_the_channel_after_the_snapshot() {
    let rig = rig();
    let created = rig
        .invoke("create_session", json!({"folders": [rig.folder]}))
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let state = rig.app.state::<AppState>();
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let channel: Channel<Vec<SessionEvent>> = Channel::new({
        let seen = seen.clone();
        move |body| {
            if let InvokeResponseBody::Json(s) = body {
                let batch: Vec<Value> = serde_json::from_str(&s).unwrap();
                assert!(!batch.is_empty(), "an empty batch was sent");
                seen.lock().unwrap().extend(batch);
            }
            Ok(())
        }
    });
    tauri::async_runtime::block_on(async {
        let session = state.session(&id).unwrap();
        let snapshot = session.attach(channel).await.unwrap();
        assert_eq!(snapshot.record.id, id);
        assert!(snapshot.vm.is_none() && snapshot.pending.is_empty());
        session
            .send(
                "hello".into(),
                workroom_host::session::SendOptions::default(),
            )
            .unwrap();
        // The fake backend starts a VM that no guest answers: the window sees it booting (and the
        // image missing first, since the test has none).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while seen.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        state.close_all().await;
    });
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "no event reached the channel");
    assert!(
        seen.iter().all(|e| e["type"].is_string()),
        "events are tagged by type: {seen:?}"
    );
}
