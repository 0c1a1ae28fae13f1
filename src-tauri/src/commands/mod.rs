//! The commands the page calls (names and shapes in `ui/BACKEND.md` / `ui/src/backend/tauri.ts`).
//! Each is a few lines over `workroom-host`; all are async so none blocks the window's thread.

pub mod files;
pub mod sessions;
pub mod setup;
pub mod undo;

/// Every command, for `generate_handler!` and `build.rs` (keep the three lists in step).
#[macro_export]
macro_rules! app_commands {
    () => {
        tauri::generate_handler![
            $crate::commands::sessions::list_sessions,
            $crate::commands::sessions::create_session,
            $crate::commands::sessions::open_session,
            $crate::commands::sessions::detach_session,
            $crate::commands::sessions::send_message,
            $crate::commands::sessions::interrupt,
            $crate::commands::sessions::answer_permission,
            $crate::commands::sessions::set_permission_mode,
            $crate::commands::sessions::add_folder,
            $crate::commands::sessions::stop_vm,
            $crate::commands::sessions::rename_session,
            $crate::commands::sessions::delete_session,
            $crate::commands::sessions::transcript,
            $crate::commands::sessions::console_log,
            $crate::commands::sessions::take_launch_folders,
            $crate::commands::undo::turn_changes,
            $crate::commands::undo::change_diff,
            $crate::commands::undo::undo_turn,
            $crate::commands::undo::redo_turn,
            $crate::commands::files::preview_file,
            $crate::commands::files::open_file,
            $crate::commands::setup::provider_status,
            $crate::commands::setup::set_provider,
            $crate::commands::setup::image_status,
            $crate::commands::setup::prepare_image,
            $crate::commands::setup::userland_status,
            $crate::commands::setup::prepare_userland,
            $crate::commands::setup::get_settings,
            $crate::commands::setup::set_settings,
            $crate::commands::setup::storage_info,
            $crate::commands::setup::system_checks,
            $crate::commands::setup::page_ready,
        ]
    };
}

#[cfg(test)]
mod tests {
    /// The three lists of commands (the handler, `build.rs`'s ACL, the window's capability) name
    /// the same commands: a command missing from the last two is "not allowed" in the window.
    #[test]
    fn every_command_is_registered_declared_and_granted() {
        let manifest = env!("CARGO_MANIFEST_DIR");
        let read = |path: &str| std::fs::read_to_string(format!("{manifest}/{path}")).unwrap();
        let handler: Vec<String> = read("src/commands/mod.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("$crate::commands::"))
            .filter_map(|l| {
                l.trim_end_matches(',')
                    .rsplit("::")
                    .next()
                    .map(str::to_string)
            })
            .collect();
        let build = read("build.rs");
        let declared: Vec<String> = build
            .split("const COMMANDS: &[&str] = &[")
            .nth(1)
            .and_then(|rest| rest.split("];").next())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix('"')?
                    .strip_suffix("\",")
                    .map(str::to_string)
            })
            .collect();
        let capability = read("capabilities/main.json");
        assert!(handler.len() > 30, "{handler:?}");
        assert_eq!(handler, declared, "build.rs's COMMANDS");
        for command in &handler {
            let permission = format!("\"allow-{}\"", command.replace('_', "-"));
            assert!(
                capability.contains(&permission),
                "capabilities/main.json does not grant {permission}"
            );
        }
    }
}
