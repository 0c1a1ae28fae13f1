//! HTTP routing and request handling.
//!
//! Every request goes through one fallback handler instead of axum routes so that each one,
//! including unknown paths and malformed bodies, is recorded the same way before it is answered.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::ordered_json::Json as OrderedJson;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::log::{RecordedRequest, RequestLog};
use crate::message::{estimate_input_tokens, resolve, RequestInfo};
use crate::script::{status_for_error_type, HttpError, Reply, Script, Step};
use crate::select::{Dialect, LastTurn, Selector};
use crate::stream::{self, Faults};
use crate::{anthropic_sse, ids, openai_sse};

/// Bodies beyond this are refused like the real API's `request_too_large`.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// State shared by all connections of one server.
pub(crate) struct Shared {
    pub script: Script,
    pub selector: Mutex<Selector>,
    pub log: RequestLog,
    pub shutdown: CancellationToken,
}

/// Open connections get this long to finish after shutdown is requested before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves until `shared.shutdown` is cancelled, then lets open connections finish (briefly).
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let token = shared.shutdown.clone();
    let app = Router::new().fallback(handle).with_state(shared);
    // Without TCP_NODELAY a reply that spans several segments stalls ~40 ms on delayed ACKs.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(token.clone().cancelled_owned())
        .into_future();
    let overdue = async {
        token.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => {
            if let Err(err) = result {
                tracing::error!(%err, "server stopped with an error");
            }
        }
        () = overdue => tracing::warn!("connections still open after the grace period; cutting them"),
    }
}

fn header_map_to_record(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_owned())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// The body as the log shows it: parsed JSON, raw text, or null when empty.
fn body_for_record(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let route = request.uri().path().to_owned();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| route.clone(), |pq| pq.as_str().to_owned());
    let headers = header_map_to_record(request.headers());

    if method == Method::GET && route == "/_fake/requests" {
        return Json(shared.log.snapshot()).into_response();
    }

    let bytes = match to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(%err, %path, "cannot read request body");
            shared.log.push(RecordedRequest {
                method: method.to_string(),
                path,
                headers,
                body: Value::Null,
                served_by: None,
            });
            return anthropic_error(413, "request_too_large", &err.to_string(), None);
        }
    };
    let record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        headers,
        body: body_for_record(&bytes),
        served_by: None,
    };

    let dialect = match (&method, route.as_str()) {
        (&Method::POST, "/v1/messages") => Dialect::Anthropic,
        (&Method::POST, "/v1/chat/completions") => Dialect::OpenAi,
        (&Method::POST, "/v1/messages/count_tokens") => {
            shared.log.push(record);
            return count_tokens(&bytes);
        }
        _ => {
            tracing::info!(%method, %path, "unknown endpoint");
            shared.log.push(record);
            return anthropic_error(
                404,
                "not_found_error",
                &format!("Not found: {method} {route}"),
                None,
            );
        }
    };

    let body = match parse_model_request(dialect, &bytes) {
        Ok(body) => body,
        Err(message) => {
            tracing::info!(%path, %message, "rejecting malformed request");
            shared.log.push(record);
            return match dialect {
                Dialect::Anthropic => anthropic_error(400, "invalid_request_error", &message, None),
                Dialect::OpenAi => openai_error(400, &message, "invalid_request_error", None, None),
            };
        }
    };

    let turn = LastTurn::from_request(dialect, &body);
    let (step, served_by) = {
        let mut selector = shared
            .selector
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (step, served_by) = selector.select(&shared.script, &turn);
        // Logged under the selector lock so the log order matches the order steps were taken.
        shared.log.push(RecordedRequest {
            served_by: Some(served_by.clone()),
            ..record
        });
        (step.into_owned(), served_by)
    };
    tracing::info!(%path, %served_by, "model request");

    let info = RequestInfo {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        body_len: bytes.len(),
    };
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    match step {
        Step::Error(error) => scripted_error(dialect, &error),
        Step::Reply(reply) => {
            if reply.headers_delay_ms > 0 {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(reply.headers_delay_ms)) => {}
                    () = shared.shutdown.cancelled() => {}
                }
            }
            match dialect {
                Dialect::Anthropic => anthropic_reply(&shared, &reply, &info, streaming),
                Dialect::OpenAi => {
                    let include_usage = body
                        .pointer("/stream_options/include_usage")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    openai_reply(&shared, &reply, &info, streaming, include_usage)
                }
            }
        }
    }
}

/// Checks what the real services would refuse: not JSON, not an object, missing required fields.
fn parse_model_request(dialect: Dialect, bytes: &[u8]) -> Result<Value, String> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|err| format!("There was an error parsing the body: {err}"))?;
    let Some(object) = body.as_object() else {
        return Err("Input should be a valid dictionary or object".to_owned());
    };
    if !object.get("model").is_some_and(Value::is_string) {
        return Err("model: Field required".to_owned());
    }
    if !object.get("messages").is_some_and(Value::is_array) {
        return Err("messages: Field required".to_owned());
    }
    if dialect == Dialect::Anthropic && !object.get("max_tokens").is_some_and(Value::is_u64) {
        return Err("max_tokens: Field required".to_owned());
    }
    Ok(body)
}

fn count_tokens(bytes: &[u8]) -> Response {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(body) if body.is_object() => {
            Json(json!({"input_tokens": estimate_input_tokens(bytes.len())})).into_response()
        }
        Ok(_) => anthropic_error(
            400,
            "invalid_request_error",
            "Input should be a valid dictionary or object",
            None,
        ),
        Err(err) => anthropic_error(
            400,
            "invalid_request_error",
            &format!("There was an error parsing the body: {err}"),
            None,
        ),
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Adds scripted headers; names and values were checked when the script was validated.
fn add_headers(response: &mut Response, extra: Option<&BTreeMap<String, String>>) {
    for (name, value) in extra.into_iter().flatten() {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().insert(name, value);
            }
            _ => tracing::warn!(%name, "skipping an invalid scripted header"),
        }
    }
}

fn anthropic_error(
    code: u16,
    error_type: &str,
    message: &str,
    extra: Option<&BTreeMap<String, String>>,
) -> Response {
    let request_id = ids::request_id();
    let body = anthropic_sse::error_body(error_type, message, &request_id);
    let mut response = json_response(status(code), "request-id", &request_id, &body);
    add_headers(&mut response, extra);
    response
}

fn openai_error(
    code: u16,
    message: &str,
    error_type: &str,
    openai_code: Option<&str>,
    extra: Option<&BTreeMap<String, String>>,
) -> Response {
    let body = openai_sse::error_body(message, error_type, openai_code);
    let mut response = json_response(status(code), "x-request-id", &ids::request_id(), &body);
    add_headers(&mut response, extra);
    response
}

fn scripted_error(dialect: Dialect, error: &HttpError) -> Response {
    match dialect {
        Dialect::Anthropic => anthropic_error(
            error.status,
            error.effective_type(),
            &error.message,
            Some(&error.headers),
        ),
        Dialect::OpenAi => openai_error(
            error.status,
            &error.message,
            error.effective_type(),
            error.openai_code.as_deref(),
            Some(&error.headers),
        ),
    }
}

/// A JSON response whose body keeps the real services' key order.
fn json_response(
    code: StatusCode,
    request_id_header: &'static str,
    request_id: &str,
    body: &OrderedJson,
) -> Response {
    (
        code,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        [(request_id_header, header_value(request_id))],
        body.to_string(),
    )
        .into_response()
}

fn sse_response(request_id_header: &'static str, body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        [(request_id_header, header_value(&ids::request_id()))],
        body,
    )
        .into_response()
}

/// A JSON body that is cut off halfway, for `drop_after_events` on a non-streaming request.
fn truncated_json(shared: &Shared, request_id_header: &'static str, json_text: String) -> Response {
    let half = json_text.len() / 2;
    let half = (0..=half)
        .rev()
        .find(|i| json_text.is_char_boundary(*i))
        .unwrap_or(0);
    let frames = vec![json_text[..half].to_owned(), json_text[half..].to_owned()];
    let faults = Faults {
        drop_after: Some(1),
        ..Faults::default()
    };
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        [(request_id_header, header_value(&ids::request_id()))],
        stream::body(frames, faults, shared.shutdown.clone()),
    )
        .into_response()
}

fn anthropic_reply(
    shared: &Shared,
    reply: &Reply,
    info: &RequestInfo,
    streaming: bool,
) -> Response {
    let msg = resolve(reply, info, shared.script.text_chunk);
    if streaming {
        let faults = Faults {
            event_delay: Duration::from_millis(reply.event_delay_ms),
            drop_after: reply.drop_after_events,
            error_after: reply.error_after_events.as_ref().map(|e| {
                (
                    e.after,
                    anthropic_sse::error_event(&e.error_type, &e.message),
                )
            }),
        };
        let frames = anthropic_sse::stream_events(&msg);
        return sse_response(
            "request-id",
            stream::body(frames, faults, shared.shutdown.clone()),
        );
    }
    // Without a stream there is no "middle" to fail in: the error becomes the whole response.
    if let Some(error) = &reply.error_after_events {
        return anthropic_error(
            status_for_error_type(&error.error_type),
            &error.error_type,
            &error.message,
            None,
        );
    }
    let body = anthropic_sse::message_json(&msg);
    if reply.drop_after_events.is_some() {
        return truncated_json(shared, "request-id", body.to_string());
    }
    json_response(StatusCode::OK, "request-id", &ids::request_id(), &body)
}

fn openai_reply(
    shared: &Shared,
    reply: &Reply,
    info: &RequestInfo,
    streaming: bool,
    include_usage: bool,
) -> Response {
    let msg = resolve(reply, info, shared.script.text_chunk);
    if streaming {
        let faults = Faults {
            event_delay: Duration::from_millis(reply.event_delay_ms),
            drop_after: reply.drop_after_events,
            error_after: reply
                .error_after_events
                .as_ref()
                .map(|e| (e.after, openai_sse::error_frame(&e.message, &e.error_type))),
        };
        let frames = openai_sse::stream_chunks(&msg, include_usage);
        return sse_response(
            "x-request-id",
            stream::body(frames, faults, shared.shutdown.clone()),
        );
    }
    if let Some(error) = &reply.error_after_events {
        return openai_error(
            status_for_error_type(&error.error_type),
            &error.message,
            &error.error_type,
            None,
            None,
        );
    }
    let body = openai_sse::completion_json(&msg);
    if reply.drop_after_events.is_some() {
        return truncated_json(shared, "x-request-id", body.to_string());
    }
    json_response(StatusCode::OK, "x-request-id", &ids::request_id(), &body)
}
