//! A whole session through a real VM (QEMU, TCG on CI): a shared folder over VirtioFS, the agent as
//! PID 1 in the guest, its session over vsock, model calls through the host's proxy to the fake model.
//!
//! Needs the tools and a built image (see `vm_boot.rs` for where it is looked up; CI builds it first).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fake_model::{FakeModel, Script};
use serde_json::{json, Value};
use workroom_host::session::{
    Host, NewSession, PermissionAnswer, PermissionPrompt, SessionEvent, SessionHandle, VmState,
};
use workroom_host::store::SessionRecord;
use workroom_host::vm::{QemuBackend, QemuOptions, Tools};

/// A data directory whose images folder points at the built image.
fn data_dir_with_image() -> tempfile::TempDir {
    let image = support::built_image_dir();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("images")).unwrap();
    std::os::unix::fs::symlink(&image, data.path().join("images/x86_64")).unwrap();
    data
}

async fn until(session: &mut SessionHandle, pred: impl Fn(&SessionEvent) -> bool) -> SessionEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(120), session.next_event())
            .await
            .expect("an event within 120 s")
            .expect("session open");
        match &event {
            SessionEvent::Error { message } => panic!("session error: {message}"),
            SessionEvent::Vm(VmState::Failed {
                reason,
                console_tail,
            }) => {
                panic!("VM failed: {reason}\n{console_tail}")
            }
            _ => {}
        }
        if pred(&event) {
            return event;
        }
    }
}

/// Processes whose command line mentions `needle` (our per-test data dir).
fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains(&needle))
        .collect()
}

/// A QEMU backend and a host over `data`, and a session over `folder` that needs no permission
/// questions (the tests script what the agent does).
fn qemu_session(data: &Path, folder: &Path) -> (Arc<QemuBackend>, Host, SessionRecord) {
    let tools =
        Tools::discover(None).expect("QEMU, virtiofsd and vhost-device-vsock are installed");
    let backend = Arc::new(QemuBackend::new(QemuOptions::new(
        tools,
        data.join("state"),
    )));
    let host = Host::open(data, &data.join("images"), backend.clone()).unwrap();
    let record = host
        .create_session(
            &[folder.to_path_buf()],
            NewSession {
                permission_mode: Some("bypassPermissions".into()),
                ..NewSession::default()
            },
        )
        .unwrap();
    (backend, host, record)
}

fn tool(name: &str, input: Value) -> Value {
    json!({"content": [{"type": "tool_use", "name": name, "input": input}]})
}

/// The fake model playing `script`, with `settings` stored, and the host reopened so they apply.
/// The provider key is the one the tests check never reaches the guest (each test sets the same
/// value, as they share the process's environment).
fn with_model(
    data: &Path,
    backend: Arc<QemuBackend>,
    host: &Host,
    script: Value,
    settings: &[(&str, &str)],
) -> (FakeModel, Host) {
    let model = FakeModel::start(Script::from_json_str(&script.to_string()).unwrap()).unwrap();
    host.store()
        .set_setting("base_url", &model.base_url())
        .unwrap();
    for (key, value) in settings {
        host.store().set_setting(key, value).unwrap();
    }
    std::env::set_var("ANTHROPIC_API_KEY", "sk-ant-never-in-the-guest");
    let host = Host::open(data, &data.join("images"), backend).unwrap();
    (model, host)
}

/// Follows the turn to its result frame: every tool result as (content, is_error), in order, and
/// the result frame. Permission prompts are answered by `answer`.
async fn turn_results(
    session: &mut SessionHandle,
    mut answer: impl FnMut(&PermissionPrompt) -> PermissionAnswer,
) -> (Vec<(String, bool)>, Value) {
    let mut results = Vec::new();
    loop {
        let event = until(session, |e| {
            matches!(e, SessionEvent::Frame { .. } | SessionEvent::Permission(_))
        })
        .await;
        match event {
            SessionEvent::Permission(prompt) => {
                let reply = answer(&prompt);
                session.answer(&prompt.request_id, reply);
            }
            SessionEvent::Frame { frame } if frame["type"] == "user" => {
                for block in frame["message"]["content"].as_array().into_iter().flatten() {
                    if block["type"] == "tool_result" {
                        results.push((
                            block["content"].as_str().unwrap_or_default().to_string(),
                            block["is_error"].as_bool().unwrap_or(false),
                        ));
                    }
                }
            }
            SessionEvent::Frame { frame } if frame["type"] == "result" => return (results, frame),
            _ => {}
        }
    }
}

/// For turns in bypass mode, where nothing asks.
fn no_prompt(prompt: &PermissionPrompt) -> PermissionAnswer {
    panic!("nothing should ask in bypass mode: {}", prompt.summary)
}

#[tokio::test]
async fn a_session_in_a_real_vm_works_on_the_shared_folder_and_leaves_nothing_behind() {
    let data = data_dir_with_image();
    let work = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let folder = work.path().join("Project");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("from-host.txt"), "written on the host\n").unwrap();
    std::fs::write(outside.path().join("secret.txt"), "host secret\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), folder.join("escape")).unwrap();
    // As root, hand the folder to another user: files the guest writes must end up owned by them.
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let owner = if euid == 0 {
        std::os::unix::fs::chown(&folder, Some(1234), Some(1234)).unwrap();
        std::os::unix::fs::chown(folder.join("from-host.txt"), Some(1234), Some(1234)).unwrap();
        1234
    } else {
        euid
    };

    let (backend, host, record) = qemu_session(data.path(), &folder);
    let guest = format!("/sessions/{}/mnt/Project", record.id);
    let script = json!({"steps": [
        tool("Write", json!({"file_path": format!("{guest}/from-agent.txt"), "content": "written in the VM\n"})),
        tool("Read", json!({"file_path": format!("{guest}/from-host.txt")})),
        tool("Bash", json!({"command": "uname -r; pwd; cat escape 2>&1; k=sk-ant-never; k=$k-in-the-guest; echo key-in-env=$(env | grep -c $k); echo key-in-cmdline=$(grep -c $k /proc/cmdline); echo key-in-files=$(grep -rls $k /etc /run /root /tmp 2>/dev/null | wc -l)"})),
        tool("Bash", json!({"command": "printf 'GET /v1/models HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8126 | head -1; printf 'POST /admin HTTP/1.0\\r\\ncontent-length: 0\\r\\n\\r\\n' | nc 127.0.0.1 8126 | head -1"})),
        {"content": [{"type": "text", "text": "All done in the VM."}]},
    ]});
    let (model, host) = with_model(data.path(), backend, &host, script, &[]);

    let mut session = host.open_session(&record.id).unwrap();
    session.send("do the work");
    let running = until(&mut session, |e| {
        matches!(e, SessionEvent::Vm(VmState::Running { .. }))
    })
    .await;
    eprintln!("{running:?}");
    let (results, result) = turn_results(&mut session, no_prompt).await;
    let results: Vec<String> = results.into_iter().map(|(text, _)| text).collect();
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["result"], "All done in the VM.");
    eprintln!("{results:#?}");

    // Written in the guest, visible on the host, owned by the folder's owner.
    let written = folder.join("from-agent.txt");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "written in the VM\n"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&written).unwrap().uid(), owner);
    // Read in the guest from the host.
    assert!(results[1].contains("written on the host"), "{}", results[1]);
    // The shell ran in the guest's kernel, in the shared folder; the symlink did not lead out; no key.
    let shell = &results[2];
    assert!(shell.contains("6.1.0"), "{shell}");
    assert!(shell.contains(&guest), "{shell}");
    assert!(
        !shell.contains("host secret"),
        "a symlink led out of the share: {shell}"
    );
    assert!(
        shell.contains("key-in-env=0")
            && shell.contains("key-in-cmdline=0")
            && shell.contains("key-in-files=0"),
        "{shell}"
    );
    // The proxy refuses anything but model calls, and the provider never saw them.
    assert_eq!(results[3].matches("403").count(), 2, "{}", results[3]);
    let requests = model.requests();
    assert!(
        requests.iter().all(|r| r.path.starts_with("/v1/messages")),
        "{:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(requests.iter().all(
        |r| r.headers.get("x-api-key").map(String::as_str) == Some("sk-ant-never-in-the-guest")
    ));
    assert!(requests
        .iter()
        .all(|r| !r.body.to_string().contains("sk-ant-never-in-the-guest")));

    session.close().await;
    let left = processes_mentioning(data.path());
    assert!(left.is_empty(), "processes left behind: {left:#?}");
    assert!(
        !data
            .path()
            .join("run")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "run dir left behind"
    );
}

/// A one-page HTTP server on `ip` (a host loopback address); answers every request with `body`.
async fn page_server(ip: &str, body: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn the_guest_reaches_only_the_hosts_the_person_allows_and_every_request_is_recorded() {
    let data = data_dir_with_image();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("Project");
    std::fs::create_dir_all(&folder).unwrap();
    let allowed = page_server("127.0.0.2", "page-from-allowed-host").await;
    let denied = page_server("127.0.0.3", "page-from-denied-host").await;
    let asked = page_server("127.0.0.4", "page-from-asked-host").await;
    let (backend, host, record) = qemu_session(data.path(), &folder);
    // The minimal image has no curl, and busybox's static wget cannot resolve even the proxy's
    // address; `nc` speaks to the proxy that $http_proxy names, as curl would: an absolute URL for
    // HTTP, CONNECT for a tunnel.
    let fetch = |ip: &str, port: u16, tag: &str| {
        format!("echo {tag}=$(printf 'GET http://{ip}:{port}/ HTTP/1.0\\r\\n\\r\\n' | nc ${{http_proxy#http://}} | tail -1);")
    };
    let command = [
        "echo devices=$(ls /sys/class/net | tr '\\n' ' ');".to_string(),
        fetch("127.0.0.2", allowed, "allowed"),
        fetch("127.0.0.3", denied, "denied"),
        fetch("127.0.0.4", asked, "asked"),
        // The model provider's host (the fake model is on 127.0.0.1) is for the model proxy only,
        // whatever the port.
        fetch("127.0.0.1", 9, "provider"),
        // A tunnel, as HTTPS clients use.
        format!("echo tunnel=$(printf 'CONNECT 127.0.0.2:{allowed} HTTP/1.1\\r\\n\\r\\nGET / HTTP/1.0\\r\\n\\r\\n' | nc ${{http_proxy#http://}} | tail -1);"),
        // Without the proxy there is no way out at all.
        format!("echo direct=$(echo x | nc -w 3 10.0.2.2 {allowed} 2>&1 || echo failed);"),
    ]
    .join(" ");
    let script = json!({"steps": [
        tool("Bash", json!({"command": command, "timeout": 300000})),
        // WebFetch has no TLS and no network of its own: the same proxy fetches for it.
        tool("WebFetch", json!({"url": format!("http://127.0.0.2:{allowed}/"), "prompt": "What does it say?"})),
        tool("WebFetch", json!({"url": format!("http://127.0.0.3:{denied}/"), "prompt": "What does it say?"})),
        {"content": [{"type": "text", "text": "fetched"}]},
    ]});
    let (_model, host) = with_model(
        data.path(),
        backend,
        &host,
        script,
        &[
            ("network_allow", "127.0.0.2"),
            ("network_deny", "127.0.0.3"),
        ],
    );

    let mut session = host.open_session(&record.id).unwrap();
    session.send("fetch the pages");
    let mut asked_hosts = Vec::new();
    let (results, _) = turn_results(&mut session, |prompt| {
        assert_eq!(prompt.tool_name, "Network");
        asked_hosts.push(prompt.input["host"].as_str().unwrap().to_string());
        assert!(prompt.summary.contains("127.0.0.4"), "{}", prompt.summary);
        PermissionAnswer::AllowOnce
    })
    .await;
    eprintln!("{results:#?}");
    let shell = &results[0].0;
    assert!(
        results[1].0.contains("page-from-allowed-host") && !results[1].1,
        "{:?}",
        results[1]
    );
    assert!(
        results[2].1 && results[2].0.contains("network settings block 127.0.0.3"),
        "{:?}",
        results[2]
    );
    assert_eq!(
        asked_hosts,
        ["127.0.0.4"],
        "only the unknown host is asked about"
    );
    assert!(
        shell.lines().any(|l| l == "devices=lo"),
        "the guest has a network device: {shell}"
    );
    assert!(shell.contains("allowed=page-from-allowed-host"), "{shell}");
    assert!(shell.contains("asked=page-from-asked-host"), "{shell}");
    assert!(shell.contains("tunnel=page-from-allowed-host"), "{shell}");
    assert!(!shell.contains("page-from-denied-host"), "{shell}");
    assert!(
        shell.contains("denied=Workroom's network settings block 127.0.0.3"),
        "{shell}"
    );
    assert!(
        shell.contains("provider=Workroom does not let tools reach 127.0.0.1"),
        "{shell}"
    );
    assert!(!shell.contains("direct=x"), "{shell}");
    session.close().await;

    // Every request is in the transcript, with who decided.
    let (frames, _) = host.store().frames(&record.id).unwrap();
    let log: Vec<(String, bool, String)> = frames
        .iter()
        .filter(|f| f.body["type"] == "workroom_network")
        .map(|f| {
            (
                f.body["host"].as_str().unwrap().to_string(),
                f.body["allowed"].as_bool().unwrap(),
                f.body["by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |h: &str, a: bool, b: &str| (h.to_string(), a, b.to_string());
    assert_eq!(
        log,
        [
            expect("127.0.0.2", true, "rule"),
            expect("127.0.0.3", false, "rule"),
            expect("127.0.0.4", true, "you"),
            expect("127.0.0.1", false, "provider"),
            expect("127.0.0.2", true, "rule"),
            expect("127.0.0.2", true, "rule"),
            expect("127.0.0.3", false, "rule"),
        ]
    );
}

#[tokio::test]
async fn with_the_full_userland_the_shell_has_real_tools_and_its_changes_stay_in_the_vm() {
    let data = data_dir_with_image();
    let userland = support::built_userland_dir();
    std::os::unix::fs::symlink(&userland, data.path().join("images/userland-x86_64")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("Expenses");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("receipts.csv"),
        "item,amount\nlunch,12.50\ntaxi,30.25\n",
    )
    .unwrap();
    let page = page_server("127.0.0.2", "page-for-curl").await;
    let (backend, host, record) = qemu_session(data.path(), &folder);
    // Python with the document libraries writes a workbook from the folder's CSV, a Word file and
    // a deck; git, jq, file, zip, poppler and curl (through the egress proxy) each do one thing;
    // a write to /usr lands in the overlay, not on the host.
    let python = r#"python3 - <<'PY'
import csv, openpyxl, docx, pptx, pypdf, pdfplumber, PIL
rows = list(csv.reader(open("receipts.csv")))
wb = openpyxl.Workbook()
ws = wb.active
for row in rows:
    ws.append([row[0], float(row[1]) if row[1][0].isdigit() else row[1]])
ws["B4"] = "=SUM(B2:B3)"
wb.save("expenses.xlsx")
d = docx.Document()
d.add_heading("Expenses", 1)
d.save("expenses.docx")
p = pptx.Presentation()
p.slides.add_slide(p.slide_layouts[0]).shapes.title.text = "Expenses"
p.save("expenses.pptx")
with pdfplumber.open("report.pdf") as pdf:
    lines = pdf.pages[0].extract_text().splitlines()
    print("pdfplumber=" + [l for l in lines if "Total" in l][0])
print("python=ok", len(rows))
PY
"#;
    let command = [
        "set -e; echo shell=${BASH_VERSION%%.*};".to_string(),
        python.to_string(),
        "echo pdftotext=$(pdftotext report.pdf - | grep Total);".into(),
        "git init -q repo && git -C repo -c user.email=a@b -c user.name=A commit -q --allow-empty -m one && echo commits=$(git -C repo log --oneline | wc -l);".into(),
        "echo jq=$(echo '{\"a\":[1,2,3]}' | jq -c '.a|length');".into(),
        "echo file=$(file -b expenses.xlsx | cut -c1-30);".into(),
        "zip -q bundle.zip expenses.docx && echo unzip=$(unzip -Z1 bundle.zip);".into(),
        format!("echo curl=$(curl -sS http://127.0.0.2:{page}/);"),
        "echo overlay > /usr/share/workroom-overlay-test && echo usr=$(cat /usr/share/workroom-overlay-test);".into(),
        // LibreOffice, when the userland was prepared with it (CI does): Word to PDF.
        // The built-in pdf skill's helper script, written where the shell sees it when loaded.
        "python3 /tmp/workroom-skills/pdf/scripts/pdf_to_images.py report.pdf pages --pages 1 | sed 's/^/png=/';".into(),
        // LibreOffice, when the userland was prepared with it (CI does): Word to PDF, and the xlsx
        // skill's recalculation of the workbook Python wrote.
        "if command -v soffice >/dev/null; then s=$EPOCHSECONDS; soffice --headless --convert-to pdf expenses.docx >/dev/null 2>&1; echo soffice=$(pdftotext expenses.pdf - | head -1) in $((EPOCHSECONDS-s)) s; \
         python3 /tmp/workroom-skills/xlsx/scripts/recalc.py expenses.xlsx 2>/dev/null | tr -d ' \\n' | sed 's/^/recalc=/'; echo; fi".into(),
    ]
    .join("\n");
    let script = json!({"steps": [
        tool("CreatePdf", json!({"file_path": "report.pdf", "title": "Report", "blocks": [{"paragraph": "Total spent 42.75"}]})),
        tool("Skill", json!({"skill": "pdf"})),
        tool("Skill", json!({"skill": "xlsx"})),
        tool("Bash", json!({"command": command, "timeout": 600000})),
        {"content": [{"type": "text", "text": "done"}]},
    ]});
    let (_model, host) = with_model(
        data.path(),
        backend,
        &host,
        script,
        &[("network_allow", "127.0.0.2"), ("userland", "full")],
    );

    let mut session = host.open_session(&record.id).unwrap();
    session.send("make the expense files");
    let (results, _) = turn_results(&mut session, no_prompt).await;
    let results: Vec<String> = results.into_iter().map(|(text, _)| text).collect();
    session.close().await;
    assert!(
        results[1].contains("Base directory for this skill: /tmp/workroom-skills/pdf"),
        "{}",
        results[1]
    );
    let shell = results.get(3).cloned().unwrap_or_default();
    eprintln!("{shell}");
    for expected in [
        "shell=5",
        "pdfplumber=Total spent 42.75",
        "python=ok 3",
        "pdftotext=Total spent 42.75",
        "commits=1",
        "jq=3",
        "file=Microsoft Excel 2007+",
        "unzip=expenses.docx",
        "curl=page-for-curl",
        "usr=overlay",
        "png=pages/page-001.png",
    ] {
        assert!(
            shell.contains(expected),
            "{expected:?} missing from:\n{shell}"
        );
    }
    // CI prepares the userland with LibreOffice (`--office`); then it converts too.
    let office = workroom_image::userland::read_manifest(&userland).is_some_and(|m| m.office);
    assert_eq!(shell.contains("soffice=Expenses"), office, "{shell}");
    assert_eq!(
        shell.contains(r#"recalc={"file":"/sessions/"#)
            && shell.contains(r#""formulas":1,"errors":[]}"#),
        office,
        "{shell}"
    );
    // What Python wrote is in the folder on the host; what went to /usr is not in the userland.
    for file in [
        "expenses.xlsx",
        "expenses.docx",
        "expenses.pptx",
        "bundle.zip",
    ] {
        assert!(folder.join(file).is_file(), "{file}");
    }
    let xlsx = std::fs::read(folder.join("expenses.xlsx")).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    assert!(!userland
        .join("root/usr/share/workroom-overlay-test")
        .exists());
    let (frames, _) = host.store().frames(&record.id).unwrap();
    let vm = frames
        .iter()
        .find(|f| f.body["type"] == "workroom_vm" && f.body["state"] == "running")
        .expect("a running frame");
    assert_eq!(vm.body["userland"], "full", "{}", vm.body);
}
