//! End-to-end tests: a real server on loopback, real HTTP, the SSE parsed by hand.

use std::time::{Duration, Instant};

use fake_model::{
    Block, FakeModel, HttpError, MidStreamError, Reply, Rule, Script, Step, UsageSpec, When,
};
use serde_json::{json, Value};

/// One parsed SSE frame.
#[derive(Debug)]
struct Event {
    name: Option<String>,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("bad data {:?}: {e}", self.data))
    }
}

/// Splits an SSE body into frames, checking the framing is exactly `event: X\ndata: Y\n\n`.
fn parse_sse(body: &str) -> Vec<Event> {
    assert!(
        body.ends_with("\n\n"),
        "body must end with a blank line: {body:?}"
    );
    body.trim_end_matches('\n')
        .split("\n\n")
        .map(|frame| {
            let mut name = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(rest) = line.strip_prefix("event: ") {
                    assert!(name.is_none(), "two event lines in {frame:?}");
                    name = Some(rest.to_owned());
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    assert!(data.is_none(), "two data lines in {frame:?}");
                    data = Some(rest.to_owned());
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            Event {
                name,
                data: data.unwrap_or_else(|| panic!("no data in {frame:?}")),
            }
        })
        .collect()
}

fn names(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.name.as_deref().unwrap_or("-"))
        .collect()
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

async fn json_of(resp: reqwest::Response) -> Value {
    let bytes = resp.bytes().await.expect("body");
    serde_json::from_slice(&bytes).expect("json body")
}

fn messages_body(text: &str, stream: bool) -> Value {
    json!({
        "model": "claude-test-1",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
        "context_management": {"edits": []},
    })
}

fn sample_reply() -> Reply {
    Reply {
        content: vec![
            Block::Thinking {
                thinking: "Let me think about this.".into(),
                signature: Some("c2lnbmF0dXJl".into()),
            },
            Block::text("I'll run a command for you."),
            Block::ToolUse {
                id: Some("toolu_0123456789abcdef01234567".into()),
                name: "Bash".into(),
                input: json!({"command": "ls -la /tmp", "description": "List files"}),
            },
        ],
        usage: Some(UsageSpec {
            input_tokens: Some(100),
            output_tokens: Some(42),
            cache_read_input_tokens: Some(7),
            cache_creation_input_tokens: Some(3),
        }),
        ..Reply::default()
    }
}

#[tokio::test]
async fn anthropic_stream_has_the_exact_event_sequence() {
    let server = FakeModel::start(Script {
        text_chunk: 5,
        ..Script::with_steps([sample_reply().into()])
    })
    .unwrap();
    let resp = post(
        &format!("{}/v1/messages?beta=true", server.base_url()),
        &messages_body("hi", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert!(resp.headers()["request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let body = resp.text().await.unwrap();
    let events = parse_sse(&body);

    // Every data payload names its own type first, like the real service.
    for event in &events {
        let name = event.name.as_deref().unwrap();
        assert!(
            event.data.starts_with(&format!("{{\"type\":\"{name}\"")),
            "{}",
            event.data
        );
    }

    let n = names(&events);
    let thinking_deltas = "Let me think about this.".len().div_ceil(5);
    let text_deltas = "I'll run a command for you.".len().div_ceil(5);
    let input_text = json!({"command": "ls -la /tmp", "description": "List files"}).to_string();
    let json_deltas = input_text.len().div_ceil(5);
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(std::iter::repeat_n(
        "content_block_delta",
        thinking_deltas + 1,
    ));
    expected.extend(["content_block_stop", "content_block_start"]);
    expected.extend(std::iter::repeat_n("content_block_delta", text_deltas));
    expected.extend(["content_block_stop", "content_block_start"]);
    expected.extend(std::iter::repeat_n("content_block_delta", json_deltas + 1));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(n, expected);

    let start = events[0].json();
    assert_eq!(start["message"]["type"], "message");
    assert_eq!(start["message"]["role"], "assistant");
    assert_eq!(start["message"]["model"], "claude-test-1");
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert!(start["message"]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["message"]["usage"]["input_tokens"], 100);
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 7);
    assert_eq!(start["message"]["usage"]["cache_creation_input_tokens"], 3);
    assert_eq!(events[1].json(), json!({"type": "ping"}));

    // Reassemble each block from its deltas, as a client does.
    let json_events: Vec<Value> = events.iter().map(Event::json).collect();
    let block_events = |index: u64| -> Vec<&Value> {
        json_events.iter().filter(|e| e["index"] == index).collect()
    };

    let thinking = block_events(0);
    assert_eq!(
        thinking[0]["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    let deltas: Vec<&Value> = thinking[1..thinking.len() - 1]
        .iter()
        .map(|e| &e["delta"])
        .collect();
    let (signature, thoughts) = deltas.split_last().unwrap();
    assert_eq!(
        **signature,
        json!({"type": "signature_delta", "signature": "c2lnbmF0dXJl"})
    );
    let thought: String = thoughts
        .iter()
        .map(|d| {
            assert_eq!(d["type"], "thinking_delta");
            d["thinking"].as_str().unwrap()
        })
        .collect();
    assert_eq!(thought, "Let me think about this.");
    assert_eq!(
        *thinking.last().unwrap(),
        &json!({"type": "content_block_stop", "index": 0})
    );

    let text = block_events(1);
    assert_eq!(
        text[0]["content_block"],
        json!({"type": "text", "text": ""})
    );
    let said: String = text[1..text.len() - 1]
        .iter()
        .map(|e| {
            assert_eq!(e["delta"]["type"], "text_delta");
            let piece = e["delta"]["text"].as_str().unwrap();
            assert!(piece.chars().count() <= 5);
            piece
        })
        .collect();
    assert_eq!(said, "I'll run a command for you.");

    let tool = block_events(2);
    assert_eq!(
        tool[0]["content_block"],
        json!({"type": "tool_use", "id": "toolu_0123456789abcdef01234567", "name": "Bash", "input": {}})
    );
    assert_eq!(
        tool[1]["delta"],
        json!({"type": "input_json_delta", "partial_json": ""})
    );
    let fragments: Vec<&str> = tool[2..tool.len() - 1]
        .iter()
        .map(|e| {
            assert_eq!(e["delta"]["type"], "input_json_delta");
            e["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert!(
        fragments.len() > 1,
        "input must arrive in several fragments"
    );
    let input: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(
        input,
        json!({"command": "ls -la /tmp", "description": "List files"})
    );

    let n = json_events.len();
    assert_eq!(
        json_events[n - 2],
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 42}})
    );
    assert_eq!(json_events[n - 1], json!({"type": "message_stop"}));
    server.shutdown().await;
}

#[tokio::test]
async fn anthropic_non_streaming_returns_the_whole_message() {
    let server = FakeModel::start(Script::with_steps([sample_reply().into()])).unwrap();
    let resp = post(
        &format!("{}/v1/messages", server.base_url()),
        &messages_body("hi", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("request-id"));
    let mut message = json_of(resp).await;
    assert!(message["id"].as_str().unwrap().starts_with("msg_01"));
    message["id"] = json!("msg");
    assert_eq!(
        message,
        json!({
            "id": "msg", "type": "message", "role": "assistant", "model": "claude-test-1",
            "content": [
                {"type": "thinking", "thinking": "Let me think about this.", "signature": "c2lnbmF0dXJl"},
                {"type": "text", "text": "I'll run a command for you."},
                {"type": "tool_use", "id": "toolu_0123456789abcdef01234567", "name": "Bash",
                 "input": {"command": "ls -la /tmp", "description": "List files"}},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 100, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 42},
        })
    );
}

#[tokio::test]
async fn generated_ids_defaults_and_special_blocks() {
    let reply = Reply {
        content: vec![
            Block::RedactedThinking {
                data: "opaque==".into(),
            },
            Block::thinking("hmm"),
            Block::tool_use("Read", json!({})),
        ],
        model: Some("other-model".into()),
        ..Reply::default()
    };
    let server =
        FakeModel::start(Script::with_steps([reply.clone().into(), reply.into()])).unwrap();
    let url = format!("{}/v1/messages", server.base_url());
    let mut tool_ids = Vec::new();
    for _ in 0..2 {
        let body = post(&url, &messages_body("hi", true))
            .await
            .text()
            .await
            .unwrap();
        let events: Vec<Value> = parse_sse(&body).iter().map(Event::json).collect();
        assert_eq!(events[0]["message"]["model"], "other-model");
        assert_eq!(
            events[2],
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "redacted_thinking", "data": "opaque=="}})
        );
        assert_eq!(events[3], json!({"type": "content_block_stop", "index": 0}));
        let signature = events
            .iter()
            .find(|e| e["delta"]["type"] == "signature_delta")
            .unwrap()["delta"]["signature"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(signature.len() > 40);
        let tool_start = events
            .iter()
            .find(|e| e["content_block"]["type"] == "tool_use")
            .unwrap();
        let id = tool_start["content_block"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with("toolu_") && id.len() == 30, "{id}");
        tool_ids.push(id);
        // An empty input gets only the opening empty fragment.
        let fragments: Vec<&Value> = events
            .iter()
            .filter(|e| e["delta"]["type"] == "input_json_delta")
            .collect();
        assert_eq!(fragments.len(), 1);
        assert_eq!(fragments[0]["delta"]["partial_json"], "");
        let delta = events
            .iter()
            .find(|e| e["type"] == "message_delta")
            .unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    }
    assert_ne!(tool_ids[0], tool_ids[1], "generated ids are fresh per use");
}

#[tokio::test]
async fn http_error_then_success() {
    let error = HttpError {
        error_type: None,
        ..HttpError::new(429, "Number of request tokens has exceeded your rate limit")
            .with_header("retry-after", "1")
            .with_header("retry-after-ms", "50")
            .with_header("x-should-retry", "true")
    };
    let server = FakeModel::start(Script::with_steps([error.into(), Step::text("ok")])).unwrap();
    let url = format!("{}/v1/messages", server.base_url());
    let resp = post(&url, &messages_body("hi", true)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()["retry-after-ms"], "50");
    assert_eq!(resp.headers()["x-should-retry"], "true");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let request_id = resp.headers()["request-id"].to_str().unwrap().to_owned();
    let body = json_of(resp).await;
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "rate_limit_error",
            "message": "Number of request tokens has exceeded your rate limit"}, "request_id": request_id})
    );
    let resp = post(&url, &messages_body("hi", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["content"][0]["text"], "ok");
}

#[tokio::test]
async fn malformed_requests_get_400_and_do_not_use_a_step() {
    let server = FakeModel::start(Script::with_steps([Step::text("first")])).unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/messages", server.base_url());
    let resp = client.post(&url).body("{\"model\": ").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body = json_of(resp).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["request_id"].as_str().unwrap().starts_with("req_"));

    let resp = post(&url, &json!({"model": "m", "messages": []})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        json_of(resp).await["error"]["message"],
        "max_tokens: Field required"
    );

    let resp = post(&url, &messages_body("hi", false)).await;
    assert_eq!(json_of(resp).await["content"][0]["text"], "first");

    // The OpenAI endpoint answers in OpenAI's error shape.
    let resp = client
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = json_of(resp).await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].is_string());
    assert_eq!(body["error"]["code"], Value::Null);

    let served: Vec<Option<String>> = server.requests().into_iter().map(|r| r.served_by).collect();
    assert_eq!(served, vec![None, None, Some("steps[0]".into()), None]);
    assert_eq!(server.requests()[0].body, json!("{\"model\": "));
}

#[tokio::test]
async fn unknown_paths_404_and_count_tokens() {
    let server = FakeModel::start(Script::default()).unwrap();
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{}/v1/models", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body = json_of(resp).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "not_found_error");

    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(400)}]});
    let resp = post(
        &format!("{}/v1/messages/count_tokens", server.base_url()),
        &body,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let count = json_of(resp).await;
    assert!(count["input_tokens"].as_u64().unwrap() >= 100);
    assert_eq!(count.as_object().unwrap().len(), 1);

    // Neither request took a step: the next model request still gets the default.
    let resp = post(
        &format!("{}/v1/messages", server.base_url()),
        &messages_body("hi", false),
    )
    .await;
    let message = json_of(resp).await;
    assert_eq!(
        message["content"][0]["text"],
        "(fake-model: script exhausted)"
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn drop_after_events_cuts_the_connection() {
    let reply = Reply {
        drop_after_events: Some(3),
        ..Reply::new(vec![Block::text("this stream never finishes")])
    };
    let server =
        FakeModel::start(Script::with_steps([reply.clone().into(), reply.into()])).unwrap();
    let url = format!("{}/v1/messages", server.base_url());
    let mut resp = post(&url, &messages_body("hi", true)).await;
    assert_eq!(resp.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("stream ended cleanly; expected a dropped connection"),
            Err(err) => break err,
        }
    };
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
    let events = parse_sse(std::str::from_utf8(&received).unwrap());
    assert_eq!(
        names(&events),
        ["message_start", "ping", "content_block_start"]
    );

    // Non-streaming: the JSON body is cut off.
    let resp = post(&url, &messages_body("hi", false)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn error_after_events_sends_an_error_event() {
    let reply = Reply {
        error_after_events: Some(MidStreamError {
            after: 4,
            error_type: "overloaded_error".into(),
            message: "Overloaded".into(),
        }),
        ..Reply::new(vec![Block::text("partial answer that is long")])
    };
    let server =
        FakeModel::start(Script::with_steps([reply.clone().into(), reply.into()])).unwrap();
    let url = format!("{}/v1/messages", server.base_url());
    let resp = post(&url, &messages_body("hi", true)).await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(
        names(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        events[4].json(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );

    // Without streaming, the error becomes the HTTP response (529 for overloaded_error).
    let resp = post(&url, &messages_body("hi", false)).await;
    assert_eq!(resp.status(), 529);
    assert_eq!(json_of(resp).await["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn delays_slow_the_stream() {
    let reply = Reply {
        event_delay_ms: 20,
        headers_delay_ms: 150,
        ..Reply::new(vec![Block::text("abcdefgh")])
    };
    let server = FakeModel::start(Script {
        text_chunk: 4,
        ..Script::with_steps([reply.into()])
    })
    .unwrap();
    let started = Instant::now();
    let resp = post(
        &format!("{}/v1/messages", server.base_url()),
        &messages_body("hi", true),
    )
    .await;
    let headers_at = started.elapsed();
    assert!(headers_at >= Duration::from_millis(150), "{headers_at:?}");
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(events.len(), 8);
    let total = started.elapsed();
    // 7 gaps between 8 events.
    assert!(
        total - headers_at >= Duration::from_millis(7 * 20 - 10),
        "{total:?}"
    );
}

#[tokio::test]
async fn steps_then_rules_then_default() {
    let bash = Step::tool_use("Bash", json!({"command": "echo hi"}));
    let script = Script {
        steps: vec![Step::text("step zero")],
        rules: vec![
            Rule {
                when: When {
                    tool_result_contains: Some("FAIL".into()),
                    ..When::default()
                },
                reply: Step::text("saw failure"),
                times: None,
            },
            Rule {
                when: When {
                    last_is_tool_result: Some(true),
                    ..When::default()
                },
                reply: bash.clone(),
                times: Some(2),
            },
            Rule {
                when: When {
                    last_is_tool_result: Some(true),
                    ..When::default()
                },
                reply: Step::text("done"),
                times: None,
            },
            Rule {
                when: When {
                    last_user_text_contains: Some("start".into()),
                    ..When::default()
                },
                reply: bash,
                times: None,
            },
        ],
        ..Script::default()
    };
    let server = FakeModel::start(script).unwrap();
    let url = format!("{}/v1/messages", server.base_url());
    let ask = |messages: Value| {
        let url = url.clone();
        async move {
            let body = json!({"model": "m", "max_tokens": 10, "messages": messages});
            let message = json_of(post(&url, &body).await).await;
            let first = message["content"][0].clone();
            if first["type"] == "text" {
                first["text"].as_str().unwrap().to_owned()
            } else {
                format!("tool:{}", first["name"].as_str().unwrap())
            }
        }
    };
    let user = |text: &str| json!([{"role": "user", "content": text}]);
    let tool_result = |text: &str| {
        json!([
            {"role": "user", "content": "start"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": text}]}
        ])
    };
    assert_eq!(ask(user("start")).await, "step zero");
    assert_eq!(ask(user("please start now")).await, "tool:Bash");
    assert_eq!(ask(tool_result("ok")).await, "tool:Bash");
    assert_eq!(ask(tool_result("ok")).await, "tool:Bash");
    assert_eq!(ask(tool_result("ok")).await, "done", "rule 1 is used up");
    assert_eq!(ask(tool_result("FAIL: x")).await, "saw failure");
    assert_eq!(
        ask(user("unrelated")).await,
        "(fake-model: script exhausted)"
    );
    let served: Vec<String> = server
        .requests()
        .into_iter()
        .filter_map(|r| r.served_by)
        .collect();
    assert_eq!(
        served,
        ["steps[0]", "rules[3]", "rules[1]", "rules[1]", "rules[2]", "rules[0]", "default"]
    );
}

#[tokio::test]
async fn requests_are_recorded() {
    let server = FakeModel::start(Script::default()).unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/messages?beta=true", server.base_url()))
        .header("content-type", "application/json")
        .header("authorization", "Bearer tok")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "claude-code-20250219,unknown-beta-2099-01-01",
        )
        .header("X-Custom", "A")
        .body(messages_body("hello", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "unknown betas and body keys are ignored"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/messages?beta=true");
    assert_eq!(r.headers["authorization"], "Bearer tok");
    assert_eq!(r.headers["anthropic-version"], "2023-06-01");
    assert_eq!(r.headers["x-custom"], "A");
    assert_eq!(r.body, messages_body("hello", false));

    let listed = json_of(
        reqwest::get(format!("{}/_fake/requests", server.base_url()))
            .await
            .unwrap(),
    )
    .await;
    let listed: Vec<fake_model::RecordedRequest> = serde_json::from_value(listed).unwrap();
    assert_eq!(
        listed, requests,
        "the introspection endpoint is not itself logged"
    );
}

fn openai_body(stream: bool) -> Value {
    json!({
        "model": "local-model",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"}}}],
    })
}

#[tokio::test]
async fn openai_stream_chunks() {
    let reply = Reply {
        content: vec![
            Block::thinking("pondering"),
            Block::text("Running two commands."),
            Block::tool_use("Bash", json!({"command": "ls"})),
            Block::tool_use("Read", json!({"file_path": "/etc/hostname"})),
        ],
        usage: Some(UsageSpec {
            input_tokens: Some(10),
            output_tokens: Some(5),
            ..UsageSpec::default()
        }),
        ..Reply::default()
    };
    let quirky = Reply {
        openai_finish_reason: Some("stop".into()),
        ..reply.clone()
    };
    let server = FakeModel::start(Script {
        text_chunk: 6,
        ..Script::with_steps([reply.into(), quirky.into()])
    })
    .unwrap();
    let url = format!("{}/v1/chat/completions", server.base_url());
    let resp = post(&url, &openai_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let events = parse_sse(&resp.text().await.unwrap());
    assert!(events.iter().all(|e| e.name.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for chunk in &chunks {
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "local-model");
        assert!(chunk["created"].is_u64());
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])
    );

    let (usage, body) = chunks.split_last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    );
    let (last, body) = body.split_last().unwrap();
    assert_eq!(
        last["choices"],
        json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
    );

    // Accumulate the way OpenAI clients do.
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for chunk in &body[1..] {
        let choice = &chunk["choices"][0];
        assert_eq!(choice["finish_reason"], Value::Null);
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str() {
            text.push_str(t);
        }
        if let Some(t) = delta["reasoning_content"].as_str() {
            reasoning.push_str(t);
        }
        if let Some(tool_calls) = delta["tool_calls"].as_array() {
            assert_eq!(tool_calls.len(), 1);
            let call = &tool_calls[0];
            let index = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
            if index == calls.len() {
                assert!(call["id"].as_str().unwrap().starts_with("call_"));
                assert_eq!(call["type"], "function");
                assert_eq!(call["function"]["arguments"], "");
                calls.push((
                    call["id"].as_str().unwrap().to_owned(),
                    call["function"]["name"].as_str().unwrap().to_owned(),
                    String::new(),
                ));
            } else {
                assert_eq!(index, calls.len() - 1);
                assert!(call.get("id").is_none() && call["function"].get("name").is_none());
                calls[index]
                    .2
                    .push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
    }
    assert_eq!(text, "Running two commands.");
    assert_eq!(reasoning, "pondering");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, "Bash");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].2).unwrap(),
        json!({"command": "ls"})
    );
    assert_eq!(calls[1].1, "Read");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[1].2).unwrap(),
        json!({"file_path": "/etc/hostname"})
    );

    // The quirk: tool calls finished with `stop`, and no usage chunk when not asked for.
    let mut body = openai_body(true);
    body.as_object_mut().unwrap().remove("stream_options");
    let events = parse_sse(&post(&url, &body).await.text().await.unwrap());
    let last_chunk = events[events.len() - 2].json();
    assert_eq!(last_chunk["choices"][0]["finish_reason"], "stop");
    assert!(events.iter().all(|e| !e.data.contains("\"usage\"")));
}

#[tokio::test]
async fn openai_non_streaming_and_errors() {
    let server = FakeModel::start(Script::with_steps([
        Step::Error(HttpError {
            openai_code: Some("rate_limit_exceeded".into()),
            ..HttpError::new(429, "slow down").with_header("retry-after", "2")
        }),
        Reply {
            content: vec![Block::text("hi"), Block::tool_use("Bash", json!({"a": 1}))],
            openai_finish_reason: None,
            ..Reply::default()
        }
        .into(),
        Reply {
            content: vec![Block::text("x")],
            error_after_events: Some(MidStreamError {
                after: 1,
                error_type: "api_error".into(),
                message: "boom".into(),
            }),
            ..Reply::default()
        }
        .into(),
    ]))
    .unwrap();
    let url = format!("{}/v1/chat/completions", server.base_url());
    let resp = post(&url, &openai_body(false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(
        json_of(resp).await,
        json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
    );

    let completion = json_of(post(&url, &openai_body(false)).await).await;
    assert_eq!(completion["object"], "chat.completion");
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "hi");
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"]["name"],
        "Bash"
    );
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
    assert!(completion["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let events = parse_sse(&post(&url, &openai_body(true)).await.text().await.unwrap());
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].json(),
        json!({"error": {"message": "boom", "type": "api_error", "param": null, "code": null}})
    );
}

#[test]
fn script_json_round_trip_and_validation() {
    let text = r#"{
        "steps": [
            {"content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 5}},
            {"error": {"status": 529, "message": "Overloaded", "headers": {"x-should-retry": "true"}}},
            {"content": [{"type": "tool_use", "name": "Bash", "input": {"command": "ls"}}],
             "event_delay_ms": 5, "openai_finish_reason": "stop"}
        ],
        "rules": [{"when": {"last_is_tool_result": true}, "reply": {"content": [{"type": "text", "text": "done"}]}}],
        "text_chunk": 3
    }"#;
    let script = Script::from_json_str(text).unwrap();
    assert_eq!(script.steps.len(), 3);
    assert_eq!(script.text_chunk, 3);
    let again = Script::from_json_str(&serde_json::to_string(&script).unwrap()).unwrap();
    assert_eq!(again, script);

    let bad = |text: &str| match Script::from_json_str(text) {
        Ok(_) => panic!("accepted a bad script: {text}"),
        Err(err) => err.to_string(),
    };
    assert!(
        bad(r#"{"steps": [{"content": [], "stop_reson": "end_turn"}]}"#).contains("stop_reson")
    );
    assert!(
        bad(r#"{"steps": [{"content": [], "stop_reason": "done"}]}"#)
            .contains("steps[0].stop_reason")
    );
    assert!(bad(r#"{"steps": [{"error": {"status": 200}}]}"#).contains("steps[0].error.status"));
    assert!(bad(r#"{"steps": [{"content": [{"type": "image"}]}]}"#).contains("image"));
    assert!(
        bad(r#"{"steps": [{"content": [{"type": "tool_use", "name": "X", "input": [1]}]}]}"#)
            .contains("steps[0].content[0].input")
    );
    assert!(
        bad(r#"{"steps": [{"drop_after_events": 1, "error_after_events": {"after": 1}}]}"#)
            .contains("mutually exclusive")
    );
    assert!(
        bad(r#"{"rules": [{"when": {"sometimes": true}, "reply": {}}]}"#).contains("sometimes")
    );
    assert!(bad(r#"{"text_chunk": 0}"#).contains("text_chunk"));
    assert!(
        bad(r#"{"steps": [{"error": {"status": 429, "headers": {"bad header": "x"}}}]}"#)
            .contains("header")
    );
    assert!(bad("{").contains("parse"));
}

#[tokio::test]
async fn start_rejects_invalid_scripts_and_shutdown_frees_the_port() {
    let script = Script::with_steps([Step::Error(HttpError::new(200, "not an error"))]);
    assert!(matches!(
        FakeModel::start(script),
        Err(fake_model::Error::InvalidScript(_))
    ));

    // A slow stream must not hold up shutdown.
    let slow = Reply {
        event_delay_ms: 10_000,
        ..Reply::new(vec![Block::text("slow")])
    };
    let server = FakeModel::start(Script::with_steps([slow.into()])).unwrap();
    let addr = server.addr();
    let mut resp = post(
        &format!("{}/v1/messages", server.base_url()),
        &messages_body("hi", true),
    )
    .await;
    assert!(resp.chunk().await.unwrap().is_some());
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// A plain blocking test: no runtime of the caller's, and the caller blocks on I/O while the
/// server answers (as when a test runs an agent binary with `Command::output`).
#[test]
fn serves_blocking_callers_without_a_runtime() {
    use std::io::{Read, Write};

    let server = FakeModel::start(Script::with_steps([Step::text("blocking ok")])).unwrap();
    let body = messages_body("hi", false).to_string();
    let mut conn = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(
        conn,
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let (_, json_text) = response.split_once("\r\n\r\n").unwrap();
    let message: Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(message["content"][0]["text"], "blocking ok");

    let addr = server.addr();
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "port released by drop"
    );
}

#[tokio::test]
async fn binary_prints_its_url_and_logs_requests() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("script.json");
    let log_path = dir.path().join("requests.jsonl");
    std::fs::write(
        &script_path,
        json!({"steps": [{"content": [{"type": "text", "text": "from the binary"}]}]}).to_string(),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-model"))
        .arg("--script")
        .arg(&script_path)
        .arg("--log")
        .arg(&log_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));

    let message =
        json_of(post(&format!("{url}/v1/messages"), &messages_body("hi", false)).await).await;
    assert_eq!(message["content"][0]["text"], "from the binary");

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["path"], "/v1/messages");
    assert_eq!(lines[0]["headers"]["x-api-key"], "sk-test");
    assert_eq!(lines[0]["body"]["messages"][0]["content"], "hi");

    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");

    // A bad script is refused with a clear message and a failing exit code.
    std::fs::write(
        &script_path,
        r#"{"steps": [{"content": [], "stop_reason": "nope"}]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-model"))
        .arg("--script")
        .arg(&script_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("steps[0].stop_reason"));
}
