//! Generates the app's ACL: one `allow-<command>` permission per command (granted in
//! `capabilities/main.json`). Keep the list in step with `app_commands!` in `src/commands/mod.rs`.

const COMMANDS: &[&str] = &[
    "list_sessions",
    "create_session",
    "open_session",
    "detach_session",
    "send_message",
    "interrupt",
    "answer_permission",
    "set_permission_mode",
    "add_folder",
    "stop_vm",
    "rename_session",
    "delete_session",
    "transcript",
    "console_log",
    "take_launch_folders",
    "turn_changes",
    "change_diff",
    "undo_turn",
    "redo_turn",
    "preview_file",
    "open_file",
    "provider_status",
    "set_provider",
    "image_status",
    "prepare_image",
    "userland_status",
    "prepare_userland",
    "get_settings",
    "set_settings",
    "storage_info",
    "system_checks",
    "page_ready",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        // Build scripts report failures by panicking; say what went wrong first.
        panic!("tauri-build failed: {e:#}");
    }
}
