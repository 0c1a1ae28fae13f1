//! A pseudo-terminal for driving the `workroom` binary as a person would: it sees a terminal (so it
//! shows spinners and reads single keys), the test types into it and reads the screen as text.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What the program wrote, and whether it has closed the terminal.
#[derive(Default)]
struct Screen {
    text: String,
    closed: bool,
}

/// A program running on a pseudo-terminal.
pub struct Pty {
    child: Child,
    master: File,
    screen: Arc<(Mutex<Screen>, Condvar)>,
    /// Where the next [`Pty::expect`] starts looking (text before it was already matched).
    cursor: usize,
}

impl Pty {
    /// Starts `command` with a 120×40 terminal as its stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> Pty {
        let mut master_fd: libc::c_int = -1;
        let mut slave_fd: libc::c_int = -1;
        let mut size = libc::winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two fds into the given ints; the name and termios pointers may be
        // null and the winsize pointer is a valid value that outlives the call.
        let rc = unsafe {
            libc::openpty(
                &mut master_fd,
                &mut slave_fd,
                std::ptr::null_mut(),
                // `*const` on Linux, `*mut` on macOS: `*mut` pointers fit both.
                std::ptr::null_mut(),
                &raw mut size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty succeeded, so both fds are open and owned by nobody else.
        let (master, slave) = unsafe {
            (
                OwnedFd::from_raw_fd(master_fd),
                OwnedFd::from_raw_fd(slave_fd),
            )
        };
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty"));
        command
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        // SAFETY: between fork and exec only async-signal-safe calls are made (setsid, ioctl), on the
        // child's own fd 0, which is the pty slave.
        unsafe {
            command.pre_exec(|| {
                // A session of its own with the pty as controlling terminal, so Ctrl-C typed into the
                // pty reaches it as SIGINT, as in a real terminal.
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start the program on the pty");
        // Only the child holds the slave now, so reads see the end when it exits.
        drop(slave);
        let master = File::from(master);
        let mut reader = master.try_clone().expect("dup the pty master");
        let screen: Arc<(Mutex<Screen>, Condvar)> = Arc::default();
        let shared = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let (lock, changed) = &*shared;
                let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
                if n == 0 {
                    s.closed = true;
                    changed.notify_all();
                    return;
                }
                s.text.push_str(&String::from_utf8_lossy(&buf[..n]));
                changed.notify_all();
            }
        });
        Pty {
            child,
            master,
            screen,
            cursor: 0,
        }
    }

    /// Everything shown so far, without colours and cursor movements.
    pub fn text(&self) -> String {
        let (lock, _) = &*self.screen;
        strip_ansi(&lock.lock().unwrap_or_else(PoisonError::into_inner).text)
    }

    /// Waits until `needle` appears after the previous match; returns the text up to and including it.
    pub fn expect(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        let (lock, changed) = &*self.screen;
        let mut s = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let text = strip_ansi(&s.text);
            if let Some(at) = text.get(self.cursor..).and_then(|rest| rest.find(needle)) {
                let end = self.cursor + at + needle.len();
                let seen = text[self.cursor..end].to_string();
                self.cursor = end;
                return seen;
            }
            let now = Instant::now();
            if now >= deadline || s.closed {
                let why = if s.closed {
                    "the program closed the terminal"
                } else {
                    "timed out"
                };
                panic!(
                    "{why} waiting for {needle:?} ({} s); the screen so far:\n{text}",
                    within.as_secs()
                );
            }
            s = changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Types `text` (a key, a line with `\r`, or Ctrl-C as `\x03`).
    pub fn type_text(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("type into the pty");
        self.master.flush().expect("flush the pty");
    }

    /// Waits for the program to exit.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the program") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the program did not exit within {} s; the screen:\n{}",
                    within.as_secs(),
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as when the machine's owner kills the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Text without terminal escape sequences; carriage returns become line ends so spinner frames do
/// not glue onto the text around them.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters, then one final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c => out.push(c),
        }
    }
    out
}
