//! Real VMs: QEMU (TCG on CI), virtiofsd, vhost-device-vsock and the guest image from `vm-image`.
//!
//! Needs the tools (`Tools::discover`) and a built image. The image is found in
//! `$WORKROOM_TEST_IMAGE_DIR`, else `<$WORKROOM_HOME or ~/.local/share/workroom>/images/x86_64`; when it
//! is missing the tests fail and say which command builds it. (They do not build it themselves: a
//! nested `cargo run` would wait on the build lock of the `cargo test` that runs them, and a download
//! plus cross-build hidden inside a test makes CI time unpredictable. CI builds the image first.)
//!
//! The boots run one at a time (a process-wide lock), since every TCG boot needs a whole core.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use workroom_host::vm::{
    Accel, AccelPreference, QemuBackend, QemuOptions, QemuVm, Share, Tools, Vm, VmConfig, VmError,
    VmExit, VmStatus,
};
use workroom_protocol::vm::{encode_cmdline_value, ports, GuestEvent};

/// Tests take turns (each test has its own runtime; tokio's mutex works across them).
static ONE_VM_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WORKROOM_LOG")
                .unwrap_or_else(|_| "workroom_host=info".into()),
        )
        .with_test_writer()
        .try_init();
}

struct Image {
    kernel: PathBuf,
    initramfs: PathBuf,
}

fn image() -> Image {
    let dir = support::built_image_dir();
    Image {
        kernel: dir.join("kernel"),
        initramfs: dir.join("initramfs.cpio.gz"),
    }
}

fn tools() -> Tools {
    Tools::discover(None).unwrap_or_else(|missing| panic!("{missing}"))
}

fn backend(state_dir: &Path, accel: AccelPreference) -> QemuBackend {
    let mut options = QemuOptions::new(tools(), state_dir.to_path_buf());
    options.accel = accel;
    QemuBackend::new(options)
}

/// A VM configuration in `dir` (run dir `dir/run`, console `dir/console.log`).
fn config(image: &Image, dir: &Path) -> VmConfig {
    let mut config = VmConfig::new(
        image.kernel.clone(),
        image.initramfs.clone(),
        dir.join("run"),
        dir.join("console.log"),
    );
    config.boot_timeout = Duration::from_secs(60);
    config
}

/// Whether `pid` is a live process (a zombie counts as gone: it has exited, only its parent has not
/// collected the status yet).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

async fn assert_gone(pids: &[u32]) {
    for _ in 0..100 {
        if pids.iter().all(|&p| !alive(p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left: Vec<_> = pids.iter().filter(|&&p| alive(p)).collect();
    panic!("processes still alive: {left:?}");
}

fn sockets_in(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

async fn read_line(reader: &mut BufReader<UnixStream>, within: Duration) -> String {
    let mut line = String::new();
    let n = tokio::time::timeout(within, reader.read_line(&mut line))
        .await
        .expect("a line in time")
        .expect("reading the line");
    assert!(n > 0, "the guest closed the connection");
    line
}

/// Accepts the supervisor connection and checks the hello frame.
async fn hello(vm: &QemuVm) -> (BufReader<UnixStream>, workroom_protocol::vm::Hello) {
    let stream = tokio::time::timeout(Duration::from_secs(90), vm.accept(ports::SUPERVISOR))
        .await
        .expect("the guest connected in time")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut reader = BufReader::new(stream);
    let line = read_line(&mut reader, Duration::from_secs(30)).await;
    match serde_json::from_str::<GuestEvent>(&line) {
        Ok(GuestEvent::Hello(hello)) => (reader, hello),
        other => panic!("expected a hello frame, got {line:?} ({other:?})"),
    }
}

/// Sends `shutdown`, expects the reply, waits for QEMU to end.
async fn shut_down(vm: &QemuVm, reader: &mut BufReader<UnixStream>) {
    reader
        .get_mut()
        .write_all(b"{\"type\":\"shutdown\",\"id\":\"1\"}\n")
        .await
        .unwrap();
    let reply = read_line(reader, Duration::from_secs(30)).await;
    assert!(
        reply.contains("\"reply\"") && reply.contains("\"1\""),
        "shutdown reply: {reply}"
    );
    let exit = vm
        .wait_for_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exit, VmExit::PoweredOff);
}

#[tokio::test]
async fn boots_with_a_share_says_hello_and_shuts_down_without_leftovers() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let share_dir = dir.path().join("work folder");
    std::fs::create_dir(&share_dir).unwrap();
    std::fs::write(share_dir.join("from-host.txt"), "hello guest").unwrap();

    let mut cfg = config(&image, dir.path());
    let guest_path = "/sessions/t1/mnt/work folder";
    cfg.shares = vec![Share {
        tag: "s0".into(),
        host_path: share_dir.clone(),
        read_only: false,
    }];
    cfg.cmdline_extra = vec![format!(
        "workroom.share=s0:{}",
        encode_cmdline_value(guest_path)
    )];
    let run_dir = cfg.run_dir.clone();
    let backend = backend(&dir.path().join("state"), AccelPreference::Tcg);
    let started = Instant::now();
    let vm = backend
        .start_vm(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(vm.accel(), Accel::Tcg);
    let processes = vm.processes();
    let names: Vec<_> = processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["qemu", "vhost-device-vsock", "virtiofsd[s0]"]);
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    assert!(pids.iter().all(|&p| alive(p)));

    let (mut reader, hello) = hello(&vm).await;
    eprintln!(
        "hello after {:?} (QEMU start → first connection {:?}, guest uptime {} ms)",
        started.elapsed(),
        vm.timings().to_first_connection(),
        hello.uptime_ms
    );
    vm.ready().await.unwrap();
    assert_eq!(*Vm::status(&vm).borrow(), VmStatus::Running);
    assert_eq!(hello.arch, "x86_64");
    assert!(
        hello
            .mounts
            .iter()
            .any(|m| m.tag == "s0" && m.path == guest_path),
        "the share is mounted: {:?}",
        hello.mounts
    );
    let console = std::fs::read_to_string(dir.path().join("console.log")).unwrap();
    assert_eq!(Vm::console_tail(&vm, usize::MAX), console);

    shut_down(&vm, &mut reader).await;
    assert_gone(&pids).await;
    assert_eq!(
        sockets_in(&run_dir),
        Vec::<String>::new(),
        "no socket left after the VM stopped"
    );
    assert!(matches!(
        vm.accept(ports::SESSION).await,
        Err(VmError::Stopped {
            exit: VmExit::PoweredOff
        })
    ));
    drop(vm);
    assert!(!run_dir.exists(), "run_dir removed on drop");
    assert!(
        dir.path().join("console.log").exists(),
        "the console log outlives the VM"
    );
}

#[tokio::test]
async fn two_vms_side_by_side_outside_kills_are_reported_and_drop_cleans_up() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(&dir.path().join("state"), AccelPreference::Tcg);
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();

    let (a, b) = tokio::join!(
        backend.start_vm(config(&image, &a_dir)),
        backend.start_vm(config(&image, &b_dir))
    );
    let (a, b) = (
        a.unwrap_or_else(|e| panic!("{e}")),
        b.unwrap_or_else(|e| panic!("{e}")),
    );
    let ((_a_sup, a_hello), (mut b_sup, _)) = tokio::join!(hello(&a), hello(&b));
    assert_eq!(a_hello.arch, "x86_64");

    // Kill A's QEMU from outside: A reports it at once, B is unaffected.
    let a_pids: Vec<u32> = a.processes().iter().map(|p| p.pid).collect();
    let mut status = Vm::status(&a);
    let killed_at = Instant::now();
    // SAFETY: kill(2) on a pid we started.
    unsafe { libc::kill(a_pids[0] as libc::pid_t, libc::SIGKILL) };
    let ended = tokio::time::timeout(Duration::from_secs(5), status.wait_for(VmStatus::is_ended))
        .await
        .expect("the kill was reported")
        .unwrap()
        .clone();
    eprintln!(
        "outside kill reported after {:?}: {ended:?}",
        killed_at.elapsed()
    );
    assert!(killed_at.elapsed() < Duration::from_secs(2));
    match ended {
        VmStatus::Failed {
            exit: VmExit::Crashed {
                signal: Some(9), ..
            },
            reason,
        } => {
            assert!(
                reason.starts_with("QEMU was killed by signal 9"),
                "{reason}"
            )
        }
        other => panic!("expected Failed after an outside kill, got {other:?}"),
    }
    assert_gone(&a_pids).await;
    assert_eq!(sockets_in(&a_dir.join("run")), Vec::<String>::new());
    let err = a.accept(ports::SESSION).await.unwrap_err();
    assert!(matches!(err, VmError::QemuExited { .. }), "{err}");

    b_sup
        .get_mut()
        .write_all(b"{\"type\":\"ping\",\"id\":\"p\"}\n")
        .await
        .unwrap();
    let pong = read_line(&mut b_sup, Duration::from_secs(10)).await;
    assert!(pong.contains("\"p\""), "B still answers: {pong}");

    // A fresh VM in A's place.
    drop(a);
    let a2 = backend
        .start_vm(config(&image, &a_dir))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (a2_sup, _) = hello(&a2).await;
    // A helper daemon dying takes the VM down too, reported with the daemon's name.
    let a2_processes = a2.processes();
    let vsock_daemon = a2_processes
        .iter()
        .find(|p| p.name == "vhost-device-vsock")
        .unwrap();
    let mut status = Vm::status(&a2);
    // SAFETY: kill(2) on a pid we started.
    unsafe { libc::kill(vsock_daemon.pid as libc::pid_t, libc::SIGKILL) };
    let ended = tokio::time::timeout(Duration::from_secs(5), status.wait_for(VmStatus::is_ended))
        .await
        .expect("the daemon's death was reported")
        .unwrap()
        .clone();
    match ended {
        VmStatus::Failed {
            exit:
                VmExit::DaemonExited {
                    daemon,
                    signal: Some(9),
                    ..
                },
            ..
        } => {
            assert_eq!(daemon, "vhost-device-vsock")
        }
        other => panic!("expected Failed(DaemonExited), got {other:?}"),
    }
    assert_gone(&a2_processes.iter().map(|p| p.pid).collect::<Vec<_>>()).await;
    drop(a2_sup);
    let err = a2.accept(ports::SESSION).await.unwrap_err();
    assert!(
        err.to_string().starts_with("vhost-device-vsock was killed by signal 9 while the VM was running, so the VM was stopped"),
        "{err}"
    );

    // Dropping a running VM kills everything and removes its run_dir.
    let b_pids: Vec<u32> = b.processes().iter().map(|p| p.pid).collect();
    assert!(b_pids.iter().all(|&p| alive(p)));
    drop(b_sup);
    drop(b);
    assert!(!b_dir.join("run").exists(), "run_dir removed by drop");
    assert_gone(&b_pids).await;
}

#[tokio::test]
async fn a_guest_that_never_connects_hits_the_boot_watchdog() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let initramfs = overlay_initramfs(
        &image,
        dir.path(),
        "#!/bin/busybox sh\necho 'test-init: not saying hello'\nexec /bin/busybox sleep 1000\n",
    );
    let mut cfg = config(&image, dir.path());
    cfg.initramfs = initramfs;
    cfg.cmdline_extra = vec!["rdinit=/test-init".into()];
    cfg.boot_timeout = Duration::from_secs(20);
    let run_dir = cfg.run_dir.clone();
    let vm = backend(&dir.path().join("state"), AccelPreference::Tcg)
        .start_vm(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pids: Vec<u32> = vm.processes().iter().map(|p| p.pid).collect();
    let err = vm.ready().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, VmError::BootTimeout { .. }), "{text}");
    assert!(
        text.starts_with("the guest did not connect within 20 s, so the VM was stopped"),
        "{text}"
    );
    assert!(
        text.contains("test-init: not saying hello"),
        "the console tail is in the error: {text}"
    );
    assert!(matches!(
        *Vm::status(&vm).borrow(),
        VmStatus::Failed {
            exit: VmExit::BootTimeout { .. },
            ..
        }
    ));
    assert_gone(&pids).await;
    assert_eq!(sockets_in(&run_dir), Vec::<String>::new());
}

#[tokio::test]
async fn a_guest_kernel_panic_ends_the_vm_at_once() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&image, dir.path());
    cfg.cmdline_extra = vec!["rdinit=/does-not-exist".into()];
    let started = Instant::now();
    let vm = backend(&dir.path().join("state"), AccelPreference::Tcg)
        .start_vm(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = vm.ready().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "reported long before the boot timeout"
    );
    match &err {
        VmError::QemuExited {
            exit: VmExit::KernelPanic,
            console_tail,
            ..
        } => {
            assert!(console_tail.contains("Kernel panic"), "{console_tail}")
        }
        other => panic!("expected a kernel panic, got {other}"),
    }
}

/// On a host whose /dev/kvm opens but does not boot the guest (this CI machine), the first start
/// probes KVM, falls back to TCG and remembers it; the second start goes straight to TCG.
#[tokio::test]
async fn kvm_probe_falls_back_to_tcg_and_remembers_the_verdict() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    if std::env::var_os("WORKROOM_ACCEL").is_some() {
        eprintln!("skipped: WORKROOM_ACCEL is set, so nothing is probed");
        return;
    }
    if let Err(reason) = workroom_host::vm::accel::kvm_device_usable().await {
        eprintln!("skipped: {reason}; the probe only runs where /dev/kvm can be opened");
        return;
    }
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let backend = backend(&state, AccelPreference::Auto);

    let first = Instant::now();
    let vm = backend
        .start_vm(config(&image, dir.path()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut sup, _) = hello(&vm).await;
    let first = first.elapsed();
    let accel = vm.accel();
    shut_down(&vm, &mut sup).await;
    drop(vm);

    let verdict: serde_json::Value = serde_json::from_slice(
        &std::fs::read(state.join("accel.json")).expect("the verdict was saved"),
    )
    .unwrap();
    let remembered = verdict["verdicts"][0]["accel"]
        .as_str()
        .unwrap()
        .to_string();
    eprintln!("first start: {accel} after {first:?}; remembered {verdict}");
    assert_eq!(remembered, if accel == Accel::Kvm { "kvm" } else { "tcg" });

    // Mark the saved verdict: a second probe would rewrite it.
    let marked = std::fs::read_to_string(state.join("accel.json"))
        .unwrap()
        .replacen("\"reason\": \"", "\"reason\": \"(marked) ", 1);
    std::fs::write(state.join("accel.json"), &marked).unwrap();

    let second = Instant::now();
    let vm = backend
        .start_vm(config(&image, dir.path()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut sup, _) = hello(&vm).await;
    let second = second.elapsed();
    eprintln!("second start: {} after {second:?}", vm.accel());
    assert_eq!(vm.accel(), accel, "the remembered accelerator is used");
    if accel == Accel::Tcg {
        assert_eq!(
            std::fs::read_to_string(state.join("accel.json")).unwrap(),
            marked,
            "the second start did not probe KVM again"
        );
    }
    shut_down(&vm, &mut sup).await;
}

/// What the guest writes belongs to the folder's owner on the host; a symlink in the share that
/// points outside it does not reach the host file. Runs a shell script as the guest's init (busybox
/// from the image) so the check does not depend on the agent's tools.
#[tokio::test]
async fn guest_writes_belong_to_the_folder_owner_and_symlinks_do_not_escape() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "HOST-SECRET\n").unwrap();
    std::fs::write(share.join("mine.txt"), "shared\n").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), share.join("escape-abs")).unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", share.join("escape-rel")).unwrap();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let root = euid == 0;
    let owner = if root { 4242 } else { euid };
    if root {
        // The folder owner must be able to reach the folder (as in a real home directory).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for p in [&share, &share.join("mine.txt")] {
            std::os::unix::fs::lchown(p, Some(4242), Some(4243)).unwrap();
        }
    }

    let script = format!(
        r#"#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /mnt/s {outside}
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
for m in $($B cat /lib/modules/load.order 2>/dev/null); do $B insmod /lib/modules/$m 2>/dev/null; done
echo GUEST-COPY > {outside}/secret.txt
$B mount -t virtiofs s0 /mnt/s && echo "T: mounted"
echo "T: ls $($B ls -ln /mnt/s/mine.txt)"
echo "T: read mine $($B cat /mnt/s/mine.txt)"
echo from-guest > /mnt/s/guest.txt && echo "T: wrote"
echo "T: abs $($B cat /mnt/s/escape-abs 2>&1)"
echo "T: rel $($B cat /mnt/s/escape-rel 2>&1)"
echo "T: readlink $($B readlink /mnt/s/escape-abs)"
echo "T: done"
$B sync
$B poweroff -f
"#,
        outside = outside.display()
    );
    let mut cfg = config(&image, dir.path());
    cfg.initramfs = overlay_initramfs(&image, dir.path(), &script);
    cfg.cmdline_extra = vec!["rdinit=/test-init".into()];
    cfg.shares = vec![Share {
        tag: "s0".into(),
        host_path: share.clone(),
        read_only: false,
    }];
    let vm = backend(&dir.path().join("state"), AccelPreference::Tcg)
        .start_vm(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let exit = vm
        .wait_for_exit(Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let console = Vm::console_tail(&vm, usize::MAX);
    let lines: Vec<&str> = console.lines().filter(|l| l.starts_with("T: ")).collect();
    eprintln!("guest said:\n{}", lines.join("\n"));
    assert_eq!(exit, VmExit::PoweredOff, "{console}");
    assert!(
        lines.contains(&"T: mounted") && lines.contains(&"T: done"),
        "{console}"
    );
    assert!(lines.contains(&"T: read mine shared"), "{console}");

    // Ownership: the user's file is root's inside the guest; the guest's file is the user's outside.
    let ls = lines.iter().find(|l| l.starts_with("T: ls ")).unwrap();
    assert!(
        ls.contains(" 0 ") && !ls.contains("4242"),
        "guest sees the user's file as its own: {ls}"
    );
    let written =
        std::fs::metadata(share.join("guest.txt")).expect("the guest's file is on the host");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        written.uid(),
        owner,
        "the guest's file belongs to the folder owner"
    );
    if root {
        assert_eq!(written.gid(), 4243);
    }
    assert_eq!(
        std::fs::read_to_string(share.join("guest.txt")).unwrap(),
        "from-guest\n"
    );

    // Symlinks resolve inside the guest: never the host's file.
    assert!(
        !console.contains("HOST-SECRET"),
        "the host file leaked: {console}"
    );
    assert!(
        lines.contains(&"T: abs GUEST-COPY"),
        "absolute link resolved in the guest: {console}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("T: rel ") && l.contains("No such file")),
        "{console}"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "HOST-SECRET\n"
    );
}

/// The image's initramfs plus an uncompressed cpio with `/test-init` (the kernel unpacks
/// concatenated archives in order).
fn overlay_initramfs(image: &Image, dir: &Path, script: &str) -> PathBuf {
    let mut bytes = std::fs::read(&image.initramfs).unwrap();
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    cpio_entry(&mut bytes, "test-init", 0o100755, script.as_bytes());
    cpio_entry(&mut bytes, "TRAILER!!!", 0, b"");
    let path = dir.join("overlay.cpio.gz");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// One `newc` cpio entry.
fn cpio_entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
    let fields = [
        1,
        mode,
        0,
        0,
        1,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// The aarch64 line (`virt`, cortex-a72, PCI devices) boots the aarch64 image under TCG. Runs when an
/// aarch64 image exists (`$WORKROOM_TEST_IMAGE_DIR_AARCH64`, else `images/aarch64` next to the x86_64
/// one) and `qemu-system-aarch64` is installed; otherwise it says why it did nothing.
#[tokio::test]
async fn aarch64_guest_boots_with_a_share_under_tcg() {
    let _one = ONE_VM_AT_A_TIME.lock().await;
    init_tracing();
    let dir = match std::env::var_os("WORKROOM_TEST_IMAGE_DIR_AARCH64") {
        Some(dir) => PathBuf::from(dir),
        None => image().kernel.parent().unwrap().with_file_name("aarch64"),
    };
    let image = Image {
        kernel: dir.join("kernel"),
        initramfs: dir.join("initramfs.cpio.gz"),
    };
    if !image.kernel.is_file() || !image.initramfs.is_file() {
        eprintln!(
            "skipped: no aarch64 image in {} (`cargo run -p workroom-image -- build --arch aarch64`)",
            dir.display()
        );
        return;
    }
    if tools().qemu_aarch64.is_none() {
        eprintln!(
            "skipped: qemu-system-aarch64 is not installed (`apt-get install qemu-system-arm`)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let share = tmp.path().join("share");
    std::fs::create_dir(&share).unwrap();
    let mut cfg = config(&image, tmp.path());
    cfg.arch = workroom_host::vm::Arch::Aarch64;
    let guest_path = "/sessions/a/mnt/share";
    cfg.shares = vec![Share {
        tag: "s0".into(),
        host_path: share,
        read_only: false,
    }];
    cfg.cmdline_extra = vec![format!(
        "workroom.share=s0:{}",
        encode_cmdline_value(guest_path)
    )];
    let vm = backend(&tmp.path().join("state"), AccelPreference::Auto)
        .start_vm(cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        vm.accel(),
        Accel::Tcg,
        "a foreign guest architecture always runs under TCG"
    );
    let (mut sup, hello) = hello(&vm).await;
    eprintln!(
        "aarch64 hello: QEMU start → first connection {:?}",
        vm.timings().to_first_connection()
    );
    assert_eq!(hello.arch, "aarch64");
    assert!(
        hello
            .mounts
            .iter()
            .any(|m| m.tag == "s0" && m.path == guest_path),
        "{:?}",
        hello.mounts
    );
    shut_down(&vm, &mut sup).await;
}
