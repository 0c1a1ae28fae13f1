//! The model proxy: the guest's only way to a model, and the reason the API key never enters the VM.
//!
//! Each guest connection on the model port carries HTTP/1.1. Only the model endpoints pass
//! (`POST /v1/messages`, `POST /v1/messages/count_tokens`, `POST /v1/chat/completions`); everything else
//! is refused with a 403 and logged. Whatever credentials the guest sends are dropped; the host adds its
//! own and forwards to the configured provider, streaming the answer back unchanged.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Where model requests go, with which credentials.
#[derive(Clone)]
pub enum Upstream {
    /// The Anthropic API (or anything speaking it).
    Anthropic {
        /// Base URL without `/v1`.
        base_url: String,
        /// `x-api-key`.
        api_key: Option<String>,
        /// `Authorization: Bearer` (used when there is no API key).
        auth_token: Option<String>,
    },
    /// An OpenAI-compatible server.
    OpenAi {
        /// Base URL including `/v1`.
        base_url: String,
        /// Bearer key, if any.
        api_key: Option<String>,
    },
}

impl std::fmt::Debug for Upstream {
    // Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Anthropic { base_url, .. } => write!(f, "Anthropic({base_url})"),
            Upstream::OpenAi { base_url, .. } => write!(f, "OpenAi({base_url})"),
        }
    }
}

/// Largest request body forwarded (a long conversation with images fits well within it).
const MAX_BODY: usize = 64 << 20;

/// Counters for tests and the UI.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Requests forwarded.
    pub forwarded: AtomicU64,
    /// Requests refused.
    pub refused: AtomicU64,
}

/// The proxy for one VM.
#[derive(Clone)]
pub struct ModelProxy {
    upstream: Upstream,
    http: reqwest::Client,
    /// Counters.
    pub stats: Arc<ProxyStats>,
}

impl std::fmt::Debug for ModelProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelProxy")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

type ProxyBody = BoxBody<Bytes, std::io::Error>;

impl ModelProxy {
    /// A proxy to `upstream`.
    pub fn new(upstream: Upstream) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .read_timeout(std::time::Duration::from_secs(600))
            .build()?;
        Ok(Self {
            upstream,
            http,
            stats: Arc::default(),
        })
    }

    /// Serves HTTP/1.1 on one guest connection until it closes.
    pub async fn serve_connection<S>(&self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let proxy = self.clone();
        let service = hyper::service::service_fn(move |request| {
            let proxy = proxy.clone();
            async move { Ok::<_, Infallible>(proxy.handle(request).await) }
        });
        if let Err(e) = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await
        {
            tracing::debug!(error = %e, "model proxy connection ended");
        }
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().map(str::to_string);
        if !self.allowed(&method, &path) {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%method, %path, "model proxy refused a request that is not a model call");
            return error_response(
                StatusCode::FORBIDDEN,
                "permission_error",
                &format!("Workroom's model proxy only forwards model requests; {method} {path} was refused."),
            );
        }
        let headers = request.headers().clone();
        let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                return error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    &format!("request body rejected: {e}"),
                )
            }
        };
        let (base, path_for_upstream) = match &self.upstream {
            Upstream::Anthropic { base_url, .. } => {
                (base_url.trim_end_matches('/').to_string(), path.clone())
            }
            // The guest uses `/v1/chat/completions`; the OpenAI base URL already ends in `/v1`.
            Upstream::OpenAi { base_url, .. } => (
                base_url.trim_end_matches('/').to_string(),
                path.strip_prefix("/v1").unwrap_or(&path).to_string(),
            ),
        };
        let mut url = format!("{base}{path_for_upstream}");
        if let Some(q) = query {
            url.push('?');
            url.push_str(&q);
        }
        let mut outgoing = self.http.post(&url).body(body);
        for (name, value) in headers.iter() {
            let forward = matches!(
                name.as_str(),
                "content-type" | "accept" | "anthropic-version" | "anthropic-beta" | "user-agent"
            ) || name.as_str().starts_with("x-stainless");
            if forward {
                outgoing = outgoing.header(name, value);
            }
        }
        outgoing = match &self.upstream {
            Upstream::Anthropic {
                api_key: Some(key), ..
            } => outgoing.header("x-api-key", key),
            Upstream::Anthropic {
                auth_token: Some(token),
                ..
            } => outgoing.bearer_auth(token),
            Upstream::OpenAi {
                api_key: Some(key), ..
            } => outgoing.bearer_auth(key),
            _ => outgoing,
        };
        let upstream = match outgoing.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "model provider unreachable");
                return error_response(
                    StatusCode::BAD_GATEWAY,
                    "api_error",
                    &format!("the model provider could not be reached: {e}"),
                );
            }
        };
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        let mut response = Response::builder().status(upstream.status().as_u16());
        for (name, value) in upstream.headers() {
            let keep = matches!(
                name.as_str(),
                "content-type" | "request-id" | "retry-after" | "retry-after-ms" | "x-should-retry"
            ) || name.as_str().starts_with("anthropic-ratelimit");
            if keep {
                response = response.header(name, value);
            }
        }
        let stream = upstream
            .bytes_stream()
            .map_ok(Frame::data)
            .map_err(std::io::Error::other);
        response
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .unwrap_or_else(|_| {
                error_response(
                    StatusCode::BAD_GATEWAY,
                    "api_error",
                    "bad upstream response",
                )
            })
    }

    fn allowed(&self, method: &hyper::Method, path: &str) -> bool {
        if method != hyper::Method::POST {
            return false;
        }
        match self.upstream {
            Upstream::Anthropic { .. } => {
                matches!(path, "/v1/messages" | "/v1/messages/count_tokens")
            }
            Upstream::OpenAi { .. } => path == "/v1/chat/completions",
        }
    }
}

fn error_response(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({"type": "error", "error": {"type": kind, "message": message}})
        .to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use fake_model::{FakeModel, Script};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends one raw HTTP/1.1 request through the proxy, as the guest would, and returns the response.
    async fn through_proxy(proxy: &ModelProxy, request: String) -> String {
        let (mut guest, host) = tokio::io::duplex(1 << 20);
        let proxy = proxy.clone();
        let serving = tokio::spawn(async move { proxy.serve_connection(host).await });
        guest.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        guest.read_to_end(&mut response).await.unwrap();
        serving.await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    fn post(path: &str, body: &str, extra_headers: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nanthropic-version: 2023-06-01\r\n{extra_headers}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    const BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

    #[tokio::test]
    async fn model_calls_pass_with_the_hosts_key_and_stream_back() {
        let server = FakeModel::start(
            Script::from_json_str(
                r#"{"steps":[{"content":[{"type":"text","text":"hello from upstream"}]}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let proxy = ModelProxy::new(Upstream::Anthropic {
            base_url: server.base_url(),
            api_key: Some("sk-ant-host-secret".into()),
            auth_token: None,
        })
        .unwrap();
        let response = through_proxy(
            &proxy,
            post(
                "/v1/messages?beta=true",
                BODY,
                "x-api-key: guest-made-up\r\n",
            ),
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains("event: message_stop") && response.contains("hello fr"),
            "{response}"
        );
        assert!(!response.contains("sk-ant-host-secret"));
        let seen = server.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].headers["x-api-key"], "sk-ant-host-secret");
        assert_eq!(seen[0].path, "/v1/messages?beta=true");
        assert_eq!(proxy.stats.forwarded.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn anything_but_a_model_call_is_refused_and_never_reaches_the_provider() {
        let server = FakeModel::start(Script::default()).unwrap();
        let proxy = ModelProxy::new(Upstream::Anthropic {
            base_url: server.base_url(),
            api_key: Some("sk-ant-host-secret".into()),
            auth_token: None,
        })
        .unwrap();
        for request in [
            "GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_string(),
            post("/v1/files", "{}", ""),
            post("/v1/messages/../../admin", "{}", ""),
            post("/_fake/requests", "{}", ""),
        ] {
            let response = through_proxy(&proxy, request).await;
            assert!(response.starts_with("HTTP/1.1 403"), "{response}");
            assert!(response.contains("only forwards model requests"));
        }
        assert!(server.requests().is_empty());
        assert_eq!(proxy.stats.refused.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn openai_compatible_upstreams_get_the_chat_path_and_bearer_key() {
        let server = FakeModel::start(
            Script::from_json_str(r#"{"steps":[{"content":[{"type":"text","text":"hi"}]}]}"#)
                .unwrap(),
        )
        .unwrap();
        let proxy = ModelProxy::new(Upstream::OpenAi {
            base_url: format!("{}/v1", server.base_url()),
            api_key: Some("sk-openai-secret".into()),
        })
        .unwrap();
        let body = r#"{"model":"qwen3","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let response = through_proxy(&proxy, post("/v1/chat/completions", body, "")).await;
        assert!(response.contains("[DONE]"), "{response}");
        assert_eq!(
            server.requests()[0].headers["authorization"],
            "Bearer sk-openai-secret"
        );
        let refused = through_proxy(&proxy, post("/v1/messages", BODY, "")).await;
        assert!(refused.starts_with("HTTP/1.1 403"));
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_a_clear_502() {
        let proxy = ModelProxy::new(Upstream::Anthropic {
            base_url: "http://127.0.0.1:9".into(),
            api_key: None,
            auth_token: None,
        })
        .unwrap();
        let response = through_proxy(&proxy, post("/v1/messages", BODY, "")).await;
        assert!(response.starts_with("HTTP/1.1 502"), "{response}");
        assert!(response.contains("could not be reached"));
    }
}
