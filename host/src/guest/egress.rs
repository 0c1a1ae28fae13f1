//! The egress proxy: the only way the guest's tools reach the network, under the person's control.
//!
//! The guest has no network device. Its `HTTP_PROXY`/`HTTPS_PROXY` point at a guest-local port
//! forwarded over vsock to this proxy, one connection per vsock connection. It speaks two forms of
//! HTTP proxying:
//!
//! - `CONNECT host:port` (HTTPS from `curl`, `pip`, `git`): after the policy allows `host`, the bytes
//!   are relayed both ways untouched. There is no TLS interception.
//! - An absolute URL (`GET http://host/path`, or `https://` from the agent's `WebFetch`, which has no
//!   TLS of its own): the host makes the request and streams the answer back.
//!
//! Every request is decided by [`EgressPolicy`] (deny rules, then allow rules and this session's
//! grants, else the person is asked through the session) and reported as an [`EgressEvent::Log`],
//! which the session records in the transcript. The model provider's host is refused outright: the
//! model proxy reaches it with the person's key, and letting tools reach it too would give them a
//! way to send the person's files to an account that is not theirs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// The longest request head accepted.
const MAX_HEAD: usize = 32 * 1024;
/// The largest request body forwarded for absolute-URL requests.
const MAX_BODY: usize = 16 << 20;
/// How long connecting to a server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the guest has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The person's answer to "may the agent's tools connect to this host?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkAnswer {
    /// This connection only.
    Once,
    /// For the rest of this session.
    Session,
    /// From now on (saved in the settings).
    Always,
    /// No.
    Deny,
}

/// One request through the proxy, as recorded in the transcript (`workroom_network`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkRequest {
    /// The host asked for.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `CONNECT`, `GET`, ...
    pub method: String,
    /// The URL (absolute-form requests) or `host:port` (`CONNECT`).
    pub target: String,
    /// Whether it went out.
    pub allowed: bool,
    /// Who decided: `rule`, `session`, `you`, `provider` (the model provider's host, always
    /// refused), `error` (the server could not be reached).
    pub by: &'static str,
}

/// What the proxy tells its session.
#[derive(Debug)]
pub enum EgressEvent {
    /// Ask the person about `host`; the answer goes to `reply` (dropping it means no).
    Ask {
        /// The host name (lowercase).
        host: String,
        /// Where the answer goes.
        reply: oneshot::Sender<NetworkAnswer>,
    },
    /// A request was decided (and, if allowed, attempted).
    Log(NetworkRequest),
}

/// Which hosts the agent's tools may reach.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
    provider_host: Option<String>,
    /// Hosts the person allowed for this session (shared with the session, which adds to it).
    granted: Arc<Mutex<HashSet<String>>>,
    events: mpsc::UnboundedSender<EgressEvent>,
}

/// `pattern` covers `host` when it is `*`, the host itself, or a parent domain of it.
pub fn covers(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.strip_prefix("*.").unwrap_or(&pattern);
    !pattern.is_empty()
        && (pattern == "*"
            || host == pattern
            || host
                .strip_suffix(pattern)
                .is_some_and(|rest| rest.ends_with('.')))
}

/// The comma- or space-separated host list of a setting.
pub fn parse_hosts(list: &str) -> Vec<String> {
    list.split([',', ' ', '\n'])
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

impl EgressPolicy {
    /// A policy from the settings' lists, refusing `provider_host`, asking through `events`.
    pub fn new(
        allow: Vec<String>,
        deny: Vec<String>,
        provider_host: Option<String>,
        granted: Arc<Mutex<HashSet<String>>>,
        events: mpsc::UnboundedSender<EgressEvent>,
    ) -> Self {
        Self {
            allow,
            deny,
            provider_host: provider_host.map(|h| normalize(&h)),
            granted,
            events,
        }
    }

    /// Whether the agent's tools may reach `host`, and who decided. May wait for the person.
    pub async fn decide(&self, host: &str) -> (bool, &'static str) {
        let host = normalize(host);
        if self.provider_host.as_deref() == Some(host.as_str()) {
            return (false, "provider");
        }
        if self.deny.iter().any(|p| covers(p, &host)) {
            return (false, "rule");
        }
        if self.allow.iter().any(|p| covers(p, &host)) {
            return (true, "rule");
        }
        let granted = self
            .granted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|p| covers(p, &host));
        if granted {
            return (true, "session");
        }
        let (reply, answer) = oneshot::channel();
        if self.events.send(EgressEvent::Ask { host, reply }).is_err() {
            return (false, "you");
        }
        match answer.await {
            Ok(NetworkAnswer::Once | NetworkAnswer::Session | NetworkAnswer::Always) => {
                (true, "you")
            }
            Ok(NetworkAnswer::Deny) | Err(_) => (false, "you"),
        }
    }

    fn log(&self, request: NetworkRequest) {
        let _ = self.events.send(EgressEvent::Log(request));
    }
}

/// The proxy of one VM.
#[derive(Debug, Clone)]
pub struct EgressProxy {
    policy: EgressPolicy,
    http: reqwest::Client,
}

/// A parsed request head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

/// Errors while reading the guest's request.
#[derive(Debug, thiserror::Error)]
enum HeadError {
    #[error("the request head is larger than {MAX_HEAD} bytes")]
    TooLarge,
    #[error("the connection closed before the request was complete")]
    Closed,
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl EgressProxy {
    /// A proxy applying `policy`.
    pub fn new(policy: EgressPolicy) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The guest follows redirects itself, each through the policy.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self { policy, http })
    }

    /// A proxy that lets nothing through (benchmarks, tools that need no network).
    pub fn closed() -> Result<Self, reqwest::Error> {
        let (events, _) = mpsc::unbounded_channel();
        Self::new(EgressPolicy::new(
            Vec::new(),
            vec!["*".into()],
            None,
            Arc::default(),
            events,
        ))
    }

    /// Serves one guest connection (one request; the connection closes after it).
    pub async fn serve_connection<S>(&self, mut stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let read = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await;
        let (head, leftover) = match read {
            Ok(Ok(parts)) => parts,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "egress request refused");
                let _ = respond(&mut stream, 400, "Bad Request", &e.to_string()).await;
                return;
            }
            Err(_) => return,
        };
        if head.method.eq_ignore_ascii_case("CONNECT") {
            self.tunnel(stream, head, leftover).await;
        } else {
            self.forward(stream, head, leftover).await;
        }
    }

    /// Asks the policy about `host`. Allowed: the request's record, to log once its outcome is
    /// known. Refused: logged and answered with a 403 saying why, and `None`.
    async fn admit<S>(
        &self,
        stream: &mut S,
        host: &str,
        port: u16,
        method: &str,
        target: String,
    ) -> Option<NetworkRequest>
    where
        S: AsyncWrite + Unpin,
    {
        let (allowed, by) = self.policy.decide(host).await;
        let record = NetworkRequest {
            host: normalize(host),
            port,
            method: method.to_string(),
            target,
            allowed,
            by,
        };
        if allowed {
            return Some(record);
        }
        self.policy.log(record);
        let _ = respond(stream, 403, "Forbidden", &refusal(host, by)).await;
        None
    }

    /// An allowed request whose server could not be reached: logged as such, answered with `code`.
    async fn unreachable<S>(
        &self,
        stream: &mut S,
        mut record: NetworkRequest,
        code: u16,
        reason: &str,
        text: &str,
    ) where
        S: AsyncWrite + Unpin,
    {
        record.by = "error";
        self.policy.log(record);
        let _ = respond(stream, code, reason, text).await;
    }

    async fn tunnel<S>(&self, mut stream: S, head: Head, leftover: Vec<u8>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let Some((host, port)) = split_host_port(&head.target, 443) else {
            let _ = respond(&mut stream, 400, "Bad Request", "CONNECT needs host:port").await;
            return;
        };
        let Some(record) = self
            .admit(&mut stream, &host, port, "CONNECT", head.target.clone())
            .await
        else {
            return;
        };
        let upstream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        let mut upstream = match upstream {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let text = format!("cannot reach {host}:{port}: {e}");
                return self
                    .unreachable(&mut stream, record, 502, "Bad Gateway", &text)
                    .await;
            }
            Err(_) => {
                let text = format!("{host}:{port} did not answer");
                return self
                    .unreachable(&mut stream, record, 504, "Gateway Timeout", &text)
                    .await;
            }
        };
        self.policy.log(record);
        if stream
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        if !leftover.is_empty() && upstream.write_all(&leftover).await.is_err() {
            return;
        }
        if let Err(e) = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await {
            tracing::debug!(error = %e, %host, "tunnel ended");
        }
    }

    async fn forward<S>(&self, mut stream: S, head: Head, leftover: Vec<u8>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let url = match reqwest::Url::parse(&head.target) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            _ => {
                let _ = respond(
                    &mut stream,
                    400,
                    "Bad Request",
                    "this is a proxy: send an absolute http:// or https:// URL, or CONNECT",
                )
                .await;
                return;
            }
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let Some(record) = self
            .admit(&mut stream, &host, port, &head.method, url.to_string())
            .await
        else {
            return;
        };
        let body = match read_body(&mut stream, &head, leftover).await {
            Ok(b) => b,
            Err(message) => {
                let _ = respond(&mut stream, 400, "Bad Request", &message).await;
                return;
            }
        };
        let Ok(method) = reqwest::Method::from_bytes(head.method.as_bytes()) else {
            let _ = respond(&mut stream, 400, "Bad Request", "unknown method").await;
            return;
        };
        let mut request = self.http.request(method, url);
        for (name, value) in &head.headers {
            if !is_hop_by_hop(name) && !name.eq_ignore_ascii_case("host") {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                let text = format!("cannot reach {host}: {e}");
                return self
                    .unreachable(&mut stream, record, 502, "Bad Gateway", &text)
                    .await;
            }
        };
        self.policy.log(record);
        let status = response.status();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in response.headers() {
            if is_hop_by_hop(name.as_str()) {
                continue;
            }
            if let Ok(value) = value.to_str() {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        // The body ends when the connection does.
        out.push_str("Connection: close\r\n\r\n");
        if stream.write_all(out.as_bytes()).await.is_err() {
            return;
        }
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, %host, "upstream body ended early");
                    break;
                }
            }
        }
        let _ = stream.shutdown().await;
    }
}

/// What a refused request's body says (the tool shows it; curl prints it with `-v`).
fn refusal(host: &str, by: &str) -> String {
    match by {
        "provider" => format!(
            "Workroom does not let tools reach {host}: it is the model provider's API, reachable only through the model proxy.\n"
        ),
        "rule" => format!("Workroom's network settings block {host}.\n"),
        _ => format!("The person using Workroom did not allow connections to {host}.\n"),
    }
}

fn is_hop_by_hop(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authorization"
            | "proxy-authenticate"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// `host:port` (or `[v6]:port`), with `default` when no port is given.
fn split_host_port(target: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) => {
            (h, p.parse().ok()?)
        }
        _ => (target, default),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if pos > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = parse_head(&buf[..end])?;
    Ok((head, buf[end + 4..].to_vec()))
}

fn parse_head(raw: &[u8]) -> Result<Head, HeadError> {
    let text = std::str::from_utf8(raw).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().ok_or(HeadError::Malformed("empty"))?;
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || target.is_empty() {
        return Err(HeadError::Malformed("request line"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("header line"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        headers,
    })
}

/// The request body: `Content-Length` bytes (chunked uploads are refused with a reason).
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &Head,
    mut body: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let header = |n: &str| {
        head.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some() {
        return Err("chunked request bodies are not supported by Workroom's proxy".into());
    }
    let length: usize = match header("content-length") {
        None => 0,
        Some(v) => v.parse().map_err(|_| "bad Content-Length".to_string())?,
    };
    if length > MAX_BODY {
        return Err(format!("request bodies are limited to {MAX_BODY} bytes"));
    }
    let mut chunk = [0u8; 16 * 1024];
    while body.len() < length {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the body ended early".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(body)
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    code: u16,
    reason: &str,
    text: &str,
) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
#[path = "egress_tests.rs"]
mod tests;
