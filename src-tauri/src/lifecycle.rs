//! Closing and quitting: closing the window asks first when VMs are running; quitting (from the
//! window, the OS, or SIGINT/SIGTERM) shuts every session's VM down gracefully, then exits.

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

use crate::state::AppState;

/// The window's close button: quit, after asking if sessions are running.
pub fn on_close_requested<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    if state.is_quitting() {
        return;
    }
    let busy = state.busy_sessions();
    if busy == 0 {
        quit(app);
        return;
    }
    let message = if busy == 1 {
        "A session is running. Quitting shuts its virtual machine down; the conversation is kept and continues when you send the next message.".to_string()
    } else {
        format!("{busy} sessions are running. Quitting shuts their virtual machines down; the conversations are kept and continue when you send the next message.")
    };
    let mut dialog = app.dialog().message(message);
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.parent(&window);
    }
    dialog
        .title("Quit Workroom?")
        .kind(MessageDialogKind::Warning)
        .buttons(MessageDialogButtons::OkCancelCustom(
            "Quit".into(),
            "Keep working".into(),
        ))
        .show({
            let app = app.clone();
            move |quit_confirmed| {
                if quit_confirmed {
                    quit(&app);
                }
            }
        });
}

/// Closes every session (each VM shut down gracefully), then exits. Idempotent.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    if !app.state::<AppState>().start_quitting() {
        return;
    }
    for window in app.webview_windows().values() {
        let _ = window.hide();
    }
    let app = app.clone();
    // Ends with the process.
    tauri::async_runtime::spawn(async move {
        app.state::<AppState>().close_all().await;
        app.exit(0);
    });
}

/// Quits gracefully on SIGINT/SIGTERM (a logout, `kill`, Ctrl-C in a terminal).
#[cfg(unix)]
pub fn quit_on_signals<R: Runtime>(app: &AppHandle<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    let app = app.clone();
    // Lives as long as the app; the process ends it.
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM/SIGINT; they will not stop VMs gracefully");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received: shutting sessions down");
        quit(&app);
    });
}

/// Nothing to listen for on other systems.
#[cfg(not(unix))]
pub fn quit_on_signals<R: Runtime>(_app: &AppHandle<R>) {}
