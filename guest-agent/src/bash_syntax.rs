//! Just enough shell syntax to reason about permissions: split compound commands, spot read-only ones.
//!
//! This is deliberately conservative: anything it does not understand (substitutions, redirections
//! into files, unknown programs) is treated as "may change things", which only ever means we ask.

/// Splits on `&&`, `||`, `;`, `|` and newlines outside quotes; each part trimmed and whitespace-normalised.
pub fn split(command: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = command.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some('"'), '\\') => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '\\') => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (None, ';' | '\n') => push_part(&mut parts, &mut current),
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                push_part(&mut parts, &mut current);
            }
            (None, '|') => {
                if chars.peek() == Some(&'|') {
                    chars.next();
                }
                push_part(&mut parts, &mut current);
            }
            (None, c) => current.push(c),
        }
    }
    push_part(&mut parts, &mut current);
    parts
}

fn push_part(parts: &mut Vec<String>, current: &mut String) {
    let part = normalize(current);
    if !part.is_empty() {
        parts.push(part);
    }
    current.clear();
}

/// Collapses runs of whitespace so `ls  -la` and `ls -la` compare equal.
pub fn normalize(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Programs that only read, whatever their arguments (given no redirection into a file).
const READ_ONLY_PROGRAMS: &[&str] = &[
    "ls",
    "cat",
    "head",
    "tail",
    "wc",
    "pwd",
    "echo",
    "printf",
    "grep",
    "egrep",
    "fgrep",
    "rg",
    "stat",
    "du",
    "df",
    "which",
    "whoami",
    "id",
    "date",
    "uname",
    "tree",
    "cut",
    "tr",
    "diff",
    "cmp",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "true",
    "false",
    "test",
    "[",
    "nl",
    "od",
    "hexdump",
    "xxd",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "less",
    "more",
    "type",
    "hostname",
    "uptime",
    "free",
    "column",
    "jq",
    "seq",
    "sleep",
];

/// `git` sub-commands that only read (given none of [`GIT_WRITING_OPTIONS`]).
const READ_ONLY_GIT: &[&str] = &[
    "status",
    "log",
    "diff",
    "show",
    "rev-parse",
    "ls-files",
    "blame",
    "describe",
    "shortlog",
    "grep",
];

/// `git` sub-commands that only list when given nothing but these options (with a name they
/// create, rename or delete).
const LISTING_GIT: &[(&str, &[&str])] = &[
    (
        "branch",
        &["-a", "-r", "-v", "-vv", "--list", "-l", "--all"],
    ),
    ("tag", &["-l", "--list"]),
    ("remote", &["-v", "--verbose"]),
];

/// Options that make a reading `git` command write a file (`--output`) or run a program
/// (`git grep -O<cmd>`, external diff and text-conversion drivers).
const GIT_WRITING_OPTIONS: &[&str] = &[
    "--output",
    "-O",
    "--open-files-in-pager",
    "--ext-diff",
    "--textconv",
];

/// Whether a single (already split) command, or a whole compound command, can only read.
pub fn is_read_only(command: &str) -> bool {
    let parts = split(command);
    !parts.is_empty() && parts.iter().all(|p| part_is_read_only(p))
}

fn part_is_read_only(part: &str) -> bool {
    if part.contains("$(") || part.contains('`') || has_file_redirection(part) {
        return false;
    }
    let words: Vec<&str> = part.split_whitespace().collect();
    let Some(&program) = words.first() else {
        return false;
    };
    match program {
        "find" => !words.iter().any(|w| {
            matches!(
                *w,
                "-delete"
                    | "-exec"
                    | "-execdir"
                    | "-ok"
                    | "-okdir"
                    | "-fprint"
                    | "-fprint0"
                    | "-fprintf"
                    | "-fls"
            )
        }),
        "git" => git_is_read_only(&words[1..]),
        "sed" => sed_is_read_only(&words[1..]),
        // `-o` writes its output to a file; a compression program is run.
        "sort" => !words[1..].iter().any(|w| {
            w.starts_with("-o") || w.starts_with("--output") || w.starts_with("--compress-program")
        }),
        // A second operand is the file `uniq` writes.
        "uniq" => words[1..].iter().filter(|w| !w.starts_with('-')).count() <= 1,
        // `-C` compiles a magic file next to the input.
        "file" => !words[1..]
            .iter()
            .any(|w| *w == "-C" || w.starts_with("--compile")),
        program => READ_ONLY_PROGRAMS.contains(&program),
    }
}

fn git_is_read_only(args: &[&str]) -> bool {
    let Some((sub, rest)) = args.split_first() else {
        return false;
    };
    if rest
        .iter()
        .any(|w| GIT_WRITING_OPTIONS.iter().any(|o| w.starts_with(o)))
    {
        return false;
    }
    if READ_ONLY_GIT.contains(sub) {
        return true;
    }
    LISTING_GIT
        .iter()
        .find(|(name, _)| name == sub)
        .is_some_and(|(_, allowed)| rest.iter().all(|w| allowed.contains(w)))
}

/// `sed -n` whose script only prints: addresses (`12`, `$`, `/re/`, ranges) followed by `p` or
/// `=`, separated by `;`. GNU sed's `e` runs a command and `w`/`W` write files, so anything else
/// asks.
fn sed_is_read_only(args: &[&str]) -> bool {
    if !args.contains(&"-n")
        || args
            .iter()
            .any(|w| w.starts_with("-i") || w.starts_with("--in-place"))
    {
        return false;
    }
    let Some(script) = args.iter().find(|w| !w.starts_with('-')) else {
        return false;
    };
    let script = script.trim_matches(|c| c == '\'' || c == '"');
    !script.is_empty() && script.split(';').all(|command| prints_only(command.trim()))
}

fn prints_only(command: &str) -> bool {
    let Some(rest) = command.strip_suffix(['p', '=']) else {
        return false;
    };
    let address = |a: &str| {
        a.is_empty()
            || a == "$"
            || a.bytes().all(|b| b.is_ascii_digit())
            || (a.len() >= 2
                && a.starts_with('/')
                && a.ends_with('/')
                && !a[1..a.len() - 1].contains('/'))
    };
    match rest.split_once(',') {
        Some((from, to)) => address(from) && address(to) && !from.is_empty() && !to.is_empty(),
        None => address(rest),
    }
}

/// `>` or `>>` into anything but `/dev/null` or another descriptor.
fn has_file_redirection(part: &str) -> bool {
    let bytes = part.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'>' => {
                let rest = part[i + 1..].trim_start_matches('>').trim_start();
                if !(rest.starts_with('&') || rest.starts_with("/dev/null")) {
                    return true;
                }
            }
            None => {}
        }
        i += 1;
    }
    false
}

/// The prefix an "always allow" rule should cover: the program and, for tools with sub-commands, the
/// sub-command (`npm run`, `git push`, `cargo test`).
pub fn suggested_prefix(command: &str) -> Option<String> {
    let first = split(command).into_iter().next()?;
    let words: Vec<&str> = first.split_whitespace().collect();
    let program = *words.first()?;
    let with_sub = matches!(
        program,
        "git"
            | "npm"
            | "pnpm"
            | "yarn"
            | "cargo"
            | "go"
            | "docker"
            | "kubectl"
            | "pip"
            | "python3"
            | "python"
            | "make"
            | "uv"
    );
    match (with_sub, words.get(1)) {
        (true, Some(sub)) if !sub.starts_with('-') => Some(format!("{program} {sub}")),
        _ => Some(program.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_only() {
        assert_eq!(
            split("git status && echo 'a && b' | wc -l; ls\nrm x || true"),
            vec!["git status", "echo 'a && b'", "wc -l", "ls", "rm x", "true"]
        );
        assert_eq!(split("echo \"x;y\""), vec!["echo \"x;y\""]);
    }

    #[test]
    fn read_only_detection_is_conservative() {
        assert!(is_read_only("ls -la && cat a.txt | grep x"));
        assert!(is_read_only("git status"));
        assert!(is_read_only("echo hi 2>&1 >/dev/null"));
        assert!(!is_read_only("echo hi > out.txt"));
        assert!(!is_read_only("rm -rf build"));
        assert!(!is_read_only("ls $(rm x)"));
        assert!(!is_read_only("find . -delete"));
        assert!(!is_read_only("git push"));
        assert!(!is_read_only("sed -i s/a/b/ f"));
        assert!(is_read_only("echo '>' literal"));
        assert!(!is_read_only(""));
    }

    #[test]
    fn the_full_toolsets_programs_that_can_write_or_run_are_not_read_only() {
        for reading in [
            "git log --oneline -5",
            "git diff HEAD~1",
            "git branch",
            "git branch -a",
            "git tag --list",
            "git remote -v",
            "git grep -n TODO",
            "sed -n '1,20p' notes.txt",
            "sed -n '/start/,/end/p' f",
            "sed -n $= f",
            "sort -u names.txt",
            "uniq -c counts.txt",
            "file report.pdf",
        ] {
            assert!(is_read_only(reading), "{reading}");
        }
        for writing in [
            "git grep -Osh x",
            "git grep --open-files-in-pager=sh x",
            "git log --output=out.txt",
            "git diff --ext-diff",
            "git branch new-feature",
            "git tag v1",
            "git remote add origin x",
            "git -c core.pager=sh log",
            "sed -n '1e rm -rf x' f",
            "sed -n 'w out' f",
            "sed -n '1,5p;w out' f",
            "sort -o out.txt in.txt",
            "sort --compress-program=sh big",
            "uniq in.txt out.txt",
            "file -C -m magic",
            "find . -fprint0 out",
        ] {
            assert!(!is_read_only(writing), "{writing}");
        }
    }

    #[test]
    fn prefixes_for_always_allow() {
        assert_eq!(
            suggested_prefix("npm run build").as_deref(),
            Some("npm run")
        );
        assert_eq!(suggested_prefix("rm -rf x && ls").as_deref(), Some("rm"));
        assert_eq!(
            suggested_prefix("git --no-pager log").as_deref(),
            Some("git")
        );
    }
}
