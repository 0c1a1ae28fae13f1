//! The macOS backend against the real Virtualization framework: boot the image, take the guest's
//! supervisor connection and hello, add a folder to the running VM and mount it, power off.
//!
//! Only on a Mac (Apple silicon, or Intel with the x86_64 image), with the image built
//! (`cargo run -p workroom-host --bin workroom -- image build --arch aarch64`, or
//! `WORKROOM_TEST_IMAGE_DIR`). Cargo's runner (`.cargo/config.toml`) signs the test binary with the
//! virtualization entitlement. One command:
//!
//! ```sh
//! cargo test -p workroom-host --test vm_apple -- --ignored --nocapture
//! ```
//!
//! GitHub's macOS runners are VMs without nested virtualization, so CI cannot run it.
#![cfg(target_os = "macos")]

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use workroom_host::vm::macos::AppleVzBackend;
use workroom_host::vm::{Arch, Share, Vm, VmConfig, VmExit};
use workroom_protocol::vm::{ports, GuestEvent};

fn image_dir() -> PathBuf {
    let dir = std::env::var_os("WORKROOM_TEST_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workroom_host::paths::images_dir().join(Arch::default().as_str()));
    for file in ["kernel", "initramfs.cpio.gz"] {
        assert!(
            dir.join(file).is_file(),
            "no guest image in {}: build it with `cargo run -p workroom-host --bin workroom -- image build --arch {}`",
            dir.display(),
            Arch::default()
        );
    }
    dir
}

async fn read_line(reader: &mut BufReader<UnixStream>) -> String {
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(30), reader.read_line(&mut line))
        .await
        .expect("a line in time")
        .expect("reading the line");
    assert!(n > 0, "the guest closed the connection");
    line
}

#[tokio::test]
#[ignore = "needs a Mac and the guest image; run with --ignored (see the file's docs)"]
async fn boots_says_hello_takes_a_new_folder_and_powers_off() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("workroom_host=debug")
        .with_test_writer()
        .try_init();
    let image = image_dir();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work folder");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("from-host.txt"), "hello guest").unwrap();
    let more = dir.path().join("more");
    std::fs::create_dir(&more).unwrap();

    let mut config = VmConfig::new(
        image.join("kernel"),
        image.join("initramfs.cpio.gz"),
        dir.path().join("run"),
        dir.path().join("console.log"),
    );
    config.cpus = 2;
    config.boot_timeout = Duration::from_secs(60);
    config.shares = vec![Share {
        tag: "f0".into(),
        host_path: work.clone(),
        read_only: false,
    }];
    config.cmdline_extra = vec!["workroom.share=f0:/mnt/work".into()];

    let vm = AppleVzBackend::new()
        .start_vm(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = vm.ready().await {
        panic!("{e}\nconsole:\n{}", vm.console_tail(4096));
    }
    let stream = vm.accept(ports::SUPERVISOR).await.unwrap();
    let mut reader = BufReader::new(stream);
    let line = read_line(&mut reader).await;
    let hello = match serde_json::from_str::<GuestEvent>(&line) {
        Ok(GuestEvent::Hello(hello)) => hello,
        other => panic!("expected a hello frame, got {line:?} ({other:?})"),
    };
    assert_eq!(hello.arch, Arch::default().as_str());
    assert!(
        hello
            .mounts
            .iter()
            .any(|m| m.tag == "workroom/f0" && m.path == "/mnt/work"),
        "{:?}\nconsole:\n{}",
        hello.mounts,
        vm.console_tail(4096)
    );

    // A folder added to the running VM, then mounted by the guest.
    let source = vm
        .add_share(&Share {
            tag: "f1".into(),
            host_path: more,
            read_only: true,
        })
        .await
        .unwrap();
    let mount = format!(
        "{{\"type\":\"mount\",\"id\":\"m1\",\"tag\":\"{source}\",\"path\":\"/mnt/more\"}}\n"
    );
    reader.get_mut().write_all(mount.as_bytes()).await.unwrap();
    let reply = read_line(&mut reader).await;
    assert!(
        reply.contains("\"m1\"") && !reply.contains("\"error\""),
        "mount reply: {reply}"
    );

    reader
        .get_mut()
        .write_all(b"{\"type\":\"shutdown\",\"id\":\"s1\"}\n")
        .await
        .unwrap();
    let reply = read_line(&mut reader).await;
    assert!(reply.contains("\"s1\""), "shutdown reply: {reply}");
    let exit = vm.wait_for_exit(Duration::from_secs(30)).await.unwrap();
    assert_eq!(exit, VmExit::PoweredOff, "{}", vm.console_tail(4096));
    assert!(
        std::fs::read_to_string(dir.path().join("console.log"))
            .unwrap()
            .contains("guest ready"),
        "the console log (hvc0) has the agent's boot log"
    );
}
