//! What the person types, read on a thread of its own so the chat loop never blocks on the keyboard.
//!
//! The loop asks for one thing at a time: a line (the next message, or a reason for a denial) or a
//! key (the answer to a permission question). Lines are read in the terminal's normal mode, so the
//! person can edit them. Keys are read with line editing and echo off but signals on, so Ctrl-C stays
//! a SIGINT that the loop sees on its signal stream; a key read that is no longer wanted (the question
//! was withdrawn) is cancelled and the terminal mode put back. When stdin is not a terminal, a key is
//! the first character of the next line, which is what a script piping answers in would send.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

/// What the chat loop wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Line,
    Key,
}

/// What was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// A line without its newline; `None` at the end of input (Ctrl-D).
    Line(Option<String>),
    Key(Key),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    /// Ctrl-C arrived as a byte (a terminal with signals off).
    Interrupt,
    /// The end of input.
    Eof,
    /// The read was cancelled before a key came.
    Cancelled,
}

/// The reading thread and its two channels.
pub struct Input {
    requests: std::sync::mpsc::Sender<(Want, u64)>,
    replies: mpsc::UnboundedReceiver<Got>,
    /// Key reads with a number at or below this are abandoned.
    cancelled: Arc<AtomicU64>,
    next_id: u64,
    outstanding: Option<(Want, u64)>,
}

impl Input {
    pub fn start() -> Self {
        let (requests, rx) = std::sync::mpsc::channel::<(Want, u64)>();
        let (tx, replies) = mpsc::unbounded_channel();
        let cancelled = Arc::new(AtomicU64::new(0));
        let cancel = cancelled.clone();
        let tty = crate::term::stdin_is_terminal();
        // The thread ends when the loop drops its sender, or with the process (a blocked read of a
        // terminal cannot be woken up otherwise; nothing is lost since the process is exiting).
        let spawned = std::thread::Builder::new()
            .name("workroom-input".into())
            .spawn(move || {
                let mut reader = Reader::new(tty);
                while let Ok((want, id)) = rx.recv() {
                    let got = match want {
                        Want::Line => Got::Line(reader.line()),
                        Want::Key => Got::Key(reader.key(|| cancel.load(Ordering::SeqCst) >= id)),
                    };
                    if tx.send(got).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            crate::term::error(&format!("cannot read the keyboard: {e}"));
        }
        Input {
            requests,
            replies,
            cancelled,
            next_id: 0,
            outstanding: None,
        }
    }

    /// Asks the thread for a line or a key, unless a read is already under way.
    pub fn want(&mut self, want: Want) {
        if self.outstanding.is_some() {
            return;
        }
        self.next_id += 1;
        if self.requests.send((want, self.next_id)).is_ok() {
            self.outstanding = Some((want, self.next_id));
        }
    }

    /// What is being read now.
    pub fn outstanding(&self) -> Option<Want> {
        self.outstanding.map(|(want, _)| want)
    }

    /// Abandons a key read under way (its reply arrives as [`Key::Cancelled`] or is dropped).
    pub fn cancel_key(&mut self) {
        if let Some((Want::Key, id)) = self.outstanding {
            self.cancelled.store(id, Ordering::SeqCst);
        }
    }

    /// The next thing typed; never resolves while nothing is being read.
    pub async fn next(&mut self) -> Got {
        let Some((want, _)) = self.outstanding else {
            return std::future::pending().await;
        };
        let got = self.replies.recv().await;
        self.outstanding = None;
        // `None`: the thread could not start or has ended, which is the end of input.
        got.unwrap_or(match want {
            Want::Line => Got::Line(None),
            Want::Key => Got::Key(Key::Eof),
        })
    }
}

/// stdin with our own buffer (std's buffered stdin would hide bytes from `poll`).
struct Reader {
    tty: bool,
    buf: Vec<u8>,
    eof: bool,
}

impl Reader {
    fn new(tty: bool) -> Self {
        Reader {
            tty,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// Reads what is available. A buffer larger than std's own makes `Stdin` read directly.
    fn fill(&mut self) {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match std::io::stdin().lock().read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.eof = true;
                    return;
                }
            }
        }
    }

    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line[..end]);
                return Some(text.trim_end_matches('\r').to_string());
            }
            if self.eof {
                if self.buf.is_empty() {
                    // A terminal's Ctrl-D is not the end for good; the next read may bring more.
                    if self.tty {
                        self.eof = false;
                    }
                    return None;
                }
                let text = String::from_utf8_lossy(&self.buf).into_owned();
                self.buf.clear();
                return Some(text);
            }
            self.fill();
        }
    }

    fn key(&mut self, cancelled: impl Fn() -> bool) -> Key {
        if !self.tty {
            return match self.line() {
                Some(line) => line
                    .trim()
                    .chars()
                    .next()
                    .map(Key::Char)
                    .unwrap_or(Key::Char('\n')),
                None => Key::Eof,
            };
        }
        // Leftovers of earlier reads (a pasted block) are not answers to this question either.
        self.buf.clear();
        let _mode = KeyMode::enter();
        loop {
            if let Some(key) = self.take_key() {
                return key;
            }
            if cancelled() {
                return Key::Cancelled;
            }
            if self.eof {
                self.eof = false;
                return Key::Eof;
            }
            if stdin_readable(Duration::from_millis(100)) {
                self.fill();
            }
        }
    }

    fn take_key(&mut self) -> Option<Key> {
        let first = *self.buf.first()?;
        if first == 0x03 {
            self.buf.remove(0);
            return Some(Key::Interrupt);
        }
        if first == 0x04 {
            self.buf.remove(0);
            return Some(Key::Eof);
        }
        // One character, however many bytes it takes; the rest stays for later reads.
        let len = match first {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        if self.buf.len() < len {
            return None;
        }
        let bytes: Vec<u8> = self.buf.drain(..len).collect();
        let c = String::from_utf8_lossy(&bytes)
            .chars()
            .next()
            .unwrap_or('?');
        Some(Key::Char(c))
    }
}

fn stdin_readable(timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(100);
    // SAFETY: `fd` is one valid pollfd that lives across the call; poll only writes its `revents`.
    let ready = unsafe { libc::poll(&mut fd, 1, ms) };
    ready > 0
}

static SAVED_MODE: Mutex<Option<libc::termios>> = Mutex::new(None);

fn get_mode() -> Option<libc::termios> {
    // SAFETY: termios is plain old data; an all-zero value is valid and tcgetattr overwrites it.
    let mut mode: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 is open for the life of the process and `mode` is a valid termios to fill.
    let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut mode) } == 0;
    ok.then_some(mode)
}

fn set_mode(mode: &libc::termios) {
    // SAFETY: fd 0 is open and `mode` is a termios obtained from tcgetattr (possibly with flags
    // changed); a failure leaves the terminal as it was.
    unsafe {
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, mode);
    }
}

/// Remembers the terminal's mode at start-up.
pub fn save_terminal_mode() {
    let mode = get_mode();
    *SAVED_MODE.lock().unwrap_or_else(PoisonError::into_inner) = mode;
}

/// Puts back the mode saved at start-up (no-op when stdin is not a terminal).
pub fn restore_terminal_mode() {
    if let Some(mode) = *SAVED_MODE.lock().unwrap_or_else(PoisonError::into_inner) {
        set_mode(&mode);
    }
}

/// Throws away whatever was typed but not read yet, so keys pressed before a question was shown can
/// never answer it. Called before the question is printed: a key pressed after seeing it is kept.
pub fn discard_typed_ahead() {
    if crate::term::stdin_is_terminal() {
        // SAFETY: tcflush on fd 0, which stays open for the life of the process.
        unsafe {
            libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
        }
    }
}

/// Turns the terminal's echo on or off (no-op when stdin is not a terminal). Off while the agent
/// works, so keys typed meanwhile do not land in the middle of its output and the spinner; they stay
/// queued for the next line.
pub fn set_echo(on: bool) {
    if !crate::term::stdin_is_terminal() {
        return;
    }
    if let Some(mut mode) = get_mode() {
        if on {
            mode.c_lflag |= libc::ECHO;
        } else {
            mode.c_lflag &= !libc::ECHO;
        }
        set_mode(&mode);
    }
}

/// Single keys, no echo, signals still on; the previous mode comes back when dropped.
struct KeyMode {
    previous: Option<libc::termios>,
}

impl KeyMode {
    fn enter() -> Self {
        let previous = get_mode();
        if let Some(mut mode) = previous {
            mode.c_lflag &= !(libc::ICANON | libc::ECHO);
            mode.c_cc[libc::VMIN] = 1;
            mode.c_cc[libc::VTIME] = 0;
            set_mode(&mode);
        }
        KeyMode { previous }
    }
}

impl Drop for KeyMode {
    fn drop(&mut self) {
        if let Some(mode) = &self.previous {
            set_mode(mode);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_whole_characters_and_control_bytes_mean_something() {
        let mut r = Reader::new(true);
        r.buf = "é\x03y".as_bytes().to_vec();
        assert_eq!(r.take_key(), Some(Key::Char('é')));
        assert_eq!(r.take_key(), Some(Key::Interrupt));
        assert_eq!(r.take_key(), Some(Key::Char('y')));
        assert_eq!(r.take_key(), None);
    }

    #[test]
    fn lines_lose_their_line_ends() {
        let mut r = Reader::new(false);
        r.buf = b"first\r\nsecond\nlast".to_vec();
        r.eof = true;
        assert_eq!(r.line().as_deref(), Some("first"));
        assert_eq!(r.line().as_deref(), Some("second"));
        assert_eq!(r.line().as_deref(), Some("last"));
        assert_eq!(r.line(), None);
    }
}
