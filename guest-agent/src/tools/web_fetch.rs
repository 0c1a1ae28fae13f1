//! `WebFetch`: reads a web page for the model, as Markdown.
//!
//! In the VM there is no network device and no TLS: the request goes, as an absolute URL, to the
//! host's egress proxy named by `HTTPS_PROXY`/`HTTP_PROXY`. The host decides whether the person
//! allows that host (asking them if nobody decided), makes the request itself (TLS included) and
//! streams the answer back. Without a proxy (the agent run outside a VM) only `http://` URLs are
//! fetched, directly.
//!
//! Redirects to the same host are followed; a redirect to another host is reported to the model,
//! which may fetch it (and so go through the policy for that host) if it wants.

use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::context::{ToolContext, ToolOutput};
use super::html_md;

pub const NAME: &str = "WebFetch";

/// The most a page may take to arrive (a network question to the person counts against it).
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest response read.
const MAX_RESPONSE: usize = 10 << 20;
/// The most Markdown handed to the model.
const MAX_RESULT_CHARS: usize = 100_000;
/// Same-host redirects followed.
const MAX_REDIRECTS: usize = 5;

pub fn description() -> &'static str {
    "Fetches a web page and returns its content as Markdown, with the question you want answered from it.

- Takes a fully formed URL (http:// or https://) and a prompt saying what you are looking for.
- HTML is converted to Markdown; very long pages are cut.
- The person using Workroom decides which sites may be reached: a site they have not allowed may be refused. Do not retry a refused site; say what you could not reach.
- If the page redirects to another host, the result says so; fetch the new URL if you want it.
- For GitHub files, prefer raw.githubusercontent.com URLs."
}

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri", "description": "The URL to fetch"},
            "prompt": {"type": "string", "description": "What to look for in the page"}
        },
        "required": ["url", "prompt"],
        "additionalProperties": false
    })
}

/// A parsed HTTP response.
struct Response {
    code: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub async fn run(ctx: &ToolContext, input: Value) -> ToolOutput {
    let started = Instant::now();
    let Some(raw_url) = input.get("url").and_then(Value::as_str) else {
        return ToolOutput::error("WebFetch needs a `url`.");
    };
    let prompt = input
        .get("prompt")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut url = match Url::parse(raw_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
        _ => return ToolOutput::error(format!("{raw_url} is not an http:// or https:// URL.")),
    };
    let fetched = tokio::select! {
        r = tokio::time::timeout(FETCH_TIMEOUT, fetch_following(&mut url)) => r,
        _ = ctx.cancel.cancelled() => return ToolOutput::error("Interrupted by user."),
    };
    let response = match fetched {
        Ok(Ok(Fetched::Page(r))) => r,
        Ok(Ok(Fetched::Elsewhere(target))) => {
            let text = format!(
                "REDIRECT DETECTED: {url} redirects to a different host: {target}\n\nTo read it, call WebFetch again with url \"{target}\" and the same prompt."
            );
            return ToolOutput::ok(
                text.clone(),
                json!({"bytes": 0, "code": 302, "codeText": "Found", "result": text,
                       "durationMs": started.elapsed().as_millis() as u64, "url": url.as_str()}),
            );
        }
        Ok(Err(message)) => return ToolOutput::error(message),
        Err(_) => {
            return ToolOutput::error(format!(
                "{url} did not answer within {} s.",
                FETCH_TIMEOUT.as_secs()
            ))
        }
    };
    if response.code == 403
        && response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain"))
    {
        // The egress proxy's refusals are plain text that says why.
        let why = String::from_utf8_lossy(&response.body).trim().to_string();
        return ToolOutput::error(format!("{url} could not be fetched: {why}"));
    }
    let content_type = match response.header("content-type") {
        Some(t) => t.to_ascii_lowercase(),
        None => sniff(&response.body).to_string(),
    };
    let bytes = response.body.len();
    let body = String::from_utf8_lossy(&response.body);
    let mut content = if content_type.contains("html") {
        html_md::to_markdown(&body, Some(&url))
    } else if content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("xml")
    {
        body.into_owned()
    } else {
        format!("(binary content of type {content_type}, {bytes} bytes, not shown)")
    };
    if content.chars().count() > MAX_RESULT_CHARS {
        content = content.chars().take(MAX_RESULT_CHARS).collect();
        content.push_str("\n\n[content cut: the page is longer]");
    }
    let result = if response.code >= 400 {
        format!(
            "{url} answered {} {}.\n\n{content}",
            response.code, response.reason
        )
    } else if prompt.is_empty() {
        content
    } else {
        format!("Content of {url}, to answer: {prompt}\n\n{content}")
    };
    let structured = json!({
        "bytes": bytes,
        "code": response.code,
        "codeText": response.reason,
        "result": result,
        "durationMs": started.elapsed().as_millis() as u64,
        "url": url.as_str(),
    });
    if response.code >= 400 {
        let mut out = ToolOutput::error(result);
        out.structured = structured;
        return out;
    }
    ToolOutput::ok(result, structured)
}

/// A content type for a response that did not say: HTML, text, or bytes.
fn sniff(body: &[u8]) -> &'static str {
    let Ok(text) = std::str::from_utf8(body) else {
        return "application/octet-stream";
    };
    if text.contains('\0') {
        return "application/octet-stream";
    }
    let start = text
        .trim_start()
        .get(..512.min(text.trim_start().len()))
        .unwrap_or("");
    let lower = start.to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.contains("<html") || lower.contains("<body") {
        "text/html"
    } else {
        "text/plain"
    }
}

enum Fetched {
    Page(Response),
    /// A redirect to another host.
    Elsewhere(String),
}

async fn fetch_following(url: &mut Url) -> Result<Fetched, String> {
    for _ in 0..=MAX_REDIRECTS {
        let response = fetch(url).await?;
        let location = response.header("location").map(str::to_string);
        match (response.code, location) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => {
                let next = url
                    .join(&location)
                    .map_err(|_| format!("{url} redirects to an invalid URL: {location}"))?;
                if next.host_str() != url.host_str() {
                    return Ok(Fetched::Elsewhere(next.to_string()));
                }
                *url = next;
            }
            _ => return Ok(Fetched::Page(response)),
        }
    }
    Err(format!("{url} redirected more than {MAX_REDIRECTS} times."))
}

/// The proxy for `scheme` from the environment, as `host:port`.
fn proxy_for(scheme: &str) -> Option<String> {
    let names: &[&str] = if scheme == "https" {
        &["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy"]
    };
    let value = names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
    let proxy = Url::parse(&value).ok()?;
    Some(format!(
        "{}:{}",
        proxy.host_str()?,
        proxy.port_or_known_default().unwrap_or(80)
    ))
}

async fn fetch(url: &Url) -> Result<Response, String> {
    let host = url.host_str().unwrap_or_default();
    let (address, target) = match proxy_for(url.scheme()) {
        Some(proxy) => (proxy, url.to_string()),
        None if url.scheme() == "http" => {
            let port = url.port_or_known_default().unwrap_or(80);
            let mut path = url.path().to_string();
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
            (format!("{host}:{port}"), path)
        }
        None => {
            return Err(format!(
            "{url} cannot be fetched here: https needs Workroom's network proxy, and none is set."
        ))
        }
    };
    let mut stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: Workroom-WebFetch/1.0\r\nAccept: text/html, text/plain, application/json, */*;q=0.5\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("the answer from {host} broke off: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > MAX_RESPONSE {
            raw.truncate(MAX_RESPONSE);
            break;
        }
    }
    parse_response(&raw).ok_or_else(|| format!("{host} sent something that is not an HTTP answer"))
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    let mut parts = status.splitn(3, ' ');
    let _version = parts.next()?;
    let code: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(Response {
        code,
        reason,
        headers,
        body,
    })
}

/// Decodes a chunked body (a server reached without the proxy may send one).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&raw[..line_end]).unwrap_or("0");
        let size_text = size_text.split(';').next().unwrap_or("0").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        raw = &raw[line_end + 2..];
        if size == 0 || raw.len() < size {
            out.extend_from_slice(&raw[..size.min(raw.len())]);
            break;
        }
        out.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_with_lengths_and_chunks() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello world",
        )
        .unwrap();
        assert_eq!((r.code, r.body.as_slice()), (200, b"hello".as_slice()));
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n").unwrap();
        assert_eq!(
            (r.code, r.reason.as_str(), r.body.as_slice()),
            (404, "Not Found", b"Wikipedia".as_slice())
        );
        assert!(parse_response(b"garbage").is_none());
        assert_eq!(sniff(b"plain words"), "text/plain");
        assert_eq!(sniff(b"  <!DOCTYPE html><p>x"), "text/html");
        assert_eq!(sniff(&[0xff, 0x00, 0x10]), "application/octet-stream");
    }
}
