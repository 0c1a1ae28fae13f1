//! The command line: `workroom-app [FOLDER]...` (or `--open-folder PATH`, repeatable) opens a
//! session over the folders without the native dialog. The end-to-end tests start the app so, and a
//! second launch hands its folders to the running instance the same way.

use std::path::Path;

/// The folders named on a command line, made absolute against `cwd`: every `--open-folder PATH`
/// or `--open-folder=PATH`, and every argument that is not an option. The first argument is the
/// program; other options are ignored.
pub fn folders_from_args<S: AsRef<str>>(args: &[S], cwd: &Path) -> Vec<String> {
    let mut folders = Vec::new();
    let mut args = args.iter().map(AsRef::as_ref).skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--open-folder") {
            Some("") => args.next(),
            Some(rest) => rest.strip_prefix('='),
            None if arg.starts_with('-') => None,
            None => Some(arg),
        };
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            folders.push(cwd.join(value).display().to_string());
        }
    }
    folders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_folder_forms() {
        let args = [
            "workroom-app",
            "--open-folder",
            "/tmp/a",
            "--open-folder=rel",
            "--other",
            "Taxes 2026",
            "--open-folder",
        ];
        assert_eq!(
            folders_from_args(&args, Path::new("/home/me")),
            vec![
                "/tmp/a".to_string(),
                "/home/me/rel".to_string(),
                "/home/me/Taxes 2026".to_string()
            ]
        );
    }
}
