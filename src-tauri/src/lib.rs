//! Workroom's desktop app: a thin Tauri 2 shell over `workroom-host`. The page (`ui/`) calls the
//! commands below; everything they do is also reachable through the host library, so the app and
//! the `workroom` command line never disagree.
//!
//! - [`commands`]: the commands, a few lines each over the host library.
//! - [`session`]: one actor per open session, forwarding its events to the window's channel.
//! - [`state`]: the managed state (host, open sessions, launch folders).
//! - [`settings`]: the settings and provider shapes of the page.
//! - [`lifecycle`]: closing the window and quitting (VMs are shut down gracefully).
//! - [`launch`]: the `--open-folder PATH` command line.
//! - [`error`]: `CommandError`, `{code, message}` on the wire.

pub mod commands;
pub mod error;
pub mod launch;
pub mod lifecycle;
pub mod session;
pub mod settings;
pub mod state;

use tauri::{Emitter, Manager, RunEvent, Runtime, WindowEvent};

use crate::state::AppState;

/// The event a running instance gets when another launch hands it folders (payload: the paths).
pub const OPEN_FOLDERS_EVENT: &str = "open-folders";

/// Without a GPU render node, WebKitGTK's DMA-BUF renderer draws through software GL: a streamed
/// answer then stalled the page (31 of 71 frames over 50 ms, longest 128 ms) and the web process
/// doubled its memory (315 → 670 MB); with the older renderer the same stream had none over 50 ms
/// (longest 43 ms, 305 MB). Measured with `tests/python/bench_app.py` under Xvfb. So where there is
/// no `/dev/dri/renderD*`, the DMA-BUF renderer is turned off, unless the person set WebKit's
/// variable or `WORKROOM_WEBKIT_DEFAULTS=1` (the WebDriver tests need WebKit's defaults:
/// WebKitWebDriver's screenshots hang without them).
///
/// Call it first thing in `main`, before any thread is started.
pub fn webview_defaults() {
    #[cfg(target_os = "linux")]
    {
        const WEBKIT_VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
        let keep_defaults = std::env::var_os("WORKROOM_WEBKIT_DEFAULTS").is_some_and(|v| v == "1");
        if !keep_defaults && std::env::var_os(WEBKIT_VAR).is_none() && !has_render_node() {
            std::env::set_var(WEBKIT_VAR, "1");
        }
    }
}

/// Whether a GPU render node exists (`/dev/dri/renderD128`...).
#[cfg(target_os = "linux")]
fn has_render_node() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Starts the app (the binary's `main`).
pub fn run() {
    init_tracing();
    let state = match AppState::from_env() {
        Ok(state) => state,
        Err(e) => {
            // Nothing works without the database; say why where a person will see it.
            eprintln!("Workroom cannot start: {e}");
            std::process::exit(1);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let args: Vec<String> = std::env::args().collect();
    state.push_launch_folders(launch::folders_from_args(&args, &cwd));
    let builder =
        tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, args, cwd| {
            let folders = launch::folders_from_args(&args, std::path::Path::new(&cwd));
            if !folders.is_empty() {
                app.state::<AppState>()
                    .push_launch_folders(folders.iter().cloned());
                let _ = app.emit(OPEN_FOLDERS_EVENT, &folders);
            }
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }));
    let app = match run_app(builder, state).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("Workroom cannot open its window: {e}");
            std::process::exit(1);
        }
    };
    app.run(on_run_event);
}

/// The app without its context: plugins, state, commands and window handling. Tests build it on
/// `tauri::test::mock_builder()`.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .manage(state)
        .setup(|app| {
            lifecycle::quit_on_signals(app.handle());
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                lifecycle::on_close_requested(window.app_handle());
            }
        })
        .invoke_handler(app_commands!())
}

/// Quitting by other means than the window (the OS, the last window gone) goes through the same
/// graceful path; the final `exit` from [`lifecycle::quit`] is let through.
pub fn on_run_event<R: Runtime>(app: &tauri::AppHandle<R>, event: RunEvent) {
    if let RunEvent::ExitRequested { api, .. } = event {
        if !app.state::<AppState>().is_quitting() {
            api.prevent_exit();
            lifecycle::quit(app);
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WORKROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
