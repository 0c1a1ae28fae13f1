//! `Glob`: finds files by name pattern, newest first.
//!
//! Also home of [`walker`], the directory walk `Grep` shares, so both tools skip the same
//! files (those `rg` skips: ignored by `.gitignore`/`.ignore`/`.rgignore`, or hidden).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use globset::{GlobBuilder, GlobMatcher};
use ignore::{WalkBuilder, WalkState};
use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::context::{ToolContext, ToolOutput};
use super::paths::{self, PathError};

pub const NAME: &str = "Glob";

/// Most file names returned; the model is told when there were more.
const MAX_RESULTS: usize = 100;
const TRUNCATED_NOTE: &str =
    "(Results are truncated. Consider using a more specific path or pattern.)";

pub fn description() -> &'static str {
    "Fast file pattern matching that works with any codebase size.
- Supports glob patterns like \"**/*.js\" or \"src/**/*.ts\"; `*` does not cross `/`, `**` does, `{a,b}` picks alternatives
- The pattern is matched against paths relative to the search folder
- Returns absolute file paths sorted by modification time, newest first (at most 100)
- Files ignored by .gitignore/.ignore and hidden files are skipped, as ripgrep does
- Use this tool when you need to find files by name patterns
- For open-ended searches that may need several rounds of globbing and grepping, plan them; several independent searches can be run in parallel in one response"
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "The glob pattern to match files against"
            },
            "path": {
                "type": "string",
                "description": "The directory to search in. If not specified, the current working directory will be used. IMPORTANT: Omit this field to use the default directory. DO NOT enter \"undefined\" or \"null\" - simply omit it for the default behavior. Must be a valid directory path if provided."
            }
        },
        "required": ["pattern"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Error)]
enum SearchDirError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("Directory does not exist: {}", .0.display())]
    NotFound(PathBuf),
    #[error("{} is not a directory; give the folder to search in.", .0.display())]
    NotADirectory(PathBuf),
}

#[derive(Debug, Error)]
enum GlobError {
    #[error("{0}")]
    Dir(#[from] SearchDirError),
    #[error("Glob: the pattern is empty")]
    EmptyPattern,
    #[error("Glob: invalid pattern {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("Glob was interrupted before it finished.")]
    Interrupted,
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    super::context::run_blocking(NAME, ctx, input, glob).await
}

fn glob(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, GlobError> {
    let started = Instant::now();
    let (dir_arg, pattern) = split_pattern(&args.pattern, args.path.as_deref());
    if pattern.is_empty() {
        return Err(GlobError::EmptyPattern);
    }
    let dir = resolve_search_dir(ctx, dir_arg.as_deref())?;
    let matcher = compile(&pattern)?;
    let mut found = find_files(&dir, &matcher, &ctx.cancel);
    if ctx.cancel.is_cancelled() {
        return Err(GlobError::Interrupted);
    }
    // Newest first (what the model most likely wants), then by name for a stable order.
    found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let truncated = found.len() > MAX_RESULTS;
    let filenames: Vec<String> = found
        .into_iter()
        .take(MAX_RESULTS)
        .map(|(path, _)| path.display().to_string())
        .collect();
    let text = listing_text(&filenames, truncated);
    let structured = json!({
        "durationMs": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "numFiles": filenames.len(),
        "filenames": filenames,
        "truncated": truncated,
    });
    Ok(ToolOutput::ok(text, structured))
}

fn listing_text(filenames: &[String], truncated: bool) -> String {
    if filenames.is_empty() {
        return "No files found".to_owned();
    }
    let mut text = filenames.join("\n");
    if truncated {
        text.push('\n');
        text.push_str(TRUNCATED_NOTE);
    }
    text
}

/// Models often put the folder in the pattern ("/home/u/proj/src/**/*.rs"): its leading
/// literal part then becomes the folder, and `path` is not needed. Returns (folder, pattern).
fn split_pattern(pattern: &str, path: Option<&str>) -> (Option<String>, String) {
    if !pattern.starts_with('/') {
        let relative = pattern.strip_prefix("./").unwrap_or(pattern);
        return (path.map(str::to_owned), relative.to_owned());
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    let literal = parts
        .iter()
        .take_while(|part| !has_glob_syntax(part))
        .count()
        // A pattern without any glob syntax names one file: search its folder for it.
        .min(parts.len() - 1);
    let dir = parts[..literal].join("/");
    let dir = if dir.is_empty() { "/".to_owned() } else { dir };
    (Some(dir), parts[literal..].join("/"))
}

fn has_glob_syntax(part: &str) -> bool {
    part.contains(['*', '?', '[', '{'])
}

/// The folder to search: `raw` (or the working folder), which must be a directory in a root.
fn resolve_search_dir(ctx: &ToolContext, raw: Option<&str>) -> Result<PathBuf, SearchDirError> {
    let dir = match raw {
        Some(raw) => paths::resolve(ctx, raw)?,
        None => ctx.cwd().to_path_buf(),
    };
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(dir),
        Ok(_) => Err(SearchDirError::NotADirectory(dir)),
        Err(_) => Err(SearchDirError::NotFound(dir)),
    }
}

fn compile(pattern: &str) -> Result<GlobMatcher, GlobError> {
    GlobBuilder::new(pattern)
        // Like shell and Node globs: `*` stays within one path component, `**` crosses them.
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|e| GlobError::BadPattern {
            pattern: pattern.to_owned(),
            reason: e.kind().to_string(),
        })
}

/// Every file under `dir` whose path relative to `dir` matches, with its modification time.
fn find_files(
    dir: &Path,
    matcher: &GlobMatcher,
    cancel: &CancellationToken,
) -> Vec<(PathBuf, Option<SystemTime>)> {
    let found = Mutex::new(Vec::new());
    walker(dir).build_parallel().run(|| {
        let found = &found;
        Box::new(move |entry| {
            if cancel.is_cancelled() {
                return WalkState::Quit;
            }
            let Ok(entry) = entry else {
                return WalkState::Continue; // Unreadable folders are skipped, as rg does.
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            if matcher.is_match(relative) {
                let mtime = entry.metadata().ok().and_then(|m| m.modified().ok());
                if let Ok(mut found) = found.lock() {
                    found.push((entry.into_path(), mtime));
                }
            }
            WalkState::Continue
        })
    });
    found.into_inner().unwrap_or_default()
}

/// A walk of `dir` that skips what ripgrep skips by default: hidden files, and files ignored by
/// `.gitignore` (inside git repositories), `.ignore` or `.rgignore`. Symbolic links are not
/// followed, so the walk cannot leave the roots.
pub(super) fn walker(dir: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(dir);
    builder.follow_links(false);
    builder.add_custom_ignore_filename(".rgignore");
    builder
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{setup, text};
    use super::*;
    use std::time::Duration;

    fn touch(root: &Path, rel: &str, age_secs: u64) -> PathBuf {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rel).unwrap();
        let mtime = SystemTime::now() - Duration::from_secs(age_secs);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        path
    }

    fn filenames(out: &ToolOutput) -> Vec<String> {
        serde_json::from_value(out.structured["filenames"].clone()).unwrap()
    }

    #[tokio::test]
    async fn finds_files_newest_first() {
        let (_tmp, ctx) = setup();
        let root = ctx.cwd().to_path_buf();
        let old = touch(&root, "src/old.rs", 300);
        let new = touch(&root, "src/deep/new.rs", 10);
        let top = touch(&root, "top.rs", 100);
        touch(&root, "src/notes.txt", 0);
        let out = run(&ctx, json!({"pattern": "**/*.rs"})).await;
        assert!(!out.is_error, "{out:?}");
        let expected: Vec<String> = [&new, &top, &old]
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(filenames(&out), expected);
        assert_eq!(text(&out), expected.join("\n"));
        assert_eq!(out.structured["numFiles"], 3);
        assert_eq!(out.structured["truncated"], false);
        assert!(out.structured["durationMs"].is_u64());
    }

    #[tokio::test]
    async fn star_does_not_cross_folders_and_path_narrows_the_search() {
        let (_tmp, ctx) = setup();
        let root = ctx.cwd().to_path_buf();
        touch(&root, "a.rs", 0);
        let nested = touch(&root, "src/b.rs", 0);
        let out = run(&ctx, json!({"pattern": "*.rs"})).await;
        assert_eq!(
            filenames(&out),
            vec![root.join("a.rs").display().to_string()]
        );
        let out = run(&ctx, json!({"pattern": "*.rs", "path": "src"})).await;
        assert_eq!(filenames(&out), vec![nested.display().to_string()]);
        let out = run(&ctx, json!({"pattern": "src/*.{rs,toml}"})).await;
        assert_eq!(filenames(&out), vec![nested.display().to_string()]);
    }

    #[tokio::test]
    async fn absolute_pattern_sets_the_folder() {
        let (_tmp, ctx) = setup();
        let root = ctx.cwd().to_path_buf();
        let file = touch(&root, "src/lib.rs", 0);
        let pattern = format!("{}/src/**/*.rs", root.display());
        let out = run(&ctx, json!({"pattern": pattern})).await;
        assert_eq!(filenames(&out), vec![file.display().to_string()]);
        let out = run(&ctx, json!({"pattern": file.display().to_string()})).await;
        assert_eq!(filenames(&out), vec![file.display().to_string()]);
        let out = run(&ctx, json!({"pattern": "/etc/**/*.conf"})).await;
        assert!(out.is_error && text(&out).contains("outside the folders"));
    }

    #[tokio::test]
    async fn respects_gitignore_and_skips_hidden_files() {
        let (_tmp, ctx) = setup();
        let root = ctx.cwd().to_path_buf();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
        let kept = touch(&root, "src/main.rs", 0);
        touch(&root, "target/debug/out.rs", 0);
        touch(&root, "debug.log", 0);
        touch(&root, ".hidden/x.rs", 0);
        let out = run(&ctx, json!({"pattern": "**/*"})).await;
        assert_eq!(filenames(&out), vec![kept.display().to_string()]);
    }

    #[tokio::test]
    async fn caps_results_at_one_hundred() {
        let (_tmp, ctx) = setup();
        for i in 0..105 {
            touch(ctx.cwd(), &format!("f{i:03}.txt"), 0);
        }
        let out = run(&ctx, json!({"pattern": "*.txt"})).await;
        assert_eq!(out.structured["numFiles"], 100);
        assert_eq!(out.structured["truncated"], true);
        assert!(text(&out).ends_with(TRUNCATED_NOTE));
    }

    #[tokio::test]
    async fn reports_no_files_and_refuses_bad_folders_and_patterns() {
        let (_tmp, ctx) = setup();
        touch(ctx.cwd(), "file.txt", 0);
        let out = run(&ctx, json!({"pattern": "*.nothing"})).await;
        assert_eq!(text(&out), "No files found");
        assert_eq!(out.structured["numFiles"], 0);

        let out = run(&ctx, json!({"pattern": "*", "path": "file.txt"})).await;
        assert!(out.is_error && text(&out).contains("is not a directory"));
        let out = run(&ctx, json!({"pattern": "*", "path": "missing"})).await;
        assert!(out.is_error && text(&out).starts_with("Directory does not exist"));
        let out = run(&ctx, json!({"pattern": "a[", "path": "."})).await;
        assert!(
            out.is_error && text(&out).starts_with("Glob: invalid pattern"),
            "{out:?}"
        );
        let out = run(&ctx, json!({"pattern": "*", "recursive": true})).await;
        assert!(out.is_error && text(&out).starts_with("Glob: invalid input"));
    }

    #[tokio::test]
    async fn stops_when_cancelled() {
        let (_tmp, ctx) = setup();
        touch(ctx.cwd(), "a.txt", 0);
        ctx.cancel.cancel();
        let out = run(&ctx, json!({"pattern": "*"})).await;
        assert!(out.is_error && text(&out).contains("interrupted"));
    }

    #[test]
    fn split_pattern_cases() {
        assert_eq!(
            split_pattern("./src/*.rs", None),
            (None, "src/*.rs".to_owned())
        );
        assert_eq!(
            split_pattern("/a/b/**/*.rs", Some("/x")),
            (Some("/a/b".to_owned()), "**/*.rs".to_owned())
        );
        assert_eq!(
            split_pattern("/a/b.rs", None),
            (Some("/a".to_owned()), "b.rs".to_owned())
        );
        assert_eq!(
            split_pattern("/*.rs", None),
            (Some("/".to_owned()), "*.rs".to_owned())
        );
    }
}
