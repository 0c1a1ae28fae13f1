//! Boot and channel benchmark of the real guest image.
//!
//! ```sh
//! cargo run --release -p workroom-host --example boot_bench -- \
//!     [--quick] [--runs N] [--fs-runs N] [--pings N] [--controls N] [--image DIR] \
//!     [--accel auto|kvm|tcg] [--full]
//! ```
//!
//! `--full` boots with the full userland (`<images>/userland-x86_64`, from
//! `cargo run -p workroom-image -- userland --arch x86_64`) shared and overlaid as a session with
//! `userland = full` does, and the shell commands run in it: compare its boot times with a run
//! without it.
//!
//! Each run boots one VM through [`Machine::boot`] (a shared folder, the agent-state share and the
//! model proxy, as a real session does) and measures:
//!
//! - QEMU start → first guest connection, `boot()` → hello, hello → first session frame (an
//!   `open_session` whose agent dials the session port and writes its `session_hello`);
//! - the RSS of QEMU, each virtiofsd and vhost-device-vsock while the guest idles after that, and again
//!   after the VirtioFS read below (the guest's page cache lives in QEMU's memory);
//! - the supervisor frame round trip: `link().ping()`, repeated;
//! - the session frame round trip: a stream-json `control_request` (`set_permission_mode`) to the agent
//!   and its `control_response`, repeated;
//! - in the first `--fs-runs` runs, VirtioFS read throughput: the agent, driven by the fake model,
//!   runs `dd` twice over a 100 MiB file in the shared folder, timed by the guest shell's
//!   `$EPOCHREALTIME`. The second read is the headline: the first also pays for faulting in the guest
//!   memory its page cache lands in.
//!
//! Afterwards the same file is read on the host. Both sides read with a warm host page cache (the file
//! was just written, and each side does an untimed read first); nothing is dropped from any cache.
//! Sizes are MiB (2^20 bytes). Round trips are pooled over all runs; the others are one value per run.
//! `--quick` (or `WORKROOM_BENCH_QUICK=1`) changes the defaults (5 runs, 3 with the read, 200 pings,
//! 100 control requests per run) to 2 runs, 1 read, 50 pings, 20 requests; explicit flags still win.
//! The image defaults to
//! `<$WORKROOM_HOME or ~/.local/share/workroom>/images/x86_64`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fake_model::{FakeModel, Script};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use workroom_host::folders::FolderMap;
use workroom_host::guest::model_proxy::{ModelProxy, Upstream};
use workroom_host::guest::router::SessionStream;
use workroom_host::guest::GuestLink;
use workroom_host::machine::Machine;
use workroom_host::vm::{AccelPreference, QemuBackend, QemuOptions, Tools, VmConfig, VmExit};

/// The session every run opens; it fixes the guest path of the shared folder.
const SESSION_ID: &str = "bench";
/// Size of the file read through VirtioFS.
const FILE_MIB: usize = 100;
const MIB: f64 = 1_048_576.0;
/// A turn of the agent under TCG takes seconds; this only catches a hung guest.
const TURN_TIMEOUT: Duration = Duration::from_secs(120);
const FRAME_TIMEOUT: Duration = Duration::from_secs(15);

struct Args {
    runs: usize,
    fs_runs: usize,
    pings: usize,
    controls: usize,
    image: PathBuf,
    accel: AccelPreference,
    full: bool,
}

fn parse_args() -> Result<Args> {
    let default_image = std::env::var_os("WORKROOM_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/workroom"))
        })
        .context("HOME is not set")?
        .join("images/x86_64");
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let quick = raw.iter().any(|a| a == "--quick")
        || std::env::var("WORKROOM_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let (runs, fs_runs, pings, controls) = if quick {
        (2, 1, 50, 20)
    } else {
        (5, 3, 200, 100)
    };
    let mut args = Args {
        runs,
        fs_runs,
        pings,
        controls,
        image: default_image,
        accel: AccelPreference::Auto,
        full: false,
    };
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        let mut count = |name: &str| -> Result<usize> {
            value()?
                .parse()
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "--quick" => {}
            "--full" => args.full = true,
            "--runs" => args.runs = count("--runs")?,
            "--fs-runs" => args.fs_runs = count("--fs-runs")?,
            "--pings" => args.pings = count("--pings")?,
            "--controls" => args.controls = count("--controls")?,
            "--image" => args.image = PathBuf::from(value()?),
            "--accel" => {
                let v = value()?;
                args.accel =
                    AccelPreference::parse(&v).with_context(|| format!("--accel: unknown {v}"))?;
            }
            other => bail!("unknown argument {other}"),
        }
    }
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(
        args.pings > 0 && args.controls > 0,
        "--pings and --controls must be at least 1"
    );
    args.fs_runs = args.fs_runs.min(args.runs);
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("boot_bench: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .and_then(|runtime| runtime.block_on(bench(args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("boot_bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What every run shares: the image, the backend, the shared folder with its big file, the model.
struct Bench {
    args: Args,
    backend: QemuBackend,
    kernel: PathBuf,
    initramfs: PathBuf,
    scratch: tempfile::TempDir,
    folder: PathBuf,
    big_file: PathBuf,
    model: FakeModel,
}

/// One boot's measurements.
#[derive(Debug, Default)]
struct Run {
    accel: String,
    qemu_to_connection: Option<Duration>,
    start_to_hello: Duration,
    hello_to_session: Duration,
    rss_idle: Vec<(String, u64)>,
    /// Only in runs that read the big file.
    rss_after_read: Vec<(String, u64)>,
    ping_ms: Vec<f64>,
    control_ms: Vec<f64>,
    guest_read: Option<GuestRead>,
}

/// Two `dd` reads of the big file in the guest, as the guest's shell timed them.
#[derive(Debug, Clone, Copy)]
struct GuestRead {
    first_mibps: f64,
    warm_mibps: f64,
    /// Host clock from the agent's tool call to its result (both reads and the shell): a sanity
    /// check on the guest's clock, which TCG emulates.
    tool_wall: Duration,
}

async fn bench(args: Args) -> Result<()> {
    let bench = Bench::prepare(args)?;
    let mut runs = Vec::new();
    for i in 0..bench.args.runs {
        let run = one_run(&bench, i, i < bench.args.fs_runs)
            .await
            .with_context(|| format!("run {}", i + 1))?;
        print_run(i, &run);
        runs.push(run);
    }
    let host_mibps = match bench.args.fs_runs {
        0 => Vec::new(),
        n => host_reads(&bench.big_file, n)?,
    };
    print_report(&bench, &runs, &host_mibps);
    Ok(())
}

impl Bench {
    fn prepare(args: Args) -> Result<Bench> {
        let kernel = args.image.join("kernel");
        let initramfs = args.image.join("initramfs.cpio.gz");
        ensure!(
            kernel.is_file() && initramfs.is_file(),
            "no image in {}; build it with `cargo run -p workroom-image -- build --arch x86_64`",
            args.image.display()
        );
        let tools = Tools::discover(None).context("looking for QEMU and the daemons")?;
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        let mut options = QemuOptions::new(tools, scratch.path().join("state"));
        options.accel = args.accel;
        let backend = QemuBackend::new(options);

        let folder = scratch.path().join("share");
        std::fs::create_dir_all(&folder).context("creating the shared folder")?;
        // FolderMap wants the canonical host path (the guest path is derived from its name).
        let folder = folder
            .canonicalize()
            .context("canonicalizing the shared folder")?;
        let big_file = folder.join(format!("bench-{FILE_MIB}MiB.bin"));
        if args.fs_runs > 0 {
            write_noise_file(&big_file, FILE_MIB).context("writing the file to read")?;
        }
        let guest_file = FolderMap::new(SESSION_ID, std::slice::from_ref(&folder))
            .first()
            .map(|f| format!("{}/{}", f.guest, file_name(&big_file)))
            .context("the folder map is empty")?;
        let model =
            FakeModel::start(read_script(&guest_file)?).context("starting the fake model")?;
        Ok(Bench {
            args,
            backend,
            kernel,
            initramfs,
            scratch,
            folder,
            big_file,
            model,
        })
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The fake model's part: asked to read, it has the agent `dd` the file twice (the first read warms
/// whatever caches the path has; the second is the one reported); shown the tool result, it ends the
/// turn. Any other request (if the agent ever makes one) gets a plain answer.
///
/// The image's busybox `dd` prints no rate line and its `date` has no `%N`, but its `ash` has
/// `$EPOCHREALTIME` (microseconds), so the shell times each `dd` and prints one line per read:
/// `bench-read <bytes> <start> <end>`.
fn read_script(guest_file: &str) -> Result<Script> {
    let command = format!(
        "f='{guest_file}'; for i in 1 2; do s=$EPOCHREALTIME; \
         dd if=\"$f\" of=/dev/null bs=1M 2>/tmp/dd.err || {{ cat /tmp/dd.err; exit 1; }}; \
         e=$EPOCHREALTIME; \
         echo \"bench-read $(stat -c %s \"$f\") $s $e\"; done"
    );
    let script = json!({"rules": [
        {"when": {"last_is_tool_result": true},
         "reply": {"content": [{"type": "text", "text": "read done"}]}},
        {"when": {"last_user_text_contains": "read the file"},
         "reply": {"content": [{"type": "tool_use", "name": "Bash",
                                "input": {"command": command}}]}},
        {"when": {}, "reply": {"content": [{"type": "text", "text": "ok"}]}},
    ]});
    Script::from_json_str(&script.to_string()).context("the fake model script")
}

/// Incompressible content, so the file is neither sparse nor cheaper to move than real data.
fn write_noise_file(path: &Path, mib: usize) -> Result<()> {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in chunk.chunks_exact_mut(8) {
            // xorshift64: fast, and plenty random for defeating sparseness and compression.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&chunk)?;
    }
    file.flush()?;
    Ok(())
}

/// A VM set up as a session's is: its folder and the agent's state shared and mounted at boot.
fn vm_config(bench: &Bench, dir: &Path, folders: &FolderMap) -> Result<VmConfig> {
    let agent_state = dir.join("agent");
    std::fs::create_dir_all(&agent_state).context("creating the agent state folder")?;
    let mut config = VmConfig::new(
        bench.kernel.clone(),
        bench.initramfs.clone(),
        dir.join("r"),
        dir.join("console.log"),
    );
    config.shares = folders.shares(&agent_state);
    config.cmdline_extra = folders.cmdline();
    if bench.args.full {
        let root = bench
            .args
            .image
            .parent()
            .context("the image directory has no parent")?
            .join("userland-x86_64/root");
        ensure!(
            root.join("usr/bin/bash").exists(),
            "no full userland at {}; build it with `cargo run -p workroom-image -- userland --arch x86_64`",
            root.display()
        );
        let (share, words) = workroom_host::folders::userland_share(root);
        config.shares.push(share);
        config.cmdline_extra.extend(words);
    }
    // TCG boots take seconds, and neighbouring VMs on a busy host can stretch them.
    config.boot_timeout = Duration::from_secs(60);
    Ok(config)
}

async fn one_run(bench: &Bench, index: usize, measure_fs: bool) -> Result<Run> {
    let dir = bench.scratch.path().join(format!("run{index}"));
    let folders = FolderMap::new(SESSION_ID, std::slice::from_ref(&bench.folder));
    let config = vm_config(bench, &dir, &folders)?;
    // The guest's agent reaches the model only through this proxy; here the model is the fake one.
    let proxy = ModelProxy::new(Upstream::Anthropic {
        base_url: bench.model.base_url(),
        api_key: None,
        auth_token: None,
    })
    .context("creating the model proxy")?;

    let started = Instant::now();
    let egress =
        workroom_host::guest::egress::EgressProxy::closed().context("creating the egress proxy")?;
    let machine = Machine::boot(&bench.backend, config, proxy, egress)
        .await
        .context("booting the VM")?;
    let hello_at = Instant::now();
    let cwd = folders.first().context("no folder")?.guest.clone();
    let args = vec!["--permission-mode".into(), "bypassPermissions".into()];
    let session = machine
        .open_session(SESSION_ID, &cwd, args, Map::new())
        .await
        .context("opening the agent session")?;
    let mut run = Run {
        accel: machine.vm().accel().to_string(),
        qemu_to_connection: machine.vm().timings().to_first_connection(),
        start_to_hello: hello_at - started,
        hello_to_session: hello_at.elapsed(),
        ..Run::default()
    };
    // Let the boot's last work settle before sampling memory, as a user's idle session would.
    tokio::time::sleep(Duration::from_millis(300)).await;
    run.rss_idle = rss_of(&machine);

    run.ping_ms = ping_round_trips(machine.link(), bench.args.pings).await?;
    let mut agent = Agent::new(session);
    agent.initialize().await?;
    // The read comes before the mode switches: the agent runs Bash only while permissions are bypassed.
    if measure_fs {
        run.guest_read = Some(agent.read_file_turn().await?);
        run.rss_after_read = rss_of(&machine);
    }
    run.control_ms = agent.control_round_trips(bench.args.controls).await?;

    drop(agent);
    let exit = machine.shutdown(Duration::from_secs(20)).await;
    if exit != VmExit::PoweredOff {
        eprintln!("run {}: the VM ended with: {exit}", index + 1);
    }
    Ok(run)
}

/// Ping round trips in ms, after a few unrecorded ones (first-use costs are not the steady state).
async fn ping_round_trips(link: &GuestLink, count: usize) -> Result<Vec<f64>> {
    for _ in 0..5 {
        link.ping().await.context("warm-up ping")?;
    }
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        samples.push(ms(link.ping().await.context("ping")?));
    }
    Ok(samples)
}

/// The agent's stream-json connection, read directly (no queueing task), so a round trip measures the
/// vsock path and the agent, not our plumbing.
struct Agent {
    reader: BufReader<tokio::io::Chain<std::io::Cursor<Vec<u8>>, OwnedReadHalf>>,
    writer: OwnedWriteHalf,
    next_id: u64,
}

impl Agent {
    fn new(session: SessionStream<UnixStream>) -> Agent {
        let (read, writer) = session.stream.into_split();
        // The router read past the session hello; those bytes are the start of the stream-json.
        let reader = BufReader::new(AsyncReadExt::chain(
            std::io::Cursor::new(session.leftover),
            read,
        ));
        Agent {
            reader,
            writer,
            next_id: 0,
        }
    }

    async fn send(&mut self, frame: &Value) -> Result<()> {
        let mut line = frame.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .context("writing to the agent")
    }

    async fn next_frame(&mut self, within: Duration) -> Result<Value> {
        let line = read_line(&mut self.reader, within).await?;
        serde_json::from_str(&line).with_context(|| format!("a frame that is not JSON: {line:?}"))
    }

    /// The first frame that satisfies `done`, skipping the others.
    async fn until(&mut self, within: Duration, done: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.next_frame(left).await?;
            if done(&frame) {
                return Ok(frame);
            }
        }
    }

    /// Sends a control request and waits for its response; fails if the agent refused it.
    async fn control(&mut self, request: Value) -> Result<Value> {
        self.next_id += 1;
        let id = format!("bench-{}", self.next_id);
        self.send(&json!({"type": "control_request", "request_id": id, "request": request}))
            .await?;
        let frame = self
            .until(FRAME_TIMEOUT, |f| {
                f["type"] == "control_response" && f["response"]["request_id"] == id.as_str()
            })
            .await
            .with_context(|| format!("waiting for the response to {request}"))?;
        ensure!(
            frame["response"]["subtype"] == "success",
            "the agent refused {request}: {frame}"
        );
        Ok(frame)
    }

    /// The handshake a real client starts with (the host's session runtime sends the same).
    async fn initialize(&mut self) -> Result<()> {
        self.control(json!({"subtype": "initialize", "hooks": null}))
            .await
            .map(|_| ())
    }

    /// Session frame round trips in ms: `set_permission_mode` needs no model and changes nothing
    /// after the first, so each one is just a frame in and a frame out.
    async fn control_round_trips(&mut self, count: usize) -> Result<Vec<f64>> {
        let request = json!({"subtype": "set_permission_mode", "mode": "default"});
        for _ in 0..5 {
            self.control(request.clone()).await?;
        }
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            self.control(request.clone()).await?;
            samples.push(ms(started.elapsed()));
        }
        Ok(samples)
    }

    /// One turn: the fake model has the agent `dd` the big file twice; returns the guest's timings.
    async fn read_file_turn(&mut self) -> Result<GuestRead> {
        let ask = json!({
            "type": "user",
            "message": {"role": "user", "content": "read the file"},
            "parent_tool_use_id": null,
            "session_id": "",
        });
        self.send(&ask).await?;
        let is_tool_use = |f: &Value| {
            f["type"] == "assistant"
                && content_blocks(f).any(|b| b["type"] == "tool_use" && b["name"] == "Bash")
        };
        self.until(TURN_TIMEOUT, is_tool_use)
            .await
            .context("waiting for the agent's Bash call")?;
        let called = Instant::now();
        let frame = self
            .until(TURN_TIMEOUT, |f| {
                f["type"] == "user" && content_blocks(f).any(|b| b["type"] == "tool_result")
            })
            .await
            .context("waiting for the Bash result")?;
        let tool_wall = called.elapsed();
        let output = content_blocks(&frame)
            .find(|b| b["type"] == "tool_result")
            .map(tool_result_text)
            .unwrap_or_default();
        let result = self
            .until(TURN_TIMEOUT, |f| f["type"] == "result")
            .await
            .context("waiting for the end of the turn")?;
        ensure!(result["subtype"] == "success", "the turn failed: {result}");

        let rates = read_rates(&output)?;
        ensure!(rates.len() == 2, "expected two reads in {output:?}");
        Ok(GuestRead {
            first_mibps: rates[0],
            warm_mibps: rates[1],
            tool_wall,
        })
    }
}

fn content_blocks(frame: &Value) -> impl Iterator<Item = &Value> {
    frame["message"]["content"].as_array().into_iter().flatten()
}

/// A tool result's content is a string or a list of text blocks.
fn tool_result_text(block: &Value) -> String {
    match &block["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// MiB/s of each `bench-read <bytes> <start> <end>` line in `output` (times in seconds).
fn read_rates(output: &str) -> Result<Vec<f64>> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("bench-read "))
        .map(|rest| {
            let numbers: Vec<f64> = rest
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .with_context(|| format!("not three numbers: {rest:?}"))?;
            let [bytes, start, end] = numbers[..] else {
                bail!("not three numbers: {rest:?}");
            };
            ensure!(end > start, "no time passed: {rest:?}");
            Ok(bytes / MIB / (end - start))
        })
        .collect::<Result<_>>()
        .with_context(|| format!("cannot read the guest's timings in {output:?}"))
}

async fn read_line(
    reader: &mut (impl AsyncBufReadExt + Unpin),
    within: Duration,
) -> Result<String> {
    let mut line = String::new();
    match tokio::time::timeout(within, reader.read_line(&mut line)).await {
        Ok(Ok(0)) => bail!("the agent closed its connection"),
        Ok(Ok(_)) => Ok(line),
        Ok(Err(e)) => Err(e).context("reading from the agent"),
        Err(_) => bail!("no frame within {within:?}"),
    }
}

/// Reads the file on the host `runs` times (after one untimed read) in 1 MiB chunks, like `dd bs=1M`.
fn host_reads(path: &Path, runs: usize) -> Result<Vec<f64>> {
    let read_all = || -> Result<f64> {
        let started = Instant::now();
        let mut file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0usize;
        loop {
            match file.read(&mut buf)? {
                0 => break,
                n => total += n,
            }
        }
        Ok(total as f64 / MIB / started.elapsed().as_secs_f64())
    };
    read_all()?;
    (0..runs).map(|_| read_all()).collect()
}

fn rss_of(machine: &Machine) -> Vec<(String, u64)> {
    machine
        .vm()
        .processes()
        .into_iter()
        .filter_map(|p| Some((p.name, rss_kib(p.pid)?)))
        .collect()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Other VMs on this host skew TCG timings; the load says whether that was likely.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median, extremes and 90th percentile of some samples.
struct Stats {
    median: f64,
    min: f64,
    max: f64,
    p90: f64,
    n: usize,
}

impl Stats {
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some(Stats {
            median: at(0.5),
            min: v[0],
            max: v[v.len() - 1],
            p90: at(0.9),
            n: v.len(),
        })
    }
}

/// One table row: `name  median M (min–max)  n=N`, with `p90` where there are many samples.
fn row(name: &str, stats: Option<Stats>, decimals: usize) {
    match stats {
        Some(s) => {
            let p90 = if s.n >= 20 {
                format!("  p90 {:.*}", decimals, s.p90)
            } else {
                String::new()
            };
            println!(
                "{name:<36} median {:>8.*} ({:.*}–{:.*}){p90}  n={}",
                decimals, s.median, decimals, s.min, decimals, s.max, s.n
            );
        }
        None => println!("{name:<36} n/a"),
    }
}

fn print_run(index: usize, run: &Run) {
    let median = |v: &[f64]| Stats::of(v.iter().copied()).map_or(f64::NAN, |s| s.median);
    let rss = |list: &[(String, u64)]| {
        list.iter()
            .map(|(n, k)| format!("{n} {:.1}", *k as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let read = run.guest_read.map_or(String::new(), |r| {
        format!(
            " | guest read {:.0} then {:.0} MiB/s (tool call {:.2} s)",
            r.first_mibps,
            r.warm_mibps,
            r.tool_wall.as_secs_f64()
        )
    });
    let after = if run.rss_after_read.is_empty() {
        String::new()
    } else {
        format!(" | after the read: {}", rss(&run.rss_after_read))
    };
    println!(
        "run {}: {} | QEMU→connection {} | start→hello {:.2} s | hello→session frame {:.1} ms | \
         ping {:.2} ms | control {:.2} ms{read}\n       RSS MiB idle: {}{after}",
        index + 1,
        run.accel,
        run.qemu_to_connection
            .map_or("n/a".into(), |d| format!("{:.2} s", d.as_secs_f64())),
        run.start_to_hello.as_secs_f64(),
        ms(run.hello_to_session),
        median(&run.ping_ms),
        median(&run.control_ms),
        rss(&run.rss_idle),
    );
}

fn print_report(bench: &Bench, runs: &[Run], host_mibps: &[f64]) {
    println!(
        "\n{} runs ({}{}); round trips pooled over all runs; reads with a warm page cache; \
         host load average at the end: {}",
        runs.len(),
        runs[0].accel,
        if bench.args.full {
            ", full userland"
        } else {
            ", minimal userland"
        },
        load_average()
    );
    let secs = |d: Duration| d.as_secs_f64();
    row(
        "qemu_to_connection_s",
        Stats::of(runs.iter().filter_map(|r| r.qemu_to_connection).map(secs)),
        2,
    );
    row(
        "start_to_hello_s",
        Stats::of(runs.iter().map(|r| secs(r.start_to_hello))),
        2,
    );
    row(
        "hello_to_session_frame_ms",
        Stats::of(runs.iter().map(|r| ms(r.hello_to_session))),
        1,
    );
    row(
        "supervisor_ping_ms",
        Stats::of(runs.iter().flat_map(|r| r.ping_ms.iter().copied())),
        2,
    );
    row(
        "session_control_rtt_ms",
        Stats::of(runs.iter().flat_map(|r| r.control_ms.iter().copied())),
        2,
    );
    let reads: Vec<GuestRead> = runs.iter().filter_map(|r| r.guest_read).collect();
    row(
        "virtiofs_first_read_MiBps",
        Stats::of(reads.iter().map(|r| r.first_mibps)),
        0,
    );
    let guest = Stats::of(reads.iter().map(|r| r.warm_mibps));
    let host = Stats::of(host_mibps.iter().copied());
    let ratio = guest
        .as_ref()
        .zip(host.as_ref())
        .map(|(g, h)| g.median / h.median);
    row("virtiofs_read_MiBps", guest, 0);
    row("host_read_MiBps", host, 0);
    match ratio {
        Some(r) => println!(
            "{:<36} {r:.3}  (medians, guest/host)",
            "virtiofs_to_host_ratio"
        ),
        None => println!("{:<36} n/a", "virtiofs_to_host_ratio"),
    }
    print_rss_rows("idle", runs, |r| &r.rss_idle);
    print_rss_rows("after_read", runs, |r| &r.rss_after_read);
    let initramfs = std::fs::metadata(&bench.initramfs).map_or(0, |m| m.len());
    println!(
        "{:<36} {initramfs} bytes ({:.2} MiB)",
        "initramfs",
        initramfs as f64 / MIB
    );
}

/// One row per helper process, in the order the first run that has them listed them.
fn print_rss_rows(when: &str, runs: &[Run], of: impl Fn(&Run) -> &Vec<(String, u64)>) {
    let Some(first) = runs.iter().map(&of).find(|list| !list.is_empty()) else {
        return;
    };
    for (name, _) in first {
        let values = runs.iter().filter_map(|r| {
            of(r)
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, kib)| *kib as f64 / 1024.0)
        });
        row(&format!("rss_{when}_MiB {name}"), Stats::of(values), 1);
    }
}
