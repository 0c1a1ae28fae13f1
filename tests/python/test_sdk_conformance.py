"""Conformance: the official Claude Agent SDK (Python, 0.2.189) drives `workroom-agent` as it drives
the real `claude` CLI.

Every test scripts `fake-model` (the model server), runs the agent through the SDK's public API
(`query()`, `ClaudeSDKClient`, `can_use_tool`, hooks, ...) and checks four things:

- the messages the SDK parsed (types from `claude_agent_sdk`),
- the callbacks that fired,
- the files that changed in the agent's working folder,
- the requests the model server received.

The contract is /work/shared/docs/claude-code-wire-protocol.md (sections 1-5 and 9). Behaviour marked
[captured] there is what the real CLI 2.1.332 did, and is asserted here as is.

The frames exchanged with the agent are recorded (the SDK's subprocess transport is wrapped, nothing
else changes) and printed with the agent's stderr when an assertion fails.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import anyio
import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeSDKClient,
    ClaudeSDKError,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolPermissionContext,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from agent import AgentLog, agent_env, agent_options, ensure_agent_binary, workdir
from fake_model import FakeServer

pytestmark = pytest.mark.anyio

#: Upper bound for one SDK interaction; every test is expected to take well under it.
TIMEOUT = 30
SDK_PROMPT = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
MODEL = "claude-sonnet-4-5"
SIGNATURE = "EqQBCkgIBhABGAIiQHc2ZmFrZS1zaWduYXR1cmU="


def tool_id(n: int) -> str:
    return f"toolu_{n:024x}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------------------
# Recording the wire


@dataclass
class Wire:
    """Everything that crossed the SDK/agent boundary, in order.

    Entries: ("argv", [..]), ("in", frame) (SDK → agent stdin), ("eof", None) (stdin closed),
    ("out", frame) (agent stdout → SDK), ("exit", code).
    """

    events: list[tuple[str, Any]] = field(default_factory=list)

    def sent(self) -> list[dict[str, Any]]:
        return [f for kind, f in self.events if kind == "in"]

    def received(self) -> list[dict[str, Any]]:
        return [f for kind, f in self.events if kind == "out"]

    def index(self, pred: Callable[[str, Any], bool]) -> int:
        for i, (kind, frame) in enumerate(self.events):
            if pred(kind, frame):
                return i
        return -1

    def control_requests_from_agent(self, subtype: str) -> list[dict[str, Any]]:
        return [f["request"] | {"request_id": f["request_id"]} for f in self.received()
                if f.get("type") == "control_request" and f["request"].get("subtype") == subtype]

    def dump(self, limit: int = 120) -> str:
        lines = []
        for kind, frame in self.events:
            text = json.dumps(frame) if not isinstance(frame, str) else frame
            if len(text) > 400:
                text = text[:400] + "…"
            lines.append(f"{kind:>4} {text}")
        if len(lines) > limit:
            lines = [f"... {len(lines) - limit} earlier entries ..."] + lines[-limit:]
        return "\n".join(lines)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    """Wraps the SDK's subprocess transport to record argv, stdin frames, stdin EOF, stdout frames
    and the exit code. Behaviour is unchanged."""
    recorded = Wire()
    build = SubprocessCLITransport._build_command
    write = SubprocessCLITransport.write
    end_input = SubprocessCLITransport.end_input
    read = SubprocessCLITransport.read_messages

    def _build_command(self: SubprocessCLITransport) -> list[str]:
        argv = build(self)
        recorded.events.append(("argv", argv))
        return argv

    async def _write(self: SubprocessCLITransport, data: str) -> None:
        for line in data.splitlines():
            if line.strip():
                try:
                    recorded.events.append(("in", json.loads(line)))
                except json.JSONDecodeError:
                    recorded.events.append(("in", line))
        await write(self, data)

    async def _end_input(self: SubprocessCLITransport) -> None:
        if self._stdin_stream is not None:  # only the first close counts
            recorded.events.append(("eof", None))
        await end_input(self)

    def _read_messages(self: SubprocessCLITransport) -> AsyncIterator[dict[str, Any]]:
        async def gen() -> AsyncIterator[dict[str, Any]]:
            try:
                async for frame in read(self):
                    recorded.events.append(("out", frame))
                    yield frame
            finally:
                process = getattr(self, "_process", None)
                if process is not None and process.returncode is not None:
                    recorded.events.append(("exit", process.returncode))
        return gen()

    monkeypatch.setattr(SubprocessCLITransport, "_build_command", _build_command)
    monkeypatch.setattr(SubprocessCLITransport, "write", _write)
    monkeypatch.setattr(SubprocessCLITransport, "end_input", _end_input)
    monkeypatch.setattr(SubprocessCLITransport, "read_messages", _read_messages)
    return recorded


# --------------------------------------------------------------------------------------------------
# One agent + model per test


@dataclass
class Rig:
    server: FakeServer
    tmp_path: Path
    wire: Wire
    log: AgentLog

    @property
    def work(self) -> Path:
        return workdir(self.tmp_path)

    def options(self, **kwargs: Any) -> Any:
        kwargs.setdefault("model", MODEL)
        return agent_options(self.server, self.tmp_path, log=self.log, **kwargs)

    def requests(self) -> list[dict[str, Any]]:
        return self.server.model_requests()

    def why(self) -> str:
        """Context for assertion messages: the wire log, the agent's and the server's stderr."""
        return (f"\n--- wire (SDK <-> agent) ---\n{self.wire.dump()}"
                f"\n--- agent stderr (tail) ---\n{self.log.text()[-3000:]}"
                f"\n--- fake-model requests served_by ---\n"
                f"{[r.get('served_by') for r in self.requests()]}")


@pytest.fixture
def rig(fake_model: Callable[..., FakeServer], tmp_path: Path, wire: Wire) -> Callable[[dict], Rig]:
    ensure_agent_binary()

    def start(script: dict[str, Any]) -> Rig:
        return Rig(fake_model(script), tmp_path, wire, AgentLog())

    return start


async def run_query(prompt: str, options: Any) -> tuple[list[Any], BaseException | None]:
    """All messages of a one-shot `query()`, and the SDK exception that ended it, if any."""
    messages: list[Any] = []
    try:
        with anyio.fail_after(TIMEOUT):
            async for message in query(prompt=prompt, options=options):
                messages.append(message)
    except ClaudeSDKError as e:
        return messages, e
    return messages, None


async def receive_turn(client: ClaudeSDKClient, on_message: Callable[[Any], Any] | None = None) -> list[Any]:
    """Messages up to and including the next ResultMessage."""
    messages: list[Any] = []
    with anyio.fail_after(TIMEOUT):
        async for message in client.receive_response():
            messages.append(message)
            if on_message is not None:
                result = on_message(message)
                if hasattr(result, "__await__"):
                    await result
    return messages


# --------------------------------------------------------------------------------------------------
# Message helpers


def of_type(messages: list[Any], cls: type) -> list[Any]:
    return [m for m in messages if isinstance(m, cls)]


def init_of(messages: list[Any]) -> SystemMessage:
    inits = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "init"]
    assert inits, f"no system/init message in {messages!r}"
    return inits[0]


def single_result(messages: list[Any]) -> ResultMessage:
    results = of_type(messages, ResultMessage)
    assert len(results) == 1, f"expected exactly one ResultMessage, got {len(results)}"
    assert messages[-1] is results[0], "the ResultMessage must be the last message of the turn"
    return results[0]


def blocks(messages: list[Any], cls: type) -> list[Any]:
    found = []
    for m in messages:
        if isinstance(m, (AssistantMessage, UserMessage)) and isinstance(m.content, list):
            found.extend(b for b in m.content if isinstance(b, cls))
    return found


def result_text(block: ToolResultBlock) -> str:
    content = block.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def tool_result_for(messages: list[Any], tid: str) -> tuple[UserMessage, ToolResultBlock]:
    for m in of_type(messages, UserMessage):
        if isinstance(m.content, list):
            for b in m.content:
                if isinstance(b, ToolResultBlock) and b.tool_use_id == tid:
                    return m, b
    raise AssertionError(f"no tool_result for {tid}")


def upstream_tool_result(request: dict[str, Any], tid: str) -> dict[str, Any]:
    """The tool_result block for `tid` in the last message of a model request."""
    last = request["body"]["messages"][-1]
    assert last["role"] == "user", last
    content = last["content"] if isinstance(last["content"], list) else []
    for b in content:
        if b.get("type") == "tool_result" and b.get("tool_use_id") == tid:
            return b
    raise AssertionError(f"no tool_result for {tid} in the last message: {last}")


def upstream_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def text_step(text: str, **extra: Any) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], **extra}


def tool_step(tid: str, name: str, tool_input: dict[str, Any], text: str | None = None,
              **extra: Any) -> dict[str, Any]:
    content = [] if text is None else [{"type": "text", "text": text}]
    content.append({"type": "tool_use", "id": tid, "name": name, "input": tool_input})
    return {"content": content, **extra}


class PermissionRecorder:
    """A `can_use_tool` callback that records its calls and answers with `answer(name, input)`."""

    def __init__(self, answer: Callable[[str, dict[str, Any]], Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], ToolPermissionContext]] = []
        self.answer = answer or (lambda name, tool_input: PermissionResultAllow())

    async def __call__(self, name: str, tool_input: dict[str, Any],
                       context: ToolPermissionContext) -> Any:
        self.calls.append((name, tool_input, context))
        return self.answer(name, tool_input)


# --------------------------------------------------------------------------------------------------
# 0. Launch basics


def test_version_flag_answers_like_claude(tmp_path: Path) -> None:
    """Older SDKs run `<cli> -v` and parse `X.Y.Z` from the start of stdout (section 1.4)."""
    out = subprocess.run([str(ensure_agent_binary()), "-v"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert out.strip() == "2.1.332 (Claude Code)"


# --------------------------------------------------------------------------------------------------
# 1. One-shot query(), acceptEdits, stdin closed right after the prompt


async def test_one_shot_query_writes_file_in_accept_edits(rig, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="claude_agent_sdk")
    target = workdir(tmp_path) / "hello.txt"
    r = rig({"steps": [
        # The reply starts late, so stdin is certainly closed while the turn is running.
        tool_step(tool_id(1), "Write", {"file_path": str(target), "content": "hi\n"},
                  text="I'll write the file.", headers_delay_ms=300,
                  usage={"input_tokens": 100, "output_tokens": 20}),
        text_step("Wrote hello.txt.", usage={"input_tokens": 150, "output_tokens": 10}),
    ]})

    messages, error = await run_query("please write hello.txt", r.options(permission_mode="acceptEdits"))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"

    # -- the file
    assert target.read_text() == "hi\n", why

    # -- stdin was closed before the turn produced anything, and the turn still completed
    eof = r.wire.index(lambda k, f: k == "eof")
    first_assistant = r.wire.index(lambda k, f: k == "out" and f.get("type") == "assistant")
    assert 0 <= eof < first_assistant, f"stdin should close before the model answered{why}"
    assert ("exit", 0) in r.wire.events, f"the agent must exit 0 after a successful turn{why}"

    # -- system/init first, with what the SDK documents
    assert isinstance(messages[0], SystemMessage) and messages[0].subtype == "init", why
    init = messages[0].data
    session_id = init["session_id"]
    assert session_id and isinstance(session_id, str)
    assert init["claude_code_version"] == "2.1.332"
    assert init["cwd"] == str(r.work)
    assert {"Bash", "Read", "Write", "Edit"} <= set(init["tools"]), init["tools"]
    assert init["permissionMode"] == "acceptEdits"
    assert init["model"] == MODEL
    assert init["apiKeySource"] == "ANTHROPIC_API_KEY"
    assert init["mcp_servers"] == []
    assert init.get("uuid")
    for key in ("slash_commands", "output_style", "skills", "plugins"):
        assert key in init, f"system/init lacks {key}"
    assert not [rec for rec in caplog.records if "too old" in rec.getMessage()], \
        "the SDK warned about the CLI version"

    # -- assistant: text and tool_use, model and ids
    assistants = of_type(messages, AssistantMessage)
    assert [type(b) for m in assistants for b in m.content] == [TextBlock, ToolUseBlock, TextBlock], why
    use = blocks(messages, ToolUseBlock)[0]
    assert (use.id, use.name, use.input) == (tool_id(1), "Write", {"file_path": str(target), "content": "hi\n"})
    for m in assistants:
        assert m.model == MODEL
        assert m.session_id == session_id
        assert m.message_id and m.message_id.startswith("msg_")
        assert m.parent_tool_use_id is None
    # Blocks of one API response share the message id (one frame per block).
    assert assistants[0].message_id == assistants[1].message_id != assistants[2].message_id

    # -- the tool_result echoed back as a user message
    user, result_block = tool_result_for(messages, tool_id(1))
    assert not result_block.is_error
    assert "File created successfully at: " in result_text(result_block)
    assert isinstance(user.tool_use_result, dict), user.tool_use_result
    assert user.tool_use_result.get("type") == "create"
    assert user.tool_use_result.get("filePath") == str(target)
    assert user.tool_use_result.get("content") == "hi\n"

    # -- the result
    result = single_result(messages)
    assert result.subtype == "success" and result.is_error is False
    assert result.num_turns == 2
    assert result.result == "Wrote hello.txt."
    assert result.session_id == session_id
    assert result.stop_reason == "end_turn"
    assert isinstance(result.total_cost_usd, float) and result.total_cost_usd > 0
    assert result.usage["input_tokens"] == 250 and result.usage["output_tokens"] == 30, result.usage
    assert result.permission_denials == []
    assert result.duration_ms >= result.duration_api_ms >= 0
    assert result.uuid

    # -- what the model server saw
    requests = r.requests()
    assert len(requests) == 2, why
    for req in requests:
        assert req["headers"].get("x-api-key") == "sk-test"
        assert req["headers"].get("anthropic-version") == "2023-06-01"
        body = req["body"]
        assert body["model"] == MODEL and body["stream"] is True and body["max_tokens"] > 0
        names = {t["name"] for t in body["tools"]}
        assert {"Bash", "Read", "Write", "Edit"} <= names, names
        assert all("input_schema" in t for t in body["tools"])
        # System prompt: `--system-prompt ""` means the SDK's one-line prompt.
        system = body["system"]
        assert isinstance(system, list) and system, system
        assert any(b["text"].startswith(SDK_PROMPT) for b in system), system
        assert system[-1].get("cache_control") == {"type": "ephemeral"}, system
        # Moving breakpoint: the last block of the last message; at most 4 breakpoints in all.
        last_block = body["messages"][-1]["content"][-1]
        assert last_block.get("cache_control") == {"type": "ephemeral"}, body["messages"][-1]
        marks = json.dumps(body).count('"cache_control"')
        assert marks <= 4, f"{marks} cache_control breakpoints (the API allows 4)"
    first, second = (req["body"]["messages"] for req in requests)
    assert [m["role"] for m in first] == ["user"]
    assert "please write hello.txt" in json.dumps(first[0]["content"])
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    # The split assistant frames are merged back into one assistant message upstream.
    assert [b["type"] for b in second[1]["content"]] == ["text", "tool_use"], second[1]
    assert second[1]["content"][1]["id"] == tool_id(1)
    sent = upstream_tool_result(requests[1], tool_id(1))
    assert sent.get("is_error") in (None, False)
    assert "File created successfully at: " in upstream_text(sent)


# --------------------------------------------------------------------------------------------------
# 2. can_use_tool


def _write_script(target: Path, content: str) -> dict[str, Any]:
    return {"steps": [
        tool_step(tool_id(2), "Write", {"file_path": str(target), "content": content}),
        text_step("Finished."),
    ]}


async def test_can_use_tool_allow_runs_the_tool(rig, tmp_path) -> None:
    target = workdir(tmp_path) / "allowed.txt"
    r = rig(_write_script(target, "allowed\n"))
    permissions = PermissionRecorder()

    messages, error = await run_query("write it", r.options(can_use_tool=permissions))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert target.read_text() == "allowed\n", why

    assert len(permissions.calls) == 1, why
    name, tool_input, context = permissions.calls[0]
    assert name == "Write"
    assert tool_input == {"file_path": str(target), "content": "allowed\n"}
    assert context.tool_use_id == tool_id(2)
    # The request on the wire, as the SDK types describe it.
    (request,) = r.wire.control_requests_from_agent("can_use_tool")
    assert request["tool_use_id"] == tool_id(2)
    assert isinstance(request.get("permission_suggestions", []), list)

    _, block = tool_result_for(messages, tool_id(2))
    assert not block.is_error
    result = single_result(messages)
    assert result.subtype == "success" and not result.is_error
    assert result.permission_denials == []


async def test_can_use_tool_deny_with_message(rig, tmp_path) -> None:
    target = workdir(tmp_path) / "denied.txt"
    r = rig(_write_script(target, "nope\n"))
    permissions = PermissionRecorder(lambda name, i: PermissionResultDeny(message="User said no"))

    messages, error = await run_query("write it", r.options(can_use_tool=permissions))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert len(permissions.calls) == 1, why
    assert not target.exists(), "a denied Write must not touch the disk"

    _, block = tool_result_for(messages, tool_id(2))
    assert block.is_error is True
    assert result_text(block) == "User said no", why

    sent = upstream_tool_result(r.requests()[1], tool_id(2))
    assert sent.get("is_error") is True
    assert upstream_text(sent).startswith("User said no")

    result = single_result(messages)
    assert result.subtype == "success" and not result.is_error
    assert result.result == "Finished."
    assert result.permission_denials == [{
        "tool_name": "Write",
        "tool_use_id": tool_id(2),
        "tool_input": {"file_path": str(target), "content": "nope\n"},
    }], why


async def test_can_use_tool_allow_with_updated_input(rig, tmp_path) -> None:
    target = workdir(tmp_path) / "updated.txt"
    r = rig(_write_script(target, "original\n"))
    permissions = PermissionRecorder(lambda name, i: PermissionResultAllow(
        updated_input={**i, "content": "changed by the host\n"}))

    messages, error = await run_query("write it", r.options(can_use_tool=permissions))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert len(permissions.calls) == 1, why
    assert target.read_text() == "changed by the host\n", "the updated input is what must run"

    user, block = tool_result_for(messages, tool_id(2))
    assert not block.is_error
    if isinstance(user.tool_use_result, dict):
        assert user.tool_use_result.get("content") == "changed by the host\n"
    assert single_result(messages).subtype == "success"


# --------------------------------------------------------------------------------------------------
# 3. ClaudeSDKClient: multi-turn, set_permission_mode, set_model, interrupt


async def test_client_two_turns_share_one_session(rig) -> None:
    r = rig({"steps": [text_step("first answer"), text_step("second answer")]})
    async with ClaudeSDKClient(r.options()) as client:
        await client.query("first question")
        turn1 = await receive_turn(client)
        await client.query("second question")
        turn2 = await receive_turn(client)
    why = r.why()

    result1, result2 = single_result(turn1), single_result(turn2)
    assert (result1.subtype, result1.is_error, result1.result) == ("success", False, "first answer"), why
    assert (result2.subtype, result2.is_error, result2.result) == ("success", False, "second answer"), why
    assert result1.num_turns == result2.num_turns == 1
    session_id = init_of(turn1).data["session_id"]
    # The SDK sends session_id "default"; the agent ignores it and uses its own UUID.
    assert session_id != "default" and len(session_id) == 36 and session_id.count("-") == 4, session_id
    assert result1.session_id == result2.session_id == session_id
    # 2.1.332 starts every turn with a fresh system/init, same session.
    assert init_of(turn2).data["session_id"] == session_id

    requests = r.requests()
    assert len(requests) == 2, why
    history = requests[1]["body"]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"], history
    assert "first question" in json.dumps(history[0]["content"])
    assert "first answer" in json.dumps(history[1]["content"])
    assert "second question" in json.dumps(history[2]["content"])


async def test_client_set_permission_mode_accept_edits_skips_the_prompt(rig, tmp_path) -> None:
    work = workdir(tmp_path)
    a, b = work / "a.txt", work / "b.txt"
    r = rig({"steps": [
        tool_step(tool_id(3), "Write", {"file_path": str(a), "content": "a\n"}),
        text_step("wrote a"),
        tool_step(tool_id(4), "Write", {"file_path": str(b), "content": "b\n"}),
        text_step("wrote b"),
    ]})
    permissions = PermissionRecorder()
    async with ClaudeSDKClient(r.options(can_use_tool=permissions)) as client:
        await client.query("write a")
        turn1 = await receive_turn(client)
        assert [c[0] for c in permissions.calls] == ["Write"], r.why()
        await client.set_permission_mode("acceptEdits")
        await client.query("write b")
        turn2 = await receive_turn(client)
    why = r.why()

    assert single_result(turn1).subtype == "success", why
    assert single_result(turn2).subtype == "success", why
    assert a.read_text() == "a\n" and b.read_text() == "b\n", why
    assert len(permissions.calls) == 1, f"can_use_tool must not be asked in acceptEdits{why}"
    assert init_of(turn2).data["permissionMode"] == "acceptEdits"
    # The control_response to set_permission_mode was a success.
    mode_request = next(f for f in r.wire.sent() if f.get("type") == "control_request"
                        and f["request"]["subtype"] == "set_permission_mode")
    answer = next(f for f in r.wire.received() if f.get("type") == "control_response"
                  and f["response"].get("request_id") == mode_request["request_id"])
    assert answer["response"]["subtype"] == "success", answer


async def test_client_set_model_changes_the_next_request(rig) -> None:
    r = rig({"steps": [text_step("from sonnet"), text_step("from opus")]})
    async with ClaudeSDKClient(r.options(model="claude-sonnet-4-5")) as client:
        await client.query("one")
        turn1 = await receive_turn(client)
        await client.set_model("claude-opus-4-1")
        await client.query("two")
        turn2 = await receive_turn(client)
    why = r.why()

    assert single_result(turn1).subtype == "success" and single_result(turn2).subtype == "success", why
    models = [req["body"]["model"] for req in r.requests()]
    assert models == ["claude-sonnet-4-5", "claude-opus-4-1"], why
    assert of_type(turn2, AssistantMessage)[0].model == "claude-opus-4-1"
    assert init_of(turn2).data["model"] == "claude-opus-4-1"


async def test_client_interrupt_during_slow_stream_then_continue(rig) -> None:
    slow_text = "This answer streams very slowly. " * 12  # ~100 deltas x 100 ms = 10 s
    r = rig({"steps": [
        text_step(slow_text, event_delay_ms=100, text_chunk=4),
        text_step("after the interrupt"),
    ]})
    async with ClaudeSDKClient(r.options(include_partial_messages=True)) as client:
        await client.query("tell me a long story")
        started = time.monotonic()
        interrupted_at: list[float] = []

        async def on_message(message: Any) -> None:
            if (not interrupted_at and isinstance(message, StreamEvent)
                    and message.event.get("type") == "content_block_delta"):
                interrupted_at.append(time.monotonic())
                await client.interrupt()

        turn1 = await receive_turn(client, on_message)
        elapsed = time.monotonic() - started
        await client.query("continue please")
        turn2 = await receive_turn(client)
    why = r.why()

    assert interrupted_at, f"no content_block_delta stream event arrived{why}"
    result1 = single_result(turn1)
    assert result1.is_error is True, why
    assert result1.subtype == "error_during_execution", why
    assert elapsed < 5, f"the interrupt took effect after {elapsed:.1f}s (the stream lasts 10s)"
    markers = [b.text for m in of_type(turn1, UserMessage) if isinstance(m.content, list)
               for b in m.content if isinstance(b, TextBlock)]
    assert "[Request interrupted by user]" in markers, why

    # The interrupt's own control_response was a success.
    interrupt = next(f for f in r.wire.sent() if f.get("type") == "control_request"
                     and f["request"]["subtype"] == "interrupt")
    answer = next(f for f in r.wire.received() if f.get("type") == "control_response"
                  and f["response"].get("request_id") == interrupt["request_id"])
    assert answer["response"]["subtype"] == "success", answer

    # The session stays usable.
    result2 = single_result(turn2)
    assert (result2.subtype, result2.is_error, result2.result) == ("success", False, "after the interrupt"), why
    assert result2.session_id == result1.session_id
    requests = r.requests()
    assert len(requests) == 2, why
    history = requests[1]["body"]["messages"]
    roles = [m["role"] for m in history]
    assert roles[0] == "user" and all(x != y for x, y in zip(roles, roles[1:])), \
        f"roles must alternate: {roles}"
    assert "continue please" in json.dumps(history[-1]["content"])


# --------------------------------------------------------------------------------------------------
# 4. Hooks


async def test_pre_tool_use_hook_denies_bash_and_post_tool_use_sees_the_response(rig) -> None:
    r = rig({"steps": [
        tool_step(tool_id(5), "Bash", {"command": "echo hook-echo"}),
        tool_step(tool_id(6), "Bash", {"command": "touch blocked.txt"}),
        text_step("done"),
    ]})
    pre_calls: list[tuple[dict[str, Any], str | None]] = []
    post_calls: list[tuple[dict[str, Any], str | None]] = []

    async def pre_bash(input_data: dict[str, Any], tid: str | None, context: Any) -> dict[str, Any]:
        pre_calls.append((input_data, tid))
        if "touch" in input_data["tool_input"]["command"]:
            return {"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": "touch is not allowed here",
            }}
        return {}

    async def post_any(input_data: dict[str, Any], tid: str | None, context: Any) -> dict[str, Any]:
        post_calls.append((input_data, tid))
        return {}

    permissions = PermissionRecorder()
    options = r.options(
        can_use_tool=permissions,
        hooks={
            "PreToolUse": [HookMatcher(matcher="Bash", hooks=[pre_bash])],
            "PostToolUse": [HookMatcher(matcher=None, hooks=[post_any])],
        },
    )
    messages, error = await run_query("run the commands", options)
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    session_id = init_of(messages).data["session_id"]

    # PreToolUse: both Bash calls, with the documented input.
    assert [tid for _, tid in pre_calls] == [tool_id(5), tool_id(6)], why
    first = pre_calls[0][0]
    assert first["hook_event_name"] == "PreToolUse"
    assert first["tool_name"] == "Bash"
    assert first["tool_input"] == {"command": "echo hook-echo"}
    assert first["tool_use_id"] == tool_id(5)
    assert first["session_id"] == session_id
    assert first["cwd"] == str(r.work)
    assert "transcript_path" in first and "permission_mode" in first

    # The hook's deny wins: nothing created, no permission prompt, the reason reaches the model.
    assert not (r.work / "blocked.txt").exists(), why
    assert permissions.calls == [], f"can_use_tool must not be asked (echo is read-only, touch was denied){why}"
    _, blocked = tool_result_for(messages, tool_id(6))
    assert blocked.is_error is True
    assert "touch is not allowed here" in result_text(blocked)
    assert "touch is not allowed here" in upstream_text(upstream_tool_result(r.requests()[2], tool_id(6)))

    # PostToolUse: only for the call that ran, with the tool's output.
    assert [tid for _, tid in post_calls] == [tool_id(5)], why
    post = post_calls[0][0]
    assert post["hook_event_name"] == "PostToolUse"
    assert post["tool_name"] == "Bash" and post["tool_use_id"] == tool_id(5)
    assert post["tool_input"] == {"command": "echo hook-echo"}
    assert isinstance(post["tool_response"], dict) and "hook-echo" in post["tool_response"].get("stdout", ""), post
    assert isinstance(post.get("duration_ms"), int)

    # Order for one call: PreToolUse hook → tool → PostToolUse hook → user tool_result frame.
    def pos(pred: Callable[[str, Any], bool]) -> int:
        return r.wire.index(pred)
    pre_pos = pos(lambda k, f: k == "out" and f.get("type") == "control_request"
                  and f["request"].get("subtype") == "hook_callback"
                  and f["request"]["input"].get("hook_event_name") == "PreToolUse")
    post_pos = pos(lambda k, f: k == "out" and f.get("type") == "control_request"
                   and f["request"].get("subtype") == "hook_callback"
                   and f["request"]["input"].get("hook_event_name") == "PostToolUse")
    echo_result_pos = pos(lambda k, f: k == "out" and f.get("type") == "user"
                          and tool_id(5) in json.dumps(f["message"]["content"]))
    assert 0 <= pre_pos < post_pos < echo_result_pos, why

    assert single_result(messages).subtype == "success"


# --------------------------------------------------------------------------------------------------
# 5. Partial messages and thinking


async def test_partial_messages_stream_events_and_thinking(rig) -> None:
    thinking = "I should run echo to check the shell."
    r = rig({"text_chunk": 5, "steps": [
        {"content": [
            {"type": "thinking", "thinking": thinking, "signature": SIGNATURE},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": tool_id(7), "name": "Bash", "input": {"command": "echo partial"}},
        ]},
        text_step("Finished."),
    ]})
    messages, error = await run_query("check the shell", r.options(include_partial_messages=True))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    session_id = init_of(messages).data["session_id"]

    # ThinkingBlock with its signature.
    thinking_blocks = blocks(messages, ThinkingBlock)
    assert len(thinking_blocks) == 1, why
    assert thinking_blocks[0].thinking == thinking
    assert thinking_blocks[0].signature == SIGNATURE

    events = of_type(messages, StreamEvent)
    assert events, f"no StreamEvent with include_partial_messages=True{why}"
    for e in events:
        assert e.session_id == session_id and e.uuid and e.parent_tool_use_id is None
    kinds = [e.event["type"] for e in events]
    # Two API responses, each a complete Messages-API event sequence.
    assert kinds.count("message_start") == 2 and kinds.count("message_stop") == 2, kinds
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
    first_kinds = kinds[:kinds.index("message_stop") + 1]
    for k in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        assert k in first_kinds, f"{k} missing from {first_kinds}"
    assert first_kinds.count("content_block_start") == 3 and first_kinds.count("content_block_stop") == 3
    delta_types = {e.event["delta"]["type"] for e in events if e.event["type"] == "content_block_delta"}
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= delta_types, delta_types
    message_delta = next(e.event for e in events if e.event["type"] == "message_delta")
    assert message_delta["delta"]["stop_reason"] == "tool_use"
    start = events[0].event["message"]
    assert start["model"] == MODEL and start["content"] == []

    # Text deltas add up to the text block.
    text = "".join(e.event["delta"]["text"] for e in events[:len(first_kinds)]
                   if e.event["type"] == "content_block_delta" and e.event["delta"]["type"] == "text_delta")
    assert text == "Let me check."

    # [captured] per block: start, deltas, the complete assistant frame, then content_block_stop.
    # Within the first API response (up to its message_stop), for each block index:
    first_stop = next(i for i, m in enumerate(messages)
                      if isinstance(m, StreamEvent) and m.event["type"] == "message_stop")
    first_response = messages[:first_stop + 1]
    block_kinds = [ThinkingBlock, TextBlock, ToolUseBlock]
    for index, kind in enumerate(block_kinds):
        def at(event_type: str) -> list[int]:
            return [i for i, m in enumerate(first_response) if isinstance(m, StreamEvent)
                    and m.event["type"] == event_type and m.event.get("index") == index]
        frame = [i for i, m in enumerate(first_response) if isinstance(m, AssistantMessage)
                 and any(isinstance(b, kind) for b in m.content)]
        assert len(at("content_block_start")) == 1 and len(at("content_block_stop")) == 1 and len(frame) == 1
        assert at("content_block_start")[0] < max(at("content_block_delta")) < frame[0] \
            < at("content_block_stop")[0], f"block {index} out of order{why}"

    # Upstream: the thinking block goes back first, with its signature, in the merged assistant message.
    assistant = r.requests()[1]["body"]["messages"][1]
    assert assistant["role"] == "assistant"
    assert [b["type"] for b in assistant["content"]] == ["thinking", "text", "tool_use"], assistant
    assert assistant["content"][0]["thinking"] == thinking
    assert assistant["content"][0]["signature"] == SIGNATURE
    assert single_result(messages).subtype == "success"


# --------------------------------------------------------------------------------------------------
# 6. max_turns


async def test_max_turns_ends_with_error_max_turns(rig) -> None:
    r = rig({"rules": [{"when": {}, "reply": {"content": [
        {"type": "tool_use", "name": "Bash", "input": {"command": "echo again"}}]}}]})
    messages, error = await run_query("loop forever", r.options(max_turns=1))
    why = r.why()

    result = single_result(messages)
    assert result.subtype == "error_max_turns", why
    assert result.is_error is True
    assert result.errors and "Reached maximum number of turns (1)" in result.errors, result.errors
    assert result.terminal_reason == "max_turns"
    assert len(r.requests()) == 1, f"max_turns=1 allows one model request{why}"
    # [captured] the CLI exits 1 after an error result; the SDK turns that into ResultError.
    assert isinstance(error, ResultError), f"expected ResultError, got {error!r}{why}"
    assert error.subtype == "error_max_turns"


# --------------------------------------------------------------------------------------------------
# 7. API errors and retries


async def test_api_error_400_surfaces_as_error_result(rig) -> None:
    r = rig({"steps": [{"error": {"status": 400, "message": "fake invalid_request_error"}}]})
    messages, error = await run_query("hello", r.options())
    why = r.why()

    result = single_result(messages)
    assert result.is_error is True, why
    assert result.subtype == "success"  # [captured] the odd combination the SDK handles
    assert result.result and "API Error: 400" in result.result, result.result
    assert result.api_error_status == 400
    assert result.terminal_reason == "api_error"
    synthetic = [m for m in of_type(messages, AssistantMessage) if m.model == "<synthetic>"]
    assert synthetic, f"no synthetic assistant message for the API error{why}"
    assert synthetic[0].error is not None
    assert "API Error: 400" in synthetic[0].content[0].text
    assert isinstance(error, ResultError), f"expected ResultError, got {error!r}{why}"
    assert error.api_error_status == 400 and "API Error: 400" in (error.result or "")


async def test_api_529_once_is_retried_then_succeeds(rig) -> None:
    r = rig({"steps": [{"error": {"status": 529}}, text_step("recovered")]})
    messages, error = await run_query("hello", r.options())
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"

    result = single_result(messages)
    assert (result.subtype, result.is_error, result.result) == ("success", False, "recovered"), why
    retries = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "api_retry"]
    assert len(retries) == 1, why
    data = retries[0].data
    assert data["attempt"] == 1 and data["error_status"] == 529
    assert isinstance(data["max_retries"], int) and isinstance(data["retry_delay_ms"], int)
    assert data.get("session_id") == result.session_id and data.get("uuid")
    assert len(r.requests()) == 2


# --------------------------------------------------------------------------------------------------
# 8. Bash: read-only commands run, others ask


async def test_bash_read_only_runs_and_touch_asks(rig) -> None:
    r = rig({"steps": [
        tool_step(tool_id(8), "Bash", {"command": "echo hello-from-tool"}),
        tool_step(tool_id(9), "Bash", {"command": "touch x"}),
        text_step("both ran"),
    ]})
    permissions = PermissionRecorder()
    messages, error = await run_query("run things", r.options(can_use_tool=permissions))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"

    # echo: no prompt; its output comes back.
    user, echoed = tool_result_for(messages, tool_id(8))
    assert not echoed.is_error
    assert "hello-from-tool" in result_text(echoed)
    assert isinstance(user.tool_use_result, dict) and "hello-from-tool" in user.tool_use_result.get("stdout", "")
    assert "hello-from-tool" in upstream_text(upstream_tool_result(r.requests()[1], tool_id(8)))

    # touch: asked once, allowed, ran in the working folder.
    assert [(c[0], c[1], c[2].tool_use_id) for c in permissions.calls] == \
        [("Bash", {"command": "touch x"}, tool_id(9))], why
    assert (r.work / "x").exists(), why
    _, touched = tool_result_for(messages, tool_id(9))
    assert not touched.is_error
    # [captured] a command without output tells the model so.
    assert result_text(touched) == "(Bash completed with no output)", result_text(touched)
    assert single_result(messages).result == "both ran"


# --------------------------------------------------------------------------------------------------
# 9. Further contract points (sections 2-4 and 9 of the protocol notes)


async def test_client_interrupt_while_a_tool_runs(rig) -> None:
    """Interrupt during a long Bash command: the command is stopped, the turn ends with
    error_during_execution (aborted_tools), and the session stays usable."""
    r = rig({"steps": [
        tool_step(tool_id(14), "Bash", {"command": "sleep 30"}),
        text_step("after the interrupt"),
    ]})
    async with ClaudeSDKClient(r.options(permission_mode="bypassPermissions")) as client:
        await client.query("wait a while")
        interrupted_at: list[float] = []

        async def on_message(message: Any) -> None:
            if not interrupted_at and any(isinstance(b, ToolUseBlock) for b in getattr(message, "content", []) or []):
                await anyio.sleep(0.3)  # let the command start
                interrupted_at.append(time.monotonic())
                await client.interrupt()

        turn1 = await receive_turn(client, on_message)
        elapsed = time.monotonic() - interrupted_at[0] if interrupted_at else -1
        await client.query("continue please")
        turn2 = await receive_turn(client)
    why = r.why()
    assert interrupted_at, why
    assert elapsed < 3, f"the turn ended {elapsed:.1f}s after the interrupt{why}"
    result1 = single_result(turn1)
    assert (result1.subtype, result1.is_error) == ("error_during_execution", True), why
    assert result1.terminal_reason == "aborted_tools", why
    _, block = tool_result_for(turn1, tool_id(14))
    assert block.is_error is True, why
    result2 = single_result(turn2)
    assert (result2.subtype, result2.is_error, result2.result) == ("success", False, "after the interrupt"), why
    history = r.requests()[1]["body"]["messages"]
    roles = [m["role"] for m in history]
    assert all(x != y for x, y in zip(roles, roles[1:])), roles


async def test_interrupt_while_permission_prompt_is_pending(rig, tmp_path) -> None:
    """Section 4.4: interrupt during can_use_tool withdraws the prompt (control_cancel_request), rejects
    the tool, ends the turn with error_during_execution, and the session stays usable."""
    target = workdir(tmp_path) / "never.txt"
    r = rig({"steps": [
        tool_step(tool_id(10), "Write", {"file_path": str(target), "content": "x\n"}),
        text_step("after the interrupt"),
    ]})
    entered = anyio.Event()
    cancelled: list[bool] = []

    async def hang(name: str, tool_input: dict[str, Any], context: ToolPermissionContext) -> Any:
        entered.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async with ClaudeSDKClient(r.options(can_use_tool=hang)) as client:
        await client.query("write never.txt")
        turn1: list[Any] = []
        async with anyio.create_task_group() as tg:
            async def receive() -> None:
                turn1.extend(await receive_turn(client))
            tg.start_soon(receive)
            with anyio.fail_after(TIMEOUT):
                await entered.wait()
            await client.interrupt()
        await client.query("continue please")
        turn2 = await receive_turn(client)
    why = r.why()

    assert not target.exists(), why
    (prompt,) = r.wire.control_requests_from_agent("can_use_tool")
    cancels = [f for f in r.wire.received() if f.get("type") == "control_cancel_request"]
    assert [c["request_id"] for c in cancels] == [prompt["request_id"]], f"the prompt must be withdrawn{why}"
    # (The real CLI sends the cancel before the interrupt's own control_response; the SDK does not
    # depend on that order, so it is not asserted.)
    assert cancelled == [True], "the SDK cancels the callback when the prompt is withdrawn"

    result1 = single_result(turn1)
    assert (result1.subtype, result1.is_error) == ("error_during_execution", True), why
    assert result1.terminal_reason == "aborted_tools", why
    _, rejected = tool_result_for(turn1, tool_id(10))
    assert rejected.is_error is True
    assert result_text(rejected).startswith("The user doesn't want to proceed with this tool use."), why
    markers = [b.text for m in of_type(turn1, UserMessage) if isinstance(m.content, list)
               for b in m.content if isinstance(b, TextBlock)]
    assert "[Request interrupted by user for tool use]" in markers, why

    result2 = single_result(turn2)
    assert (result2.subtype, result2.is_error, result2.result) == ("success", False, "after the interrupt"), why
    assert len(r.requests()) == 2, why


async def test_can_use_tool_deny_with_interrupt_stops_the_turn(rig, tmp_path) -> None:
    """deny + interrupt: the tool does not run and no further model request is made."""
    target = workdir(tmp_path) / "stopped.txt"
    r = rig(_write_script(target, "x\n"))
    permissions = PermissionRecorder(lambda n, i: PermissionResultDeny(message="Stop right there", interrupt=True))
    messages, error = await run_query("write it", r.options(can_use_tool=permissions))
    why = r.why()
    assert error is None or isinstance(error, ResultError), f"query() raised {error!r}{why}"
    assert not target.exists(), why
    assert len(r.requests()) == 1, f"the turn must end after deny+interrupt{why}"
    _, block = tool_result_for(messages, tool_id(2))
    assert block.is_error is True and "Stop right there" in result_text(block)
    single_result(messages)


async def test_without_can_use_tool_default_mode_auto_denies(rig, tmp_path) -> None:
    """Without --permission-prompt-tool, a call that would ask is denied, with system/permission_denied."""
    target = workdir(tmp_path) / "auto-denied.txt"
    r = rig(_write_script(target, "x\n"))
    messages, error = await run_query("write it", r.options())
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert not target.exists(), why
    denied = [m for m in messages if isinstance(m, SystemMessage) and m.subtype == "permission_denied"]
    assert len(denied) == 1, why
    assert denied[0].data["tool_name"] == "Write" and denied[0].data["tool_use_id"] == tool_id(2)
    assert "haven't granted it yet" in denied[0].data["message"]
    _, block = tool_result_for(messages, tool_id(2))
    assert block.is_error is True
    result = single_result(messages)
    assert result.subtype == "success" and not result.is_error
    assert [d["tool_use_id"] for d in result.permission_denials] == [tool_id(2)]


async def test_allowed_tools_rule_skips_the_prompt_and_disallowed_tool_is_gone(rig) -> None:
    r = rig({"steps": [
        tool_step(tool_id(11), "Bash", {"command": "touch by-rule.txt"}),
        text_step("done"),
    ]})
    permissions = PermissionRecorder(lambda n, i: PermissionResultDeny(message="should not be asked"))
    options = r.options(can_use_tool=permissions, allowed_tools=["Bash(touch:*)"],
                        disallowed_tools=["Write"])
    messages, error = await run_query("touch it", options)
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert permissions.calls == [], why
    assert (r.work / "by-rule.txt").exists(), why
    assert "Write" not in init_of(messages).data["tools"]
    for req in r.requests():
        assert "Write" not in {t["name"] for t in req["body"]["tools"]}
    assert single_result(messages).subtype == "success"


async def test_custom_and_appended_system_prompts(rig) -> None:
    r = rig({"steps": [text_step("ok"), text_step("ok")]})
    _, error = await run_query("hi", r.options(system_prompt="Be terse."))
    assert error is None, r.why()
    _, error = await run_query("hi", r.options(system_prompt={
        "type": "preset", "preset": "claude_code", "append": "Always answer in French."}))
    assert error is None, r.why()
    custom, appended = (req["body"]["system"] for req in r.requests())
    custom_text = "\n".join(b["text"] for b in custom)
    appended_text = "\n".join(b["text"] for b in appended)
    assert any(b["text"].startswith("Be terse.") for b in custom), custom
    assert SDK_PROMPT not in custom_text
    assert "Always answer in French." in appended_text
    assert SDK_PROMPT not in appended_text, "preset + append keeps the agent's full default prompt"


async def test_pre_tool_use_hook_allow_with_updated_input(rig, tmp_path) -> None:
    """hookSpecificOutput.permissionDecision=allow skips the prompt; updatedInput is what runs."""
    target = workdir(tmp_path) / "hooked.txt"
    r = rig(_write_script(target, "from the model\n"))

    async def rewrite(input_data: dict[str, Any], tid: str | None, context: Any) -> dict[str, Any]:
        return {"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "rewritten by the host",
            "updatedInput": {**input_data["tool_input"], "content": "from the hook\n"},
        }}

    permissions = PermissionRecorder(lambda n, i: PermissionResultDeny(message="should not be asked"))
    options = r.options(can_use_tool=permissions,
                        hooks={"PreToolUse": [HookMatcher(matcher="Write|Edit", hooks=[rewrite])]})
    messages, error = await run_query("write it", options)
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert permissions.calls == [], why
    assert target.read_text() == "from the hook\n", why
    assert single_result(messages).subtype == "success"


async def test_unknown_control_request_gets_an_error_and_the_session_survives(rig) -> None:
    r = rig({"steps": [text_step("still here")]})
    async with ClaudeSDKClient(r.options()) as client:
        info = await client.get_server_info()
        assert info is not None and info.get("claude_code_version") == "2.1.332", info
        for key in ("commands", "output_style", "models"):
            assert key in info, f"initialize response lacks {key}"
        with pytest.raises(Exception) as raised:
            with anyio.fail_after(10):
                # No public API sends an arbitrary subtype; the SDK's own sender is used.
                await client._query._send_control_request({"subtype": "workroom_no_such_request"})
        assert "timeout" not in str(raised.value).lower(), raised.value
        await client.query("are you there?")
        turn = await receive_turn(client)
    assert single_result(turn).result == "still here", r.why()


async def test_user_message_with_content_blocks_and_image(rig) -> None:
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    r = rig({"steps": [text_step("a single pixel")]})

    async def prompt() -> AsyncIterator[dict[str, Any]]:
        yield {"type": "user", "message": {"role": "user", "content": [
            {"type": "text", "text": "what is in this image?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        ]}, "parent_tool_use_id": None}

    async with ClaudeSDKClient(r.options()) as client:
        await client.query(prompt())
        turn = await receive_turn(client)
    why = r.why()
    assert single_result(turn).result == "a single pixel", why
    first = r.requests()[0]["body"]["messages"][0]
    assert first["role"] == "user"
    kinds = [b["type"] for b in first["content"]]
    assert "text" in kinds and "image" in kinds, first
    image = next(b for b in first["content"] if b["type"] == "image")
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": png}


async def test_resume_continues_a_saved_session(rig) -> None:
    r = rig({"steps": [text_step("the answer is 42"), text_step("I said 42")]})
    first, error = await run_query("what is the answer?", r.options())
    assert error is None, r.why()
    session_id = single_result(first).session_id

    second, error = await run_query("what did you say?", r.options(resume=session_id))
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    result = single_result(second)
    assert result.result == "I said 42", why
    assert result.session_id == session_id, "--resume keeps the session id"
    history = r.requests()[1]["body"]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"], history
    assert "the answer is 42" in json.dumps(history[1]["content"])


def test_stdout_is_pure_ndjson_and_odd_input_is_tolerated(fake_model, tmp_path: Path) -> None:
    """Section 9, items 1-2 and 7, run by hand: unknown flags are ignored, stdin lines that are not
    frames (garbage, keep_alive, unknown types) do not end the session, every stdout line is a JSON
    object, and the process exits 0 after the turn."""
    server = fake_model({"steps": [text_step("fine")]})
    frames: list[Any] = [
        {"type": "control_request", "request_id": "req_1_raw", "request": {"subtype": "initialize", "hooks": None}},
        {"type": "keep_alive"},
        {"type": "some_future_frame", "payload": 1},
        {"type": "user", "session_id": "", "message": {"role": "user", "content": "hello"},
         "parent_tool_use_id": None},
    ]
    work = workdir(tmp_path)
    stdin = "not json at all\n" + "".join(json.dumps(f) + "\n" for f in frames)
    proc = subprocess.run(
        [str(ensure_agent_binary()), "--output-format", "stream-json", "--verbose", "--system-prompt", "",
         "--future-flag=1", "--future-switch", "--input-format", "stream-json"],
        input=stdin, capture_output=True, text=True, cwd=work, timeout=TIMEOUT,
        env={**os.environ, **agent_env(server.url, tmp_path / "state")})
    lines = [line for line in proc.stdout.split("\n") if line.strip()]
    assert proc.stdout.endswith("\n"), "every frame ends with a newline"
    parsed = []
    for line in lines:
        assert line.startswith("{"), f"non-frame output on stdout: {line[:200]!r}"
        parsed.append(json.loads(line))
    types = [f.get("type") for f in parsed]
    assert types[0] == "control_response", types
    assert types.count("result") == 1 and parsed[types.index("result")]["subtype"] == "success", \
        f"{types}\nstderr:\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0, proc.stderr[-2000:]


def _png(width: int, height: int) -> bytes:
    """A valid PNG of random pixels (does not compress)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = os.urandom(width * height * 3)
    raw = b"".join(b"\x00" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


async def test_reading_a_large_screenshot_does_not_break_the_sdk_stream(rig, tmp_path) -> None:
    """Section 9, item 2: every stdout frame stays under the SDK's 1 MiB line limit
    (`max_buffer_size`), or the SDK aborts the whole session with CLIJSONDecodeError. A 1.2 MB PNG is
    an ordinary screenshot; the agent may show it smaller or refuse it with an error the model can act
    on, but the session must survive."""
    shot = workdir(tmp_path) / "screenshot.png"
    shot.write_bytes(_png(640, 640))
    assert shot.stat().st_size > 1_100_000
    r = rig({"steps": [
        tool_step(tool_id(13), "Read", {"file_path": str(shot)}),
        text_step("I looked at it."),
    ]})
    messages, error = await run_query("look at the screenshot", r.options())
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    tool_result_for(messages, tool_id(13))
    assert single_result(messages).subtype == "success"


async def test_client_interrupt_right_after_query_aborts_that_turn(rig) -> None:
    """An interrupt sent right after the prompt (the user presses Stop at once) aborts that turn. The
    real CLI starts a turn as soon as its user message arrives, so the turn is running when the
    interrupt lands."""
    slow_text = "This answer streams very slowly. " * 7  # ~60 deltas x 100 ms = 6 s
    r = rig({"steps": [
        text_step(slow_text, event_delay_ms=100, text_chunk=4),
        text_step("after the interrupt"),
    ]})
    async with ClaudeSDKClient(r.options()) as client:
        await client.query("tell me a long story")
        started = time.monotonic()
        await client.interrupt()
        turn1 = await receive_turn(client)
        elapsed = time.monotonic() - started
        await client.query("continue please")
        turn2 = await receive_turn(client)
    why = r.why()
    result1 = single_result(turn1)
    assert elapsed < 3, f"the interrupt was ignored: the turn ran for {elapsed:.1f}s (the stream lasts 6s){why}"
    assert (result1.subtype, result1.is_error) == ("error_during_execution", True), why
    result2 = single_result(turn2)
    assert (result2.subtype, result2.is_error) == ("success", False), why


async def test_prompt_uuid_is_echoed_on_the_result(rig) -> None:
    """SDK docs (types.MessageOrigin / ResultMessage.user_message_uuid): to match a result to a prompt,
    send the prompt with a `uuid` and find it in result.user_message_uuid(s) (protocol notes 2.1)."""
    r = rig({"steps": [text_step("hi")]})
    mine = str(uuid.uuid4())

    async def prompt() -> AsyncIterator[dict[str, Any]]:
        yield {"type": "user", "message": {"role": "user", "content": "hello"},
               "parent_tool_use_id": None, "uuid": mine}

    async with ClaudeSDKClient(r.options()) as client:
        await client.query(prompt())
        turn = await receive_turn(client)
    result = single_result(turn)
    assert mine == result.user_message_uuid or mine in (result.user_message_uuids or []), \
        f"result.user_message_uuid={result.user_message_uuid!r} uuids={result.user_message_uuids!r}{r.why()}"


async def test_user_prompt_submit_and_stop_hooks_fire(rig) -> None:
    """Section 4.3 hook events beyond tool use: UserPromptSubmit (input `prompt`; its
    additionalContext reaches the model) and Stop (input `stop_hook_active`), both common in SDK hosts."""
    r = rig({"steps": [text_step("hello")]})
    seen: list[dict[str, Any]] = []

    async def on_prompt(input_data: dict[str, Any], tid: str | None, context: Any) -> dict[str, Any]:
        seen.append(input_data)
        return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit",
                                       "additionalContext": "The secret word is PAPAYA."}}

    async def on_stop(input_data: dict[str, Any], tid: str | None, context: Any) -> dict[str, Any]:
        seen.append(input_data)
        return {}

    options = r.options(hooks={"UserPromptSubmit": [HookMatcher(hooks=[on_prompt])],
                               "Stop": [HookMatcher(hooks=[on_stop])]})
    messages, error = await run_query("hello there", options)
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    assert [h.get("hook_event_name") for h in seen] == ["UserPromptSubmit", "Stop"], why
    assert seen[0]["prompt"] == "hello there"
    assert seen[0]["session_id"] == init_of(messages).data["session_id"]
    assert seen[1].get("stop_hook_active") is False
    assert "PAPAYA" in json.dumps(r.requests()[0]["body"]["messages"]), \
        f"UserPromptSubmit additionalContext must reach the model{why}"
    assert single_result(messages).subtype == "success"


async def test_sdk_mcp_server_tool_is_offered_and_called(rig) -> None:
    """Section 9, item 9: in-process SDK MCP servers are tunnelled over mcp_message."""
    calls: list[dict[str, Any]] = []

    @tool("add", "Add two numbers", {"a": int, "b": int})
    async def add(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args)
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}

    r = rig({"steps": [
        tool_step(tool_id(12), "mcp__calc__add", {"a": 1, "b": 2}),
        text_step("1 + 2 = 3"),
    ]})
    options = r.options(mcp_servers={"calc": create_sdk_mcp_server("calc", tools=[add])},
                        allowed_tools=["mcp__calc__add"])
    messages, error = await run_query("add 1 and 2", options)
    why = r.why()
    assert error is None, f"query() raised {error!r}{why}"
    servers = init_of(messages).data["mcp_servers"]
    assert {"name": "calc", "status": "connected"}.items() <= next(
        (s for s in servers if s.get("name") == "calc"), {}).items(), servers
    assert "mcp__calc__add" in init_of(messages).data["tools"], why
    offered = {t["name"]: t for t in r.requests()[0]["body"]["tools"]}
    assert "mcp__calc__add" in offered, f"the MCP tool is not offered to the model{why}"
    assert calls == [{"a": 1, "b": 2}], why
    _, block = tool_result_for(messages, tool_id(12))
    assert not block.is_error and "3" in result_text(block)
    assert single_result(messages).subtype == "success"
