//! `Grep`: ripgrep-style content search, built from ripgrep's own crates.
//!
//! The folder is walked in parallel (`ignore`'s parallel walker, as `rg` does), each worker
//! thread keeping its own searcher. Results are then sorted so the answer does not depend on
//! thread timing: `content` and `count` by path, `files_with_matches` by modification time,
//! newest first (then by path), as Claude Code does.

use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use grep_matcher::Matcher as _;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkMatch};
use ignore::overrides::{Override, OverrideBuilder};
use ignore::types::{Types, TypesBuilder};
use ignore::WalkState;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::context::{ToolContent, ToolContext, ToolOutput};
use super::glob::walker;
use super::paths::{self, PathError};

pub const NAME: &str = "Grep";

/// Entries returned when the model gives no `head_limit` (Claude Code's default).
const DEFAULT_HEAD_LIMIT: usize = 250;
/// Ceiling on the text sent back, whatever `head_limit` says.
const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Longer matching lines are cut (Claude Code runs `rg --max-columns 500`): minified files
/// would otherwise fill the output with one line.
const MAX_LINE_BYTES: usize = 500;
/// Memory bound on collected output before sorting; a pattern matching nearly every line of a
/// huge tree stops the walk here and says so.
const COLLECT_BUDGET_BYTES: usize = 64 * 1024 * 1024;

pub fn description() -> &'static str {
    "A powerful search tool built on ripgrep's engine.

Usage:
- ALWAYS use Grep for search tasks. Do not run `grep` or `rg` through Bash
- Supports full regex syntax (e.g. \"log.*Error\", \"function\\s+\\w+\"); the syntax is ripgrep's (Rust regex), so literal braces need escaping: use `interface\\{\\}` to find `interface{}` in Go code
- Filter files with glob (e.g. \"*.js\", \"**/*.tsx\") or type (e.g. \"js\", \"py\", \"rust\")
- Output modes: \"content\" shows matching lines (path:line:text), \"files_with_matches\" shows only file paths, newest first (default), \"count\" shows match counts per file
- head_limit (default 250, 0 for no limit) and offset page through the entries of any mode
- Patterns match within single lines by default. For patterns that span lines, like `struct \\{[\\s\\S]*?field`, use multiline: true
- Files ignored by .gitignore/.ignore and hidden files are skipped, as ripgrep does; binary files are skipped
- Use the Task tool for open-ended searches that need many rounds"
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "The regular expression pattern to search for in file contents"
            },
            "path": {
                "type": "string",
                "description": "File or directory to search in (rg PATH). Defaults to current working directory."
            },
            "glob": {
                "type": "string",
                "description": "Glob pattern to filter files (e.g. \"*.js\", \"*.{ts,tsx}\") - maps to rg --glob"
            },
            "output_mode": {
                "type": "string",
                "enum": ["content", "files_with_matches", "count"],
                "description": "Output mode: \"content\" shows matching lines (supports -A/-B/-C context, -n line numbers, head_limit), \"files_with_matches\" shows file paths (supports head_limit), \"count\" shows match counts (supports head_limit). Defaults to \"files_with_matches\"."
            },
            "-B": {
                "type": "integer",
                "minimum": 0,
                "description": "Number of lines to show before each match (rg -B). Requires output_mode: \"content\", ignored otherwise."
            },
            "-A": {
                "type": "integer",
                "minimum": 0,
                "description": "Number of lines to show after each match (rg -A). Requires output_mode: \"content\", ignored otherwise."
            },
            "-C": {
                "type": "integer",
                "minimum": 0,
                "description": "Number of lines to show before and after each match (rg -C). Requires output_mode: \"content\", ignored otherwise."
            },
            "context": {
                "type": "integer",
                "minimum": 0,
                "description": "Alias for -C."
            },
            "-n": {
                "type": "boolean",
                "description": "Show line numbers in output (rg -n). Requires output_mode: \"content\", ignored otherwise. Defaults to true."
            },
            "-i": {
                "type": "boolean",
                "description": "Case insensitive search (rg -i)"
            },
            "-o": {
                "type": "boolean",
                "description": "Print only the matched parts of lines (rg -o). Requires output_mode: \"content\", ignored otherwise."
            },
            "type": {
                "type": "string",
                "description": "File type to search (rg --type). Common types: js, py, rust, go, java, etc. More efficient than include for standard file types."
            },
            "head_limit": {
                "type": "integer",
                "minimum": 0,
                "description": "Limit output to first N lines/entries, equivalent to \"| head -N\". Works across all output modes: content (limits output lines), files_with_matches (limits file paths), count (limits count entries). Defaults to 250; 0 means unlimited."
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "Skip first N lines/entries before applying head_limit, equivalent to \"| tail -n +N | head -N\". Works across all output modes. Defaults to 0."
            },
            "multiline": {
                "type": "boolean",
                "description": "Enable multiline mode where . matches newlines and patterns can span lines (rg -U --multiline-dotall). Default: false."
            }
        },
        "required": ["pattern"],
        "additionalProperties": false
    })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutputMode {
    Content,
    #[default]
    FilesWithMatches,
    Count,
}

impl OutputMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Content => "content",
            Self::FilesWithMatches => "files_with_matches",
            Self::Count => "count",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default)]
    output_mode: OutputMode,
    #[serde(rename = "-B", default)]
    before: Option<usize>,
    #[serde(rename = "-A", default)]
    after: Option<usize>,
    #[serde(rename = "-C", default)]
    around: Option<usize>,
    #[serde(default)]
    context: Option<usize>,
    #[serde(rename = "-n", default)]
    line_numbers: Option<bool>,
    #[serde(rename = "-i", default)]
    case_insensitive: bool,
    #[serde(rename = "-o", default)]
    only_matching: bool,
    #[serde(rename = "type", default)]
    file_type: Option<String>,
    #[serde(default)]
    head_limit: Option<usize>,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    multiline: bool,
}

#[derive(Debug, Error)]
enum GrepError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("Path does not exist: {}", .0.display())]
    NotFound(PathBuf),
    #[error("{} is not a regular file or folder (it may be a device, socket or pipe), so it cannot be searched.", .0.display())]
    NotRegular(PathBuf),
    #[error("Grep: invalid regular expression: {0}\nThe syntax is ripgrep's (Rust regex): escape literal ( ) [ ] {{ }} . * + ? | ^ $ \\ with a backslash. To match across lines, set multiline: true.")]
    BadRegex(String),
    #[error("Grep: invalid glob {glob:?}: {reason}")]
    BadGlob { glob: String, reason: String },
    #[error("Grep: unknown file type {0:?}. Use a ripgrep type name such as rust, py, js, ts, go, java, c, cpp, md, json or yaml, or filter with glob instead.")]
    UnknownType(String),
    #[error("Grep was interrupted before it finished.")]
    Interrupted,
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    super::context::run_blocking(NAME, ctx, input, grep).await
}

/// What to collect from each file, from the arguments.
#[derive(Debug, Clone, Copy)]
struct Plan {
    mode: OutputMode,
    before: usize,
    after: usize,
    line_numbers: bool,
    only_matching: bool,
    multiline: bool,
}

impl Plan {
    fn from_args(args: &Args) -> Self {
        let content = args.output_mode == OutputMode::Content;
        let around = args.context.or(args.around).unwrap_or(0);
        Self {
            mode: args.output_mode,
            before: if content {
                args.before.unwrap_or(around)
            } else {
                0
            },
            after: if content {
                args.after.unwrap_or(around)
            } else {
                0
            },
            line_numbers: content && args.line_numbers.unwrap_or(true),
            only_matching: content && args.only_matching,
            multiline: args.multiline,
        }
    }

    fn has_context(&self) -> bool {
        self.before > 0 || self.after > 0
    }

    fn searcher(&self) -> Searcher {
        SearcherBuilder::new()
            .line_number(self.line_numbers)
            .before_context(self.before)
            .after_context(self.after)
            .multi_line(self.multiline)
            .binary_detection(BinaryDetection::quit(b'\0'))
            .build()
    }
}

fn grep(ctx: &ToolContext, args: &Args) -> Result<ToolOutput, GrepError> {
    let target = match args.path.as_deref() {
        Some(raw) => paths::resolve(ctx, raw)?,
        None => ctx.cwd().to_path_buf(),
    };
    let meta = std::fs::metadata(&target).map_err(|_| GrepError::NotFound(target.clone()))?;
    if !meta.is_dir() && !meta.is_file() {
        return Err(GrepError::NotRegular(target));
    }
    let matcher = build_matcher(args)?;
    let plan = Plan::from_args(args);
    let collected = if meta.is_dir() {
        let overrides = build_overrides(&target, args.glob.as_deref())?;
        let types = build_types(args.file_type.as_deref())?;
        search_tree(&target, overrides, types, &matcher, plan, &ctx.cancel)
    } else {
        // A file named explicitly is searched even if ignore rules or filters would skip it.
        let mut worker = Worker::new(&matcher, plan, &ctx.cancel);
        Collected {
            files: worker.search(&target).into_iter().collect(),
            stopped_early: false,
        }
    };
    if ctx.cancel.is_cancelled() {
        return Err(GrepError::Interrupted);
    }
    let page = Paging {
        offset: args.offset.unwrap_or(0),
        limit: args.head_limit.unwrap_or(DEFAULT_HEAD_LIMIT),
    };
    Ok(report(collected, plan, page))
}

fn build_matcher(args: &Args) -> Result<RegexMatcher, GrepError> {
    let mut builder = RegexMatcherBuilder::new();
    // As rg: `^`/`$` always match at line boundaries.
    builder
        .case_insensitive(args.case_insensitive)
        .multi_line(true);
    if args.multiline {
        builder.dot_matches_new_line(true);
    } else {
        // Promises the searcher that no match spans lines, which enables its fast path.
        builder.line_terminator(Some(b'\n'));
    }
    builder
        .build(&args.pattern)
        .map_err(|e| GrepError::BadRegex(e.to_string()))
}

/// `glob` as rg's `--glob` flags. Like Claude Code, several globs may be given separated by
/// spaces or commas; a glob with braces keeps its commas ("*.{ts,tsx}").
fn build_overrides(dir: &Path, glob: Option<&str>) -> Result<Override, GrepError> {
    let Some(glob) = glob else {
        return Ok(Override::empty());
    };
    let mut builder = OverrideBuilder::new(dir);
    for word in glob.split_whitespace() {
        let globs: Vec<&str> = if word.contains('{') {
            vec![word]
        } else {
            word.split(',').filter(|g| !g.is_empty()).collect()
        };
        for single in globs {
            builder.add(single).map_err(|e| GrepError::BadGlob {
                glob: single.to_owned(),
                reason: e.to_string(),
            })?;
        }
    }
    builder.build().map_err(|e| GrepError::BadGlob {
        glob: glob.to_owned(),
        reason: e.to_string(),
    })
}

/// rg's `--type`, with rg's built-in type definitions.
fn build_types(file_type: Option<&str>) -> Result<Types, GrepError> {
    let mut builder = TypesBuilder::new();
    builder.add_defaults();
    if let Some(name) = file_type {
        builder.select(name);
    }
    builder
        .build()
        .map_err(|_| GrepError::UnknownType(file_type.unwrap_or_default().to_owned()))
}

/// What one file contributed.
#[derive(Debug)]
struct FileResult {
    path: PathBuf,
    /// `content` mode: the formatted lines, rg style. Empty in other modes.
    output: Vec<u8>,
    /// Matching lines (rg's `--count`); in multiline mode, matches.
    matches: u64,
    /// Only looked up in `files_with_matches` mode, where it orders the answer.
    mtime: Option<SystemTime>,
}

struct Collected {
    files: Vec<FileResult>,
    /// The walk stopped at [`COLLECT_BUDGET_BYTES`]: results are incomplete.
    stopped_early: bool,
}

/// Walks `dir` in parallel, one [`Worker`] per thread.
fn search_tree(
    dir: &Path,
    overrides: Override,
    types: Types,
    matcher: &RegexMatcher,
    plan: Plan,
    cancel: &CancellationToken,
) -> Collected {
    let files = Mutex::new(Vec::new());
    let collected_bytes = AtomicUsize::new(0);
    walker(dir)
        .overrides(overrides)
        .types(types)
        .build_parallel()
        .run(|| {
            let mut worker = Worker::new(matcher, plan, cancel);
            let (files, collected_bytes) = (&files, &collected_bytes);
            Box::new(move |entry| {
                if cancel.is_cancelled()
                    || collected_bytes.load(Ordering::Relaxed) > COLLECT_BUDGET_BYTES
                {
                    return WalkState::Quit;
                }
                let Ok(entry) = entry else {
                    return WalkState::Continue; // Unreadable folders are skipped, as rg does.
                };
                if entry.file_type().is_some_and(|t| t.is_file()) {
                    if let Some(found) = worker.search(entry.path()) {
                        collected_bytes.fetch_add(found.output.len(), Ordering::Relaxed);
                        if let Ok(mut files) = files.lock() {
                            files.push(found);
                        }
                    }
                }
                WalkState::Continue
            })
        });
    Collected {
        files: files.into_inner().unwrap_or_default(),
        stopped_early: collected_bytes.into_inner() > COLLECT_BUDGET_BYTES,
    }
}

/// One thread's searcher and matcher. Each keeps scratch space from file to file, and a
/// matcher of its own avoids threads contending for the regex engine's shared cache pool.
struct Worker<'a> {
    searcher: Searcher,
    matcher: RegexMatcher,
    plan: Plan,
    cancel: &'a CancellationToken,
}

impl<'a> Worker<'a> {
    fn new(matcher: &RegexMatcher, plan: Plan, cancel: &'a CancellationToken) -> Self {
        Self {
            searcher: plan.searcher(),
            matcher: matcher.clone(),
            plan,
            cancel,
        }
    }

    /// What `path` contributes, if it matches. Unreadable and binary files contribute nothing.
    fn search(&mut self, path: &Path) -> Option<FileResult> {
        let mut sink = FileSink {
            path,
            plan: self.plan,
            matcher: &self.matcher,
            cancel: self.cancel,
            output: Vec::new(),
            matches: 0,
            binary: false,
        };
        self.searcher
            .search_path(&self.matcher, path, &mut sink)
            .ok()?;
        if sink.matches == 0 || sink.binary {
            return None;
        }
        let mtime = match self.plan.mode {
            OutputMode::FilesWithMatches => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            _ => None,
        };
        Some(FileResult {
            path: path.to_path_buf(),
            output: sink.output,
            matches: sink.matches,
            mtime,
        })
    }
}

/// Receives one file's matches from the searcher and formats them like rg.
struct FileSink<'a> {
    path: &'a Path,
    plan: Plan,
    matcher: &'a RegexMatcher,
    cancel: &'a CancellationToken,
    output: Vec<u8>,
    matches: u64,
    binary: bool,
}

impl FileSink<'_> {
    /// `path:line:text` for matches, `path-line-text` for context (`-n` false drops `line`).
    fn write_line(&mut self, separator: u8, line_number: Option<u64>, line: &[u8]) {
        let out = &mut self.output;
        out.extend_from_slice(self.path.as_os_str().as_bytes());
        out.push(separator);
        if let Some(number) = line_number.filter(|_| self.plan.line_numbers) {
            let _ = write!(out, "{number}"); // Writing to a Vec cannot fail.
            out.push(separator);
        }
        let line = strip_line_ending(line);
        if line.len() > MAX_LINE_BYTES {
            out.extend_from_slice(&line[..utf8_boundary(line, MAX_LINE_BYTES)]);
            out.extend_from_slice(b" [... line truncated]");
        } else {
            out.extend_from_slice(line);
        }
        out.push(b'\n');
    }

    /// Each line of `bytes` (a match may span lines in multiline mode), numbered from `first`.
    fn write_lines(&mut self, first: Option<u64>, bytes: &[u8]) {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            self.write_line(b':', first.map(|n| n + i as u64), line);
        }
    }

    fn write_match(&mut self, mat: &SinkMatch<'_>) {
        let first_line = mat.line_number();
        let bytes = mat.bytes();
        if !self.plan.only_matching {
            self.write_lines(first_line, bytes);
            return;
        }
        let mut parts = Vec::new();
        let _ = self.matcher.find_iter(bytes, |m| {
            if !m.is_empty() {
                parts.push(m);
            }
            true
        });
        for m in parts {
            let line = first_line.map(|n| n + newlines(&bytes[..m.start()]));
            self.write_lines(line, &bytes[m]);
        }
    }
}

impl Sink for FileSink<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _: &Searcher, mat: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        self.matches += 1;
        match self.plan.mode {
            // One match is enough to list the file: stop reading it.
            OutputMode::FilesWithMatches => return Ok(false),
            OutputMode::Count => {}
            OutputMode::Content => self.write_match(mat),
        }
        Ok(!self.cancel.is_cancelled())
    }

    fn context(&mut self, _: &Searcher, ctx: &SinkContext<'_>) -> Result<bool, Self::Error> {
        self.write_line(b'-', ctx.line_number(), ctx.bytes());
        Ok(true)
    }

    fn context_break(&mut self, _: &Searcher) -> Result<bool, Self::Error> {
        self.output.extend_from_slice(b"--\n");
        Ok(true)
    }

    fn binary_data(&mut self, _: &Searcher, _offset: u64) -> Result<bool, Self::Error> {
        // As rg does for files it walks: a NUL byte means binary, which is not searched.
        self.binary = true;
        Ok(false)
    }
}

fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The largest index `<= max` that does not split a UTF-8 character.
fn utf8_boundary(bytes: &[u8], max: usize) -> usize {
    let mut end = max.min(bytes.len());
    while end > 0 && end < bytes.len() && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    end
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// `offset`/`head_limit`, applied to lines (content) or entries (files, counts).
#[derive(Debug, Clone, Copy)]
struct Paging {
    offset: usize,
    /// 0 means no limit.
    limit: usize,
}

impl Paging {
    /// The page of `items`, and the limit if it cut something off (Claude Code's `appliedLimit`).
    /// Lazy: items after the page are never produced.
    fn apply<T>(&self, items: impl IntoIterator<Item = T>) -> (Vec<T>, Option<usize>) {
        let rest = items.into_iter().skip(self.offset);
        if self.limit == 0 {
            return (rest.collect(), None);
        }
        // One more than the limit tells whether the limit cut anything.
        let mut page: Vec<T> = rest.take(self.limit + 1).collect();
        if page.len() > self.limit {
            page.truncate(self.limit);
            (page, Some(self.limit))
        } else {
            (page, None)
        }
    }

    /// " limit: 250, offset: 10" style note, empty when nothing was cut or skipped.
    fn describe(&self, applied_limit: Option<usize>) -> String {
        let mut parts = Vec::new();
        if let Some(limit) = applied_limit {
            parts.push(format!("limit: {limit}"));
        }
        if self.offset > 0 {
            parts.push(format!("offset: {}", self.offset));
        }
        parts.join(", ")
    }

    fn add_to(&self, structured: &mut Map<String, Value>, applied_limit: Option<usize>) {
        if let Some(limit) = applied_limit {
            structured.insert("appliedLimit".into(), limit.into());
        }
        if self.offset > 0 {
            structured.insert("appliedOffset".into(), self.offset.into());
        }
    }
}

fn report(mut collected: Collected, plan: Plan, page: Paging) -> ToolOutput {
    let mut output = match plan.mode {
        OutputMode::Content => report_content(&mut collected.files, plan, page),
        OutputMode::FilesWithMatches => report_files(&mut collected.files, page),
        OutputMode::Count => report_counts(&mut collected.files, page),
    };
    if collected.stopped_early {
        if let ToolContent::Text(text) = &mut output.content {
            text.push_str(&format!(
                "\n\n[The search stopped after collecting {} MB of matches, so results are incomplete. Use a more specific pattern, path, glob or type.]",
                COLLECT_BUDGET_BYTES / (1024 * 1024)
            ));
        }
    }
    output
}

/// The lines of one file's formatted output (which ends with a newline).
fn output_lines(output: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = output.strip_suffix(b"\n").unwrap_or(output);
    body.split(|&b| b == b'\n')
        .filter(move |_| !output.is_empty())
}

fn report_content(files: &mut [FileResult], plan: Plan, page: Paging) -> ToolOutput {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let lines = files.iter().enumerate().flat_map(|(i, file)| {
        // rg separates files with `--` too when context lines are shown.
        let separator = (i > 0 && plan.has_context()).then_some(&b"--"[..]);
        separator.into_iter().chain(output_lines(&file.output))
    });
    let (shown, applied_limit) = page.apply(lines);
    let shown: Vec<_> = shown.into_iter().map(String::from_utf8_lossy).collect();
    let (content, fitted) = cap_lines(&shown);
    let mut text = if content.is_empty() {
        "No matches found".to_owned()
    } else {
        content.clone()
    };
    let limit_info = page.describe(applied_limit);
    if !limit_info.is_empty() {
        text.push_str(&format!(
            "\n\n[Showing results with pagination = {limit_info}]"
        ));
    }
    if fitted < shown.len() {
        text.push_str(&cap_note());
    }
    let mut structured = base_structured(plan.mode, files.len(), &[]);
    structured.insert("content".into(), content.into());
    structured.insert("numLines".into(), fitted.into());
    page.add_to(&mut structured, applied_limit);
    ToolOutput::ok(text, Value::Object(structured))
}

fn report_files(files: &mut [FileResult], page: Paging) -> ToolOutput {
    files.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.path.cmp(&b.path)));
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    let (shown, applied_limit) = page.apply(names);
    let text = if shown.is_empty() {
        "No files found".to_owned()
    } else {
        let limit_info = page.describe(applied_limit);
        let limit_info = if limit_info.is_empty() {
            limit_info
        } else {
            format!(" {limit_info}")
        };
        let (listing, fitted) = cap_lines(&shown);
        let plural = if shown.len() == 1 { "" } else { "s" };
        let note = if fitted < shown.len() {
            cap_note()
        } else {
            String::new()
        };
        format!(
            "Found {} file{plural}{limit_info}\n{listing}{note}",
            shown.len()
        )
    };
    let mut structured = base_structured(OutputMode::FilesWithMatches, shown.len(), &shown);
    page.add_to(&mut structured, applied_limit);
    ToolOutput::ok(text, Value::Object(structured))
}

fn report_counts(files: &mut [FileResult], page: Paging) -> ToolOutput {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let (shown, applied_limit) = page.apply(files.iter());
    let entries: Vec<String> = shown
        .iter()
        .map(|f| format!("{}:{}", f.path.display(), f.matches))
        .collect();
    let total: u64 = shown.iter().map(|f| f.matches).sum();
    let (content, fitted) = cap_lines(&entries);
    let mut text = if content.is_empty() {
        "No matches found".to_owned()
    } else {
        content.clone()
    };
    if fitted < entries.len() {
        text.push_str(&cap_note());
    }
    let occurrences = if total == 1 {
        "occurrence"
    } else {
        "occurrences"
    };
    let file_word = if shown.len() == 1 { "file" } else { "files" };
    text.push_str(&format!(
        "\n\nFound {total} total {occurrences} across {} {file_word}.",
        shown.len()
    ));
    let limit_info = page.describe(applied_limit);
    if !limit_info.is_empty() {
        text.push_str(&format!(" with pagination = {limit_info}"));
    }
    let mut structured = base_structured(OutputMode::Count, shown.len(), &[]);
    structured.insert("content".into(), content.into());
    structured.insert("numMatches".into(), total.into());
    page.add_to(&mut structured, applied_limit);
    ToolOutput::ok(text, Value::Object(structured))
}

fn base_structured(mode: OutputMode, num_files: usize, filenames: &[String]) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("mode".into(), mode.as_str().into());
    map.insert("numFiles".into(), num_files.into());
    map.insert("filenames".into(), filenames.into());
    map
}

/// `lines` joined with `\n`, stopping before [`MAX_OUTPUT_BYTES`]; also how many lines fit.
fn cap_lines<S: AsRef<str>>(lines: &[S]) -> (String, usize) {
    let mut text = String::new();
    for (count, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        if text.len() + line.len() + 1 > MAX_OUTPUT_BYTES {
            return (text, count);
        }
        if count > 0 {
            text.push('\n');
        }
        text.push_str(line);
    }
    (text, lines.len())
}

fn cap_note() -> String {
    format!(
        "\n\n[Output truncated at {} KB. Use offset and head_limit to page through the rest, or narrow the search with path, glob or type.]",
        MAX_OUTPUT_BYTES / 1024
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{setup, text};
    use super::*;
    use std::time::Duration;

    fn write(ctx: &ToolContext, rel: &str, body: &str) -> String {
        let path = ctx.cwd().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    }

    fn age(path: &str, secs: u64) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    async fn grep(ctx: &ToolContext, input: Value) -> ToolOutput {
        let out = run(ctx, input).await;
        assert!(!out.is_error, "{out:?}");
        out
    }

    #[tokio::test]
    async fn files_with_matches_lists_newest_first() {
        let (_tmp, ctx) = setup();
        let old = write(&ctx, "old.rs", "fn target() {}\n");
        let new = write(&ctx, "src/new.rs", "// target\n");
        write(&ctx, "other.rs", "nothing here\n");
        age(&old, 500);
        age(&new, 5);
        let out = grep(&ctx, json!({"pattern": "target"})).await;
        assert_eq!(text(&out), format!("Found 2 files\n{new}\n{old}"));
        assert_eq!(
            out.structured,
            json!({"mode": "files_with_matches", "numFiles": 2, "filenames": [new, old]})
        );
    }

    #[tokio::test]
    async fn content_mode_prints_rg_style_lines_with_context() {
        let (_tmp, ctx) = setup();
        let a = write(
            &ctx,
            "a.txt",
            "one\ntwo\nmatch here\nfour\nfive\nsix\nseven\nmatch again\n",
        );
        let b = write(&ctx, "b.txt", "match in b\n");
        let out = grep(
            &ctx,
            json!({"pattern": "match", "output_mode": "content", "-B": 1, "-A": 1}),
        )
        .await;
        let expected = [
            format!("{a}-2-two"),
            format!("{a}:3:match here"),
            format!("{a}-4-four"),
            "--".to_owned(),
            format!("{a}-7-seven"),
            format!("{a}:8:match again"),
            "--".to_owned(),
            format!("{b}:1:match in b"),
        ]
        .join("\n");
        assert_eq!(text(&out), expected);
        assert_eq!(out.structured["content"], expected);
        assert_eq!(out.structured["numLines"], 8);
        assert_eq!(out.structured["numFiles"], 2);

        let out = grep(
            &ctx,
            json!({"pattern": "b$", "output_mode": "content", "-n": false}),
        )
        .await;
        assert_eq!(text(&out), format!("{b}:match in b"));
        let out = grep(
            &ctx,
            json!({"pattern": "four", "output_mode": "content", "context": 1}),
        )
        .await;
        assert_eq!(
            text(&out),
            format!("{a}-3-match here\n{a}:4:four\n{a}-5-five")
        );
    }

    #[tokio::test]
    async fn count_mode_counts_matching_lines_per_file() {
        let (_tmp, ctx) = setup();
        let a = write(&ctx, "a.txt", "x\nx x\ny\n");
        let b = write(&ctx, "b.txt", "x\n");
        let out = grep(&ctx, json!({"pattern": "x", "output_mode": "count"})).await;
        assert_eq!(
            text(&out),
            format!("{a}:2\n{b}:1\n\nFound 3 total occurrences across 2 files.")
        );
        assert_eq!(out.structured["numMatches"], 3);
        assert_eq!(out.structured["content"], format!("{a}:2\n{b}:1"));
    }

    #[tokio::test]
    async fn case_insensitive_and_only_matching() {
        let (_tmp, ctx) = setup();
        let f = write(&ctx, "f.txt", "Hello hello HELLO\n");
        let out = grep(&ctx, json!({"pattern": "HELLO", "output_mode": "count"})).await;
        assert!(text(&out).starts_with(&format!("{f}:1")));
        let out = grep(
            &ctx,
            json!({"pattern": "hello", "-i": true, "-o": true, "output_mode": "content"}),
        )
        .await;
        assert_eq!(text(&out), format!("{f}:1:Hello\n{f}:1:hello\n{f}:1:HELLO"));
        let out = run(&ctx, json!({"pattern": "world", "-i": true})).await;
        assert_eq!(text(&out), "No files found");
    }

    #[tokio::test]
    async fn type_and_glob_filter_files() {
        let (_tmp, ctx) = setup();
        let rs = write(&ctx, "src/lib.rs", "needle\n");
        let py = write(&ctx, "tool.py", "needle\n");
        let ts = write(&ctx, "web/app.tsx", "needle\n");
        let names = |out: &ToolOutput| {
            let mut v: Vec<String> =
                serde_json::from_value(out.structured["filenames"].clone()).unwrap();
            v.sort();
            v
        };
        let out = grep(&ctx, json!({"pattern": "needle", "type": "rust"})).await;
        assert_eq!(names(&out), vec![rs.clone()]);
        let out = grep(&ctx, json!({"pattern": "needle", "glob": "*.{py,tsx}"})).await;
        assert_eq!(names(&out), vec![py.clone(), ts.clone()]);
        let out = grep(&ctx, json!({"pattern": "needle", "glob": "*.py, *.rs"})).await;
        assert_eq!(names(&out), vec![rs.clone(), py.clone()]);
        let out = grep(&ctx, json!({"pattern": "needle", "glob": "!*.py"})).await;
        assert_eq!(names(&out), vec![rs, ts]);
        let out = run(&ctx, json!({"pattern": "needle", "type": "nosuchtype"})).await;
        assert!(out.is_error && text(&out).contains("unknown file type"));
    }

    #[tokio::test]
    async fn head_limit_and_offset_page_through_entries() {
        let (_tmp, ctx) = setup();
        let body: String = (1..=10).map(|i| format!("hit {i}\n")).collect();
        let f = write(&ctx, "f.txt", &body);
        let out = grep(
            &ctx,
            json!({"pattern": "hit", "output_mode": "content", "head_limit": 3, "offset": 2}),
        )
        .await;
        assert_eq!(
            text(&out),
            format!("{f}:3:hit 3\n{f}:4:hit 4\n{f}:5:hit 5\n\n[Showing results with pagination = limit: 3, offset: 2]")
        );
        assert_eq!(out.structured["appliedLimit"], 3);
        assert_eq!(out.structured["appliedOffset"], 2);

        let out = grep(
            &ctx,
            json!({"pattern": "hit", "output_mode": "content", "head_limit": 0}),
        )
        .await;
        assert_eq!(out.structured["numLines"], 10);
        assert!(out.structured.get("appliedLimit").is_none());

        for i in 0..5 {
            write(&ctx, &format!("many/{i}.txt"), "hit\n");
        }
        let out = grep(&ctx, json!({"pattern": "hit", "head_limit": 2})).await;
        assert!(
            text(&out).starts_with("Found 2 files limit: 2\n"),
            "{}",
            text(&out)
        );
    }

    #[tokio::test]
    async fn default_head_limit_is_250_lines() {
        let (_tmp, ctx) = setup();
        let body: String = (0..300).map(|i| format!("x{i}\n")).collect();
        write(&ctx, "f.txt", &body);
        let out = grep(&ctx, json!({"pattern": "x", "output_mode": "content"})).await;
        assert_eq!(out.structured["numLines"], 250);
        assert_eq!(out.structured["appliedLimit"], 250);
    }

    #[tokio::test]
    async fn multiline_matches_span_lines() {
        let (_tmp, ctx) = setup();
        let f = write(&ctx, "s.rs", "struct A {\n    x: u8,\n}\n");
        let out = grep(
            &ctx,
            json!({"pattern": "struct A \\{.*x", "output_mode": "content"}),
        )
        .await;
        assert_eq!(text(&out), "No matches found");
        let out = grep(
            &ctx,
            json!({"pattern": "struct A \\{.*x", "multiline": true, "output_mode": "content"}),
        )
        .await;
        assert_eq!(text(&out), format!("{f}:1:struct A {{\n{f}:2:    x: u8,"));
        let out = grep(&ctx, json!({"pattern": "\\{\\n +x", "multiline": true, "-o": true, "output_mode": "content"})).await;
        assert_eq!(text(&out), format!("{f}:1:{{\n{f}:2:    x"));
    }

    #[tokio::test]
    async fn output_is_capped_with_a_note() {
        let (_tmp, ctx) = setup();
        let line = "y".repeat(400);
        let body: String = (0..1000).map(|_| format!("{line}\n")).collect();
        write(&ctx, "big.txt", &body);
        let out = grep(
            &ctx,
            json!({"pattern": "y", "output_mode": "content", "head_limit": 0}),
        )
        .await;
        assert!(text(&out).contains("[Output truncated at 256 KB."));
        let shown = out.structured["numLines"].as_u64().unwrap();
        assert!(shown > 100 && shown < 1000, "{shown}");
        assert_eq!(
            out.structured["content"].as_str().unwrap().lines().count() as u64,
            shown
        );
    }

    #[tokio::test]
    async fn respects_gitignore_skips_hidden_and_binary_files() {
        let (_tmp, ctx) = setup();
        std::fs::create_dir(ctx.cwd().join(".git")).unwrap();
        write(&ctx, ".gitignore", "build/\n");
        let kept = write(&ctx, "src/a.txt", "needle\n");
        write(&ctx, "build/out.txt", "needle\n");
        write(&ctx, ".secret/x.txt", "needle\n");
        std::fs::write(ctx.cwd().join("blob.bin"), b"needle\0\x01\x02").unwrap();
        let out = grep(&ctx, json!({"pattern": "needle"})).await;
        assert_eq!(out.structured["filenames"], json!([kept]));
    }

    #[tokio::test]
    async fn searches_a_single_file_path() {
        let (_tmp, ctx) = setup();
        let f = write(&ctx, "one.txt", "alpha\nbeta\n");
        let out = grep(
            &ctx,
            json!({"pattern": "beta", "path": f, "output_mode": "content"}),
        )
        .await;
        assert_eq!(text(&out), format!("{f}:2:beta"));
    }

    #[tokio::test]
    async fn long_lines_are_cut() {
        let (_tmp, ctx) = setup();
        write(&ctx, "min.js", &format!("needle{}\n", "é".repeat(1000)));
        let out = grep(&ctx, json!({"pattern": "needle", "output_mode": "content"})).await;
        assert!(text(&out).ends_with(" [... line truncated]"));
        assert!(text(&out).len() < 700);
    }

    #[tokio::test]
    async fn refuses_bad_regex_paths_outside_and_bad_input() {
        let (_tmp, ctx) = setup();
        let out = run(&ctx, json!({"pattern": "fn (", "path": "."})).await;
        assert!(
            out.is_error && text(&out).starts_with("Grep: invalid regular expression"),
            "{out:?}"
        );
        let out = run(&ctx, json!({"pattern": "x", "path": "/etc"})).await;
        assert!(out.is_error && text(&out).contains("outside the folders"));
        let out = run(&ctx, json!({"pattern": "x", "path": "missing"})).await;
        assert!(out.is_error && text(&out).starts_with("Path does not exist"));
        let out = run(&ctx, json!({"pattern": "x", "output_mode": "lines"})).await;
        assert!(
            out.is_error && text(&out).contains("unknown variant `lines`"),
            "{out:?}"
        );
        let out = run(&ctx, json!({"pattern": "x", "glob": "a[", "path": "."})).await;
        assert!(
            out.is_error && text(&out).starts_with("Grep: invalid glob"),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn stops_when_cancelled() {
        let (_tmp, ctx) = setup();
        write(&ctx, "a.txt", "x\n");
        ctx.cancel.cancel();
        let out = run(&ctx, json!({"pattern": "x"})).await;
        assert!(out.is_error && text(&out).contains("interrupted"));
    }

    #[test]
    fn utf8_boundary_never_splits_a_character() {
        let s = "aé".as_bytes(); // a, 0xC3, 0xA9
        assert_eq!(utf8_boundary(s, 2), 1);
        assert_eq!(utf8_boundary(s, 3), 3);
        assert_eq!(utf8_boundary(s, 10), 3);
    }
}
