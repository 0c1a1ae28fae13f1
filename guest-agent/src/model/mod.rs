//! Talking to the model: the Anthropic Messages API, or an OpenAI-compatible server, both streamed.
//!
//! Whatever the provider, callers see Anthropic stream events ([`StreamEvent`]); the OpenAI adapter
//! translates Chat Completions chunks into them. Retrying is the caller's job (it must announce every
//! retry to the client), guided by [`ModelError::retryable`] and [`retry::delay`].

pub mod openai;
pub mod pricing;
pub mod retry;
pub mod sse;

use std::time::Duration;

use futures_util::StreamExt;
use thiserror::Error;
use workroom_protocol::anthropic::{ErrorEvent, MessagesRequest, StreamEvent, API_VERSION};

use sse::SseParser;

/// Where model requests go.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// The Anthropic Messages API (or anything speaking it: the host's proxy, Ollama's `/v1/messages`).
    Anthropic {
        /// Base URL without `/v1`.
        base_url: String,
        /// Credentials, if any (inside the VM there are none: the host adds them).
        auth: Auth,
    },
    /// An OpenAI-compatible Chat Completions server.
    OpenAi {
        /// Base URL including `/v1`.
        base_url: String,
        /// Bearer key, if the server wants one.
        api_key: Option<String>,
    },
}

/// Anthropic credentials.
#[derive(Clone, PartialEq)]
pub enum Auth {
    /// `x-api-key`.
    ApiKey(String),
    /// `Authorization: Bearer`.
    Bearer(String),
    /// No credentials.
    None,
}

impl std::fmt::Debug for Auth {
    // Never print a key, not even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::ApiKey(_) => "ApiKey(..)",
            Auth::Bearer(_) => "Bearer(..)",
            Auth::None => "None",
        })
    }
}

impl Auth {
    /// What `system/init.apiKeySource` reports.
    pub fn source(&self) -> &'static str {
        match self {
            Auth::ApiKey(_) => "ANTHROPIC_API_KEY",
            Auth::Bearer(_) => "ANTHROPIC_AUTH_TOKEN",
            Auth::None => "none",
        }
    }
}

/// Why a model request failed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    /// The server answered with an error status.
    #[error("API Error: {status} {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Error type (`rate_limit_error`, `overloaded_error`, ...).
        kind: String,
        /// The server's words.
        message: String,
        /// `retry-after-ms` / `retry-after`.
        retry_after: Option<Duration>,
        /// `x-should-retry`, which overrides the status rules.
        should_retry: Option<bool>,
    },
    /// The server sent an `error` event after a 200.
    #[error("API Error: {kind}: {message}")]
    Stream {
        /// Error type.
        kind: String,
        /// The server's words.
        message: String,
    },
    /// The connection failed or dropped before the response was complete.
    #[error("API Error: connection failed: {0}")]
    Connection(String),
    /// The response was not what the protocol says.
    #[error("API Error: malformed response: {0}")]
    Malformed(String),
}

impl ModelError {
    /// Whether trying again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            ModelError::Http {
                status,
                kind,
                should_retry,
                ..
            } => should_retry.unwrap_or(
                matches!(status, 408 | 409 | 429)
                    || *status >= 500
                    || kind == "overloaded_error"
                    || kind == "rate_limit_error",
            ),
            ModelError::Stream { kind, .. } => {
                matches!(
                    kind.as_str(),
                    "overloaded_error" | "api_error" | "rate_limit_error"
                )
            }
            ModelError::Connection(_) => true,
            ModelError::Malformed(_) => false,
        }
    }

    /// HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ModelError::Http { status, .. } => Some(*status),
            ModelError::Stream { kind, .. } if kind == "overloaded_error" => Some(529),
            _ => None,
        }
    }

    /// The server-requested delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ModelError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Short error category for `system/api_retry.error` and assistant `error` fields.
    pub fn category(&self) -> &'static str {
        let kind = match self {
            ModelError::Http { kind, .. } | ModelError::Stream { kind, .. } => kind.as_str(),
            ModelError::Connection(_) => return "connection_error",
            ModelError::Malformed(_) => return "unknown",
        };
        match kind {
            "authentication_error" => "authentication_failed",
            "billing_error" | "permission_error" => "billing_error",
            "rate_limit_error" => "rate_limit",
            "overloaded_error" => "overloaded",
            "invalid_request_error" | "request_too_large" => "invalid_request",
            "not_found_error" => "model_not_found",
            "api_error" => "server_error",
            _ => "unknown",
        }
    }
}

/// A client for one provider.
#[derive(Debug, Clone)]
pub struct ModelClient {
    http: reqwest::Client,
    provider: Provider,
}

impl ModelClient {
    /// A client for `provider`.
    pub fn new(provider: Provider) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // Streams can be quiet for a long time while the model thinks; the read timeout is per read.
            .read_timeout(Duration::from_secs(600))
            .user_agent(concat!("workroom-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelError::Connection(e.to_string()))?;
        Ok(Self { http, provider })
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Sends one streaming request. HTTP-level failures come back here; mid-stream ones from the stream.
    pub async fn stream(&self, request: &MessagesRequest) -> Result<ModelStream, ModelError> {
        match &self.provider {
            Provider::Anthropic { base_url, auth } => {
                let mut builder = self
                    .http
                    .post(format!("{}/v1/messages", base_url.trim_end_matches('/')))
                    .header("anthropic-version", API_VERSION)
                    .header("content-type", "application/json")
                    .header("accept", "text/event-stream");
                builder = match auth {
                    Auth::ApiKey(key) => builder.header("x-api-key", key),
                    Auth::Bearer(token) => builder.bearer_auth(token),
                    Auth::None => builder,
                };
                let body = serde_json::to_vec(request)
                    .map_err(|e| ModelError::Malformed(e.to_string()))?;
                let response = send(builder.body(body)).await?;
                Ok(ModelStream {
                    body: Box::pin(response.bytes_stream()),
                    sse: SseParser::default(),
                    queue: Default::default(),
                    openai: None,
                    done: false,
                })
            }
            Provider::OpenAi { base_url, api_key } => {
                let chat = serde_json::to_vec(&openai::to_chat_request(request))
                    .map_err(|e| ModelError::Malformed(e.to_string()))?;
                let mut builder = self
                    .http
                    .post(format!(
                        "{}/chat/completions",
                        base_url.trim_end_matches('/')
                    ))
                    .header("content-type", "application/json")
                    .body(chat);
                if let Some(key) = api_key {
                    builder = builder.bearer_auth(key);
                }
                let response = send(builder).await?;
                Ok(ModelStream {
                    body: Box::pin(response.bytes_stream()),
                    sse: SseParser::default(),
                    queue: Default::default(),
                    openai: Some(openai::ChunkTranslator::new(&request.model)),
                    done: false,
                })
            }
        }
    }
}

async fn send(builder: reqwest::RequestBuilder) -> Result<reqwest::Response, ModelError> {
    let response = builder
        .send()
        .await
        .map_err(|e| ModelError::Connection(error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Err(http_error(status.as_u16(), &headers, &body))
}

fn http_error(status: u16, headers: &reqwest::header::HeaderMap, body: &str) -> ModelError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ms| Duration::from_millis(ms.max(0.0) as u64))
        .or_else(|| header("retry-after").and_then(retry::parse_retry_after));
    let should_retry = header("x-should-retry").and_then(|v| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    let (kind, message) = match serde_json::from_str::<ErrorEvent>(body) {
        Ok(e) => (e.error.kind, e.error.message),
        Err(_) => match serde_json::from_str::<serde_json::Value>(body) {
            // OpenAI-style `{"error":{"message":..,"type":..}}`.
            Ok(v) if v.pointer("/error/message").is_some() => (
                v.pointer("/error/type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("api_error")
                    .to_string(),
                v.pointer("/error/message")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string(),
            ),
            _ => ("api_error".into(), body.chars().take(500).collect()),
        },
    };
    ModelError::Http {
        status,
        kind,
        message,
        retry_after,
        should_retry,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// A response being streamed.
pub struct ModelStream {
    body: ByteStream,
    sse: SseParser,
    queue: std::collections::VecDeque<StreamEvent>,
    openai: Option<openai::ChunkTranslator>,
    done: bool,
}

impl ModelStream {
    /// The next event; `None` after `message_stop`. A stream that ends early is a `Connection` error.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                if matches!(event, StreamEvent::MessageStop(_)) {
                    self.done = true;
                }
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            match self.body.next().await {
                Some(Ok(bytes)) => {
                    for sse in self.sse.feed(&bytes) {
                        if let Err(e) = self.accept(sse) {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(ModelError::Connection(error_chain(&e))));
                }
                None => {
                    if let Some(sse) = self.sse.finish() {
                        if let Err(e) = self.accept(sse) {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                    if let Some(translator) = self.openai.as_mut() {
                        self.queue.extend(translator.finish_at_eof());
                    }
                    if self.queue.is_empty() {
                        self.done = true;
                        return Some(Err(ModelError::Connection(
                            "the stream ended before the response was complete".into(),
                        )));
                    }
                }
            }
        }
    }

    fn accept(&mut self, sse: sse::SseEvent) -> Result<(), ModelError> {
        if let Some(translator) = self.openai.as_mut() {
            self.queue.extend(translator.accept(&sse.data)?);
            return Ok(());
        }
        let event: StreamEvent = serde_json::from_str(&sse.data)
            .map_err(|e| ModelError::Malformed(format!("{e} in event {:?}", sse.event)))?;
        match event {
            StreamEvent::Error(e) => Err(ModelError::Stream {
                kind: e.error.kind,
                message: e.error.message,
            }),
            StreamEvent::Ping(_) => Ok(()),
            other => {
                self.queue.push_back(other);
                Ok(())
            }
        }
    }
}
