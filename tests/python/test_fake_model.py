"""Fidelity tests: the official `anthropic` and `openai` SDKs must accept fake-model's streams.

If a stream here parses with the vendors' own accumulators, a client that works against
fake-model is exercising the same wire format it will meet in production.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

MODEL = "claude-fake-1"
SIGNATURE = "EqQBCkgIBhABGAIiQHc2ZmFrZS1zaWduYXR1cmU="
TOOL_ID = "toolu_0123456789abcdef01234567"
TOOL_INPUT = {"command": "ls -la /tmp", "description": "List files", "timeout": 5000}

FULL_REPLY = {
    "content": [
        {"type": "thinking", "thinking": "The user wants a listing. I will use Bash.",
         "signature": SIGNATURE},
        {"type": "text", "text": "I'll list the files for you."},
        {"type": "tool_use", "id": TOOL_ID, "name": "Bash", "input": TOOL_INPUT},
    ],
    "usage": {"input_tokens": 120, "output_tokens": 45, "cache_read_input_tokens": 10,
              "cache_creation_input_tokens": 5},
}


def anthropic_client(server, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sk-test", **kwargs)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_sdk_stream_accumulates_text_tool_use_and_thinking(fake_model):
    server = fake_model({"steps": [FULL_REPLY], "text_chunk": 7})
    client = anthropic_client(server)

    event_types = []
    text_deltas = []
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=user("list files"),
                                thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        for event in stream:
            event_types.append(event.type)
            if event.type == "text":
                text_deltas.append(event.text)
        final = stream.get_final_message()

    assert "".join(text_deltas) == "I'll list the files for you."
    assert len(text_deltas) > 1, "text must arrive in several deltas"
    assert event_types[0] == "message_start"
    assert event_types[-1] == "message_stop"
    assert "input_json" in event_types and "thinking" in event_types and "signature" in event_types

    assert final.id.startswith("msg_")
    assert final.model == MODEL
    assert final.role == "assistant"
    assert final.stop_reason == "tool_use"
    assert final.stop_sequence is None
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = final.content
    assert thinking.thinking == FULL_REPLY["content"][0]["thinking"]
    assert thinking.signature == SIGNATURE
    assert text.text == "I'll list the files for you."
    assert tool.id == TOOL_ID
    assert tool.name == "Bash"
    assert tool.input == TOOL_INPUT, "parsed by the SDK's own partial-JSON accumulator"
    assert final.usage.input_tokens == 120
    assert final.usage.output_tokens == 45
    assert final.usage.cache_read_input_tokens == 10
    assert final.usage.cache_creation_input_tokens == 5

    # The final message, as the SDK serializes it, is the scripted content.
    dumped = final.model_dump(exclude_none=True)
    assert dumped["content"] == [
        {**block, "type": block["type"]} for block in FULL_REPLY["content"]
    ]

    [request] = server.model_requests()
    assert request["path"] == "/v1/messages"
    headers = request["headers"]
    # anthropic 2.x sends the key as a bearer token; older SDKs and the CLI use x-api-key.
    assert headers.get("x-api-key") == "sk-test" or headers.get("authorization") == "Bearer sk-test"
    assert headers["anthropic-version"]
    assert request["body"]["stream"] is True
    assert request["body"]["messages"] == user("list files")
    assert request["served_by"] == "steps[0]"


def test_sdk_stream_with_generated_ids_and_redacted_thinking(fake_model):
    server = fake_model({"steps": [{
        "content": [
            {"type": "redacted_thinking", "data": "b3BhcXVl"},
            {"type": "thinking", "thinking": "hmm"},
            {"type": "tool_use", "name": "Read", "input": {}},
            {"type": "tool_use", "name": "Bash", "input": {"command": "echo 'héllo ✓'"}},
        ],
    }]})
    with anthropic_client(server).messages.stream(model=MODEL, max_tokens=100,
                                                  messages=user("x")) as stream:
        final = stream.get_final_message()
    redacted, thinking, read, bash = final.content
    assert redacted.type == "redacted_thinking" and redacted.data == "b3BhcXVl"
    assert thinking.signature, "a default signature is generated"
    assert read.input == {}, "an input with no properties gets only the empty fragment"
    assert read.id.startswith("toolu_") and len(read.id) == len("toolu_") + 24
    assert bash.input == {"command": "echo 'héllo ✓'"}
    assert read.id != bash.id


def test_sdk_non_streaming_create(fake_model):
    server = fake_model({"steps": [FULL_REPLY]})
    message = anthropic_client(server).messages.create(model=MODEL, max_tokens=2048,
                                                       messages=user("list files"))
    assert message.stop_reason == "tool_use"
    assert message.content[0].signature == SIGNATURE
    assert message.content[2].input == TOOL_INPUT
    assert message.usage.output_tokens == 45
    assert server.model_requests()[0]["body"].get("stream") in (None, False)


def test_sdk_retries_429_using_retry_after_ms(fake_model):
    server = fake_model({"steps": [
        {"error": {"status": 429, "message": "rate limited",
                   "headers": {"retry-after-ms": "50", "retry-after": "1"}}},
        {"content": [{"type": "text", "text": "after retry"}]},
    ]})
    message = anthropic_client(server).messages.create(model=MODEL, max_tokens=10,
                                                       messages=user("hi"))
    assert message.content[0].text == "after retry"
    requests = server.model_requests()
    assert len(requests) == 2
    assert [r["served_by"] for r in requests] == ["steps[0]", "steps[1]"]
    assert requests[1]["headers"].get("x-stainless-retry-count") == "1"


def test_sdk_surfaces_http_errors_with_their_type(fake_model):
    server = fake_model({"steps": [
        {"error": {"status": 400, "message": "max_tokens: too large"}},
        {"error": {"status": 529, "headers": {"x-should-retry": "false"}}},
    ]})
    client = anthropic_client(server, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    assert bad.value.body["error"] == {"type": "invalid_request_error",
                                       "message": "max_tokens: too large"}
    assert bad.value.request_id.startswith("req_")
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"


def test_sdk_raises_on_mid_stream_error_event(fake_model):
    server = fake_model({"steps": [{
        "content": [{"type": "text", "text": "a partial answer that will be cut"}],
        "error_after_events": {"after": 4, "type": "overloaded_error", "message": "Overloaded"},
    }]})
    client = anthropic_client(server, max_retries=0)
    seen = []
    with pytest.raises(anthropic.APIStatusError) as err:
        with client.messages.stream(model=MODEL, max_tokens=10, messages=user("hi")) as stream:
            for event in stream:
                seen.append(event.type)
    assert "overloaded_error" in str(err.value)
    assert "message_stop" not in seen


def test_dropped_stream_is_a_connection_error(fake_model):
    server = fake_model({"steps": [{
        "content": [{"type": "text", "text": "never completes"}],
        "drop_after_events": 3,
    }]})
    client = anthropic_client(server, max_retries=0)
    seen = []
    with pytest.raises(Exception) as err:
        with client.messages.stream(model=MODEL, max_tokens=10, messages=user("hi")) as stream:
            for event in stream:
                seen.append(event.type)
    # The SDK reports the truncated body as a connection error (APIConnectionError, or the HTTP
    # library's own protocol error depending on where it is raised).
    assert isinstance(err.value, anthropic.APIConnectionError) or "incomplete chunked read" in str(err.value), repr(err.value)
    assert seen == ["message_start", "content_block_start"]


def test_rules_drive_an_agent_loop(fake_model):
    bash = {"content": [{"type": "tool_use", "name": "Bash", "input": {"command": "date"}}]}
    server = fake_model({
        "rules": [
            {"when": {"last_is_tool_result": True}, "times": 2, "reply": bash},
            {"when": {"last_is_tool_result": True},
             "reply": {"content": [{"type": "text", "text": "all done"}]}},
            {"when": {"last_user_text_contains": "go"}, "reply": bash},
        ],
    })
    client = anthropic_client(server)
    messages = user("go please")
    turns = 0
    while True:
        turns += 1
        with client.messages.stream(model=MODEL, max_tokens=100, messages=messages) as stream:
            reply = stream.get_final_message()
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                          for b in reply.content]})
        if reply.stop_reason != "tool_use":
            break
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": b.id, "content": "Mon Jan 1"}
            for b in reply.content if b.type == "tool_use"]})
        assert turns < 10
    assert turns == 4
    assert reply.content[0].text == "all done"
    assert [r["served_by"] for r in server.model_requests()] == [
        "rules[2]", "rules[0]", "rules[0]", "rules[1]"]


OPENAI_TOOLS = [{"type": "function", "function": {
    "name": "Bash", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}]


def test_openai_stream_accumulates_tool_calls(fake_model):
    reply = {
        "content": [
            {"type": "thinking", "thinking": "two calls needed"},
            {"type": "text", "text": "Running both."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "ls -la"}},
            {"type": "tool_use", "name": "Bash", "input": {"command": "cat /etc/hostname"}},
        ],
        "usage": {"input_tokens": 30, "output_tokens": 12},
    }
    server = fake_model({"steps": [reply, reply], "text_chunk": 5})
    client = openai.OpenAI(base_url=server.openai_url, api_key="x", max_retries=0)

    stream = client.chat.completions.create(
        model="local-model", messages=[{"role": "user", "content": "go"}], tools=OPENAI_TOOLS,
        stream=True, stream_options={"include_usage": True})
    content, reasoning, calls, finish, usage = "", "", {}, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        delta = choice.delta
        content += delta.content or ""
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        for call in delta.tool_calls or []:
            slot = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
            if call.id:
                slot["id"] = call.id
            if call.function and call.function.name:
                slot["name"] = call.function.name
            if call.function and call.function.arguments:
                slot["arguments"] += call.function.arguments
        if choice.finish_reason:
            finish = choice.finish_reason
    assert content == "Running both."
    assert reasoning == "two calls needed"
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert all(c["id"].startswith("call_") and c["name"] == "Bash" for c in calls.values())
    assert json.loads(calls[0]["arguments"]) == {"command": "ls -la"}
    assert json.loads(calls[1]["arguments"]) == {"command": "cat /etc/hostname"}
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (30, 12, 42)

    # The SDK's own accumulator agrees.
    with client.chat.completions.stream(model="local-model", tools=OPENAI_TOOLS,
                                        messages=[{"role": "user", "content": "go"}]) as s:
        completion = s.get_final_completion()
    message = completion.choices[0].message
    assert message.content == "Running both."
    assert [json.loads(c.function.arguments) for c in message.tool_calls] == [
        {"command": "ls -la"}, {"command": "cat /etc/hostname"}]
    assert completion.choices[0].finish_reason == "tool_calls"

    [first, _] = server.model_requests()
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["authorization"] == "Bearer x"
    assert first["body"]["stream_options"] == {"include_usage": True}


def test_openai_finish_reason_quirk_and_errors(fake_model):
    server = fake_model({"steps": [
        {"content": [{"type": "tool_use", "name": "Bash", "input": {"command": "ls"}}],
         "openai_finish_reason": "stop"},
        {"error": {"status": 429, "message": "slow down", "openai_code": "rate_limit_exceeded"}},
        {"content": [{"type": "text", "text": "plain"}]},
        {"content": [{"type": "text", "text": "cut short"}],
         "error_after_events": {"after": 2, "type": "api_error", "message": "boom"}},
    ]})
    client = openai.OpenAI(base_url=server.openai_url, api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert any(c.choices[0].delta.tool_calls for c in chunks if c.choices)

    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert err.value.code == "rate_limit_exceeded"

    completion = client.chat.completions.create(model="m",
                                                messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "plain"
    assert completion.choices[0].finish_reason == "stop"

    with pytest.raises(openai.APIError, match="boom"):
        for _ in client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True):
            pass
