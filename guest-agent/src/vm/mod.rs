//! The agent as PID 1 of the guest VM.
//!
//! Boot: mount the basic filesystems, load the virtio/vsock/virtiofs modules, install busybox applets,
//! bring up loopback, mount the shares named on the kernel command line, then dial the host's
//! supervisor port and say hello. After that PID 1 serves the supervisor channel (ping, mount, open a
//! session, stats, shutdown), forwards the guest-local model port to the host, and reaps every child.
//! Each session runs as a child process (this same binary in stream-json mode) whose stdin and stdout
//! are its own vsock connection, so a crashing session cannot take PID 1 or the other sessions down.
//! PID 1 never exits: if the host goes away it keeps trying to reach it.

pub mod cmdline;
mod forward;
mod sessions;
pub mod shares;
mod supervisor;
pub mod system;
mod userland;
pub mod vsock;

use std::path::Path;
use std::time::Duration;

use cmdline::BootSettings;

/// Where busybox and the modules live in the initramfs.
const BUSYBOX: &str = "/bin/busybox";
const MODULES: &str = "/lib/modules";

/// Runs PID 1. Never returns.
pub fn run_init() -> ! {
    let started = std::time::Instant::now();
    system::mount_basics();
    let settings =
        BootSettings::parse(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default());
    init_console_logging(settings.log.as_deref());
    let modules = system::load_modules(Path::new(MODULES));
    install_busybox();
    if let Err(e) = system::loopback_up() {
        tracing::warn!(error = %e, "loopback interface did not come up");
    }
    prepare_environment(settings.model_port);
    tracing::info!(
        modules,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "guest ready"
    );

    loop {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(rt) => {
                if let Err(e) = rt.block_on(supervisor::serve(settings.clone())) {
                    tracing::error!(error = %e, "supervisor stopped; restarting it");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot start the async runtime"),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn init_console_logging(filter: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or("info"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
}

/// `busybox --install -s` links every applet into /bin, /sbin, /usr/bin, /usr/sbin.
fn install_busybox() {
    if !Path::new(BUSYBOX).exists() {
        return;
    }
    match std::process::Command::new(BUSYBOX)
        .args(["--install", "-s"])
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => tracing::warn!(%status, "busybox --install failed"),
        Err(e) => tracing::warn!(error = %e, "cannot run busybox"),
    }
}

/// The environment every session inherits: a sane PATH and HOME, and the model behind the proxy.
fn prepare_environment(model_port: u16) {
    let egress = format!(
        "http://127.0.0.1:{}",
        workroom_protocol::vm::GUEST_EGRESS_PORT
    );
    let vars = [
        (
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_string(),
        ),
        ("HOME", "/root".to_string()),
        ("TERM", "dumb".to_string()),
        ("LANG", "C.UTF-8".to_string()),
        (
            "ANTHROPIC_BASE_URL",
            format!("http://127.0.0.1:{model_port}"),
        ),
        (
            "OPENAI_BASE_URL",
            format!("http://127.0.0.1:{model_port}/v1"),
        ),
        // Tools reach the network only through the host's egress proxy, which asks the person.
        ("HTTP_PROXY", egress.clone()),
        ("HTTPS_PROXY", egress.clone()),
        ("http_proxy", egress.clone()),
        ("https_proxy", egress.clone()),
        ("NO_PROXY", "127.0.0.1,localhost".to_string()),
        ("no_proxy", "127.0.0.1,localhost".to_string()),
        (
            "WORKROOM_AGENT_STATE_DIR",
            workroom_protocol::vm::AGENT_STATE_DIR.to_string(),
        ),
    ];
    for (key, value) in vars {
        // SAFETY: called once during boot, before any other thread exists.
        unsafe { std::env::set_var(key, value) };
    }
}
