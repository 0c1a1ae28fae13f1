//! The egress proxy against real local TCP servers, through in-memory guest connections.

use super::*;
use tokio::io::duplex;
use tokio::net::TcpListener;

/// A one-page HTTP server on 127.0.0.1; answers every connection with `body`.
async fn server(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: yes\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

struct Rig {
    proxy: EgressProxy,
    events: mpsc::UnboundedReceiver<EgressEvent>,
}

fn rig(allow: &[&str], deny: &[&str], provider: Option<&str>) -> Rig {
    let (tx, events) = mpsc::unbounded_channel();
    let policy = EgressPolicy::new(
        allow.iter().map(|s| s.to_string()).collect(),
        deny.iter().map(|s| s.to_string()).collect(),
        provider.map(str::to_string),
        Arc::default(),
        tx,
    );
    Rig {
        proxy: EgressProxy::new(policy).unwrap(),
        events,
    }
}

/// Sends `request` as the guest would and returns everything the proxy answered.
async fn exchange(proxy: &EgressProxy, request: &str) -> String {
    let (mut guest, host) = duplex(64 * 1024);
    let proxy = proxy.clone();
    let serving = tokio::spawn(async move { proxy.serve_connection(host).await });
    guest.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    guest.read_to_end(&mut out).await.unwrap();
    serving.await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The next question, skipping log entries.
async fn next_ask(
    events: &mut mpsc::UnboundedReceiver<EgressEvent>,
) -> (String, oneshot::Sender<NetworkAnswer>) {
    loop {
        match events.recv().await {
            Some(EgressEvent::Ask { host, reply }) => return (host, reply),
            Some(EgressEvent::Log(_)) => continue,
            None => panic!("no question"),
        }
    }
}

fn logged(events: &mut mpsc::UnboundedReceiver<EgressEvent>) -> Vec<NetworkRequest> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let EgressEvent::Log(r) = event {
            out.push(r);
        }
    }
    out
}

#[tokio::test]
async fn an_allowed_absolute_url_is_fetched_and_logged() {
    let port = server("hello from the server").await;
    let mut rig = rig(&["127.0.0.1"], &[], None);
    let answer = exchange(
        &rig.proxy,
        &format!("GET http://127.0.0.1:{port}/page HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Connection: keep-alive\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("x-test: yes"), "{answer}");
    assert!(answer.ends_with("hello from the server"), "{answer}");
    let log = logged(&mut rig.events);
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].allowed, log[0].by, log[0].port),
        (true, "rule", port)
    );
    assert_eq!(log[0].target, format!("http://127.0.0.1:{port}/page"));
}

#[tokio::test]
async fn connect_tunnels_bytes_untouched_once_allowed() {
    let port = server("tunnelled").await;
    let rig = rig(&["*"], &[], None);
    let (mut guest, host) = duplex(64 * 1024);
    let proxy = rig.proxy.clone();
    tokio::spawn(async move { proxy.serve_connection(host).await });
    guest
        .write_all(
            format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut established = [0u8; 39];
    guest.read_exact(&mut established).await.unwrap();
    assert_eq!(&established, b"HTTP/1.1 200 Connection Established\r\n\r\n");
    // What a TLS client would send is relayed as is; here, plain HTTP to the server.
    guest.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    guest.read_to_end(&mut out).await.unwrap();
    assert!(String::from_utf8_lossy(&out).ends_with("tunnelled"));
}

#[tokio::test]
async fn denied_hosts_and_the_model_provider_are_refused_with_a_reason() {
    let port = server("must not be served").await;
    let mut rig = rig(
        &["*"],
        &["evil.example", "127.0.0.2"],
        Some("api.anthropic.com"),
    );
    let answer = exchange(
        &rig.proxy,
        "CONNECT upload.evil.example:443 HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("network settings block"), "{answer}");
    let answer = exchange(
        &rig.proxy,
        &format!("GET http://127.0.0.2:{port}/ HTTP/1.1\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // Even with "*" allowed: the provider is reachable only through the model proxy.
    let answer = exchange(
        &rig.proxy,
        "CONNECT API.Anthropic.com.:443 HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(answer.contains("model provider"), "{answer}");
    let log = logged(&mut rig.events);
    assert_eq!(
        log.iter().map(|r| r.by).collect::<Vec<_>>(),
        ["rule", "rule", "provider"]
    );
    assert!(log.iter().all(|r| !r.allowed));
}

#[tokio::test]
async fn unknown_hosts_wait_for_the_person() {
    let port = server("asked and allowed").await;
    let mut rig = rig(&[], &[], None);
    let proxy = rig.proxy.clone();
    let request = format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n");
    let asked = tokio::spawn(async move { exchange(&proxy, &request).await });
    let (host, reply) = next_ask(&mut rig.events).await;
    assert_eq!(host, "127.0.0.1");
    reply.send(NetworkAnswer::Once).unwrap();
    assert!(asked.await.unwrap().ends_with("asked and allowed"));

    let proxy = rig.proxy.clone();
    let asked =
        tokio::spawn(async move { exchange(&proxy, "CONNECT 127.0.0.1:9 HTTP/1.1\r\n\r\n").await });
    let (_, reply) = next_ask(&mut rig.events).await;
    reply.send(NetworkAnswer::Deny).unwrap();
    let answer = asked.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 403") && answer.contains("did not allow"),
        "{answer}"
    );
}

#[tokio::test]
async fn malformed_and_oversized_heads_get_a_400() {
    let rig = rig(&["*"], &[], None);
    let answer = exchange(&rig.proxy, "NONSENSE\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let answer = exchange(&rig.proxy, "GET /relative HTTP/1.1\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("absolute"),
        "{answer}"
    );
    let huge = format!(
        "GET http://x/ HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(MAX_HEAD + 10)
    );
    let answer = exchange(&rig.proxy, &huge).await;
    assert!(answer.contains("larger than"), "{answer}");
}

#[test]
fn patterns_cover_the_host_and_its_subdomains_only() {
    assert!(covers("example.com", "example.com"));
    assert!(covers("example.com", "docs.example.com"));
    assert!(covers("*.example.com", "docs.example.com"));
    assert!(!covers("example.com", "badexample.com"));
    assert!(!covers("docs.example.com", "example.com"));
    assert!(covers("*", "anything.test"));
    assert!(!covers("", "example.com"));
    assert_eq!(
        parse_hosts("pypi.org, Files.PythonHosted.org\ngithub.com"),
        ["pypi.org", "files.pythonhosted.org", "github.com"]
    );
    assert_eq!(
        split_host_port("[::1]:8080", 443),
        Some(("::1".into(), 8080))
    );
    assert_eq!(
        split_host_port("example.com", 443),
        Some(("example.com".into(), 443))
    );
}
