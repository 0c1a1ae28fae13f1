//! Where Workroom keeps its data: `WORKROOM_HOME`, else the platform's data directory.

use std::path::PathBuf;

/// The data directory (database, images, per-session state).
pub fn data_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("WORKROOM_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    directories::ProjectDirs::from("dev", "Workroom", "workroom")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".workroom"))
}

/// Built guest images.
pub fn images_dir() -> PathBuf {
    data_dir().join("images")
}
