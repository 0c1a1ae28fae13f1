//! Boot benchmark: median of N boots of the real guest image.
//!
//! ```sh
//! cargo run --release -p workroom-host --example boot_bench -- [--runs N] [--image DIR] [--accel auto|kvm|tcg]
//! ```
//!
//! Prints, per run and as medians: QEMU start → first guest connection, `start()` → hello received,
//! hello → first session frame (an `open_session` whose session process dials the session port and
//! writes its `session_hello`), the RSS of QEMU, virtiofsd and vhost-device-vsock while the guest idles
//! after the hello, and the initramfs size. The image defaults to
//! `<$WORKROOM_HOME or ~/.local/share/workroom>/images/x86_64`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use workroom_host::vm::{AccelPreference, QemuBackend, QemuOptions, Share, Tools, Vm, VmConfig};
use workroom_protocol::vm::{encode_cmdline_value, ports, GuestEvent};

struct Args {
    runs: usize,
    image: PathBuf,
    accel: AccelPreference,
}

fn parse_args() -> Result<Args, String> {
    let default_image = std::env::var_os("WORKROOM_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/workroom"))
        })
        .ok_or("HOME is not set")?
        .join("images/x86_64");
    let mut args = Args {
        runs: 5,
        image: default_image,
        accel: AccelPreference::Auto,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--image" => args.image = PathBuf::from(value()?),
            "--accel" => {
                let v = value()?;
                args.accel = AccelPreference::parse(&v).ok_or(format!("--accel: unknown {v}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(args)
}

#[derive(Debug, Default, Clone)]
struct Run {
    qemu_to_connection: Option<Duration>,
    start_to_hello: Duration,
    hello_to_session: Option<Duration>,
    session_note: Option<String>,
    rss_kib: Vec<(String, u64)>,
    accel: String,
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("boot_bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("boot_bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("boot_bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> Result<(), String> {
    let kernel = args.image.join("kernel");
    let initramfs = args.image.join("initramfs.cpio.gz");
    if !kernel.is_file() || !initramfs.is_file() {
        return Err(format!(
            "no image in {}; build it with `cargo run -p workroom-image -- build --arch x86_64`",
            args.image.display()
        ));
    }
    let tools = Tools::discover(None).map_err(|e| e.to_string())?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut options = QemuOptions::new(tools, scratch.path().join("state"));
    options.accel = args.accel;
    let backend = QemuBackend::new(options);

    let mut runs = Vec::new();
    for i in 0..args.runs {
        let run = one_run(
            &backend,
            &kernel,
            &initramfs,
            &scratch.path().join(format!("run{i}")),
        )
        .await?;
        println!(
            "run {}: {} | QEMU→connection {} | start→hello {} | hello→session frame {} | RSS {}",
            i + 1,
            run.accel,
            fmt(run.qemu_to_connection),
            fmt(Some(run.start_to_hello)),
            fmt(run.hello_to_session),
            run.rss_kib
                .iter()
                .map(|(n, k)| format!("{n} {:.1} MB", *k as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        runs.push(run);
    }

    let initramfs_size = std::fs::metadata(&initramfs).map(|m| m.len()).unwrap_or(0);
    println!("\nmedian of {} runs ({}):", runs.len(), runs[0].accel);
    println!(
        "  QEMU start → first guest connection: {}",
        fmt(median(runs.iter().filter_map(|r| r.qemu_to_connection)))
    );
    println!(
        "  start() → hello received:            {}",
        fmt(median(runs.iter().map(|r| r.start_to_hello)))
    );
    match median(runs.iter().filter_map(|r| r.hello_to_session)) {
        Some(d) => println!("  hello → first session frame:         {}", fmt(Some(d))),
        None => println!(
            "  hello → first session frame:         skipped ({})",
            runs.iter()
                .find_map(|r| r.session_note.clone())
                .unwrap_or_else(|| "no session frame".into())
        ),
    }
    for name in ["qemu", "virtiofsd[s0]", "vhost-device-vsock"] {
        let kib: Vec<u64> = runs
            .iter()
            .filter_map(|r| r.rss_kib.iter().find(|(n, _)| n == name).map(|(_, k)| *k))
            .collect();
        let mut sorted = kib.clone();
        sorted.sort_unstable();
        if let Some(m) = sorted.get(sorted.len() / 2) {
            println!("  RSS {name}: {:.1} MB", *m as f64 / 1024.0);
        }
    }
    println!(
        "  initramfs: {} bytes ({:.2} MB)",
        initramfs_size,
        initramfs_size as f64 / 1_048_576.0
    );
    Ok(())
}

async fn one_run(
    backend: &QemuBackend,
    kernel: &Path,
    initramfs: &Path,
    dir: &Path,
) -> Result<Run, String> {
    let share = dir.join("share");
    std::fs::create_dir_all(&share).map_err(|e| e.to_string())?;
    let mut config = VmConfig::new(
        kernel.to_path_buf(),
        initramfs.to_path_buf(),
        dir.join("r"),
        dir.join("console.log"),
    );
    config.shares = vec![Share {
        tag: "s0".into(),
        host_path: share,
        read_only: false,
    }];
    let guest_dir = "/sessions/bench/mnt/share";
    config.cmdline_extra = vec![format!(
        "workroom.share=s0:{}",
        encode_cmdline_value(guest_dir)
    )];
    config.boot_timeout = Duration::from_secs(60);

    let t0 = Instant::now();
    let vm = backend.start_vm(config).await.map_err(|e| e.to_string())?;
    let stream = vm
        .accept(ports::SUPERVISOR)
        .await
        .map_err(|e| e.to_string())?;
    let mut sup = BufReader::new(stream);
    let line = read_line(&mut sup, Duration::from_secs(30)).await?;
    let hello_at = Instant::now();
    if !matches!(
        serde_json::from_str::<GuestEvent>(&line),
        Ok(GuestEvent::Hello(_))
    ) {
        return Err(format!("expected hello, got {line}"));
    }
    let mut run = Run {
        qemu_to_connection: vm.timings().to_first_connection(),
        start_to_hello: hello_at - t0,
        accel: vm.accel().to_string(),
        ..Run::default()
    };

    // First session frame: the guest starts a session process that dials the session port.
    let open = serde_json::json!({"type": "open_session", "id": "s", "session_id": "bench", "cwd": guest_dir, "args": []});
    let mut request = open.to_string();
    request.push('\n');
    sup.get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(20), vm.accept(ports::SESSION)).await {
        Ok(Ok(stream)) => {
            let mut session = BufReader::new(stream);
            match read_line(&mut session, Duration::from_secs(10)).await {
                Ok(line) if line.contains("session_hello") => {
                    run.hello_to_session = Some(hello_at.elapsed())
                }
                Ok(line) => {
                    run.session_note = Some(format!("unexpected first session line {line:?}"))
                }
                Err(e) => run.session_note = Some(e),
            }
        }
        Ok(Err(e)) => run.session_note = Some(e.to_string()),
        Err(_) => run.session_note = Some("no session connection within 20 s".into()),
    }
    // Settle, then RSS.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for p in vm.processes() {
        if let Some(kib) = rss_kib(p.pid) {
            run.rss_kib.push((p.name, kib));
        }
    }

    sup.get_mut()
        .write_all(b"{\"type\":\"shutdown\",\"id\":\"bye\"}\n")
        .await
        .map_err(|e| e.to_string())?;
    if vm.wait_for_exit(Duration::from_secs(20)).await.is_err() {
        vm.kill().await;
    }
    Ok(run)
}

async fn read_line(reader: &mut BufReader<UnixStream>, within: Duration) -> Result<String, String> {
    let mut line = String::new();
    match tokio::time::timeout(within, reader.read_line(&mut line)).await {
        Ok(Ok(0)) => Err("the connection closed".into()),
        Ok(Ok(_)) => Ok(line),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no line within {within:?}")),
    }
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

fn median(values: impl Iterator<Item = Duration>) -> Option<Duration> {
    let mut v: Vec<Duration> = values.collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn fmt(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} s", d.as_secs_f64()))
        .unwrap_or_else(|| "n/a".into())
}
