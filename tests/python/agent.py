"""Locate (and if needed build) the `workroom-agent` binary, and configure it for the Claude Agent SDK.

The agent is driven exactly like the real `claude` CLI: the SDK gets it as `cli_path`, and the agent
is pointed at a `fake-model` server through the environment::

    from agent import agent_options

    server = fake_model({...})
    options = agent_options(server, tmp_path, permission_mode="acceptEdits")
    async for message in claude_agent_sdk.query(prompt="...", options=options):
        ...

Besides the options, `agent_options` wires a `stderr` callback (the agent's log lines end up in
`AgentLog.stderr`) so a failing test can show what the agent said.

`run_agent_raw` runs the agent by hand on a list of stdin frames and returns its stdout frames:
useful to see exactly what the agent emits for the input the SDK writes.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from binaries import binary_path, ensure_binary


def agent_binary() -> Path:
    """Path of the agent: $WORKROOM_AGENT_BIN, else <target dir>/debug/workroom-agent."""
    return binary_path("workroom-agent", "WORKROOM_AGENT_BIN")


def ensure_agent_binary() -> Path:
    """The agent binary, built with `cargo build -p workroom-agent` if it is missing."""
    return ensure_binary("workroom-agent", "workroom-agent", "WORKROOM_AGENT_BIN")


@dataclass
class AgentLog:
    """What one agent process wrote to stderr (filled by the SDK's `stderr` callback)."""

    stderr: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.stderr)


def agent_env(server_url: str, state_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the agent: fake model URL, test key, transcript dir, fast retries."""
    env = {
        "ANTHROPIC_BASE_URL": server_url,
        "ANTHROPIC_API_KEY": "sk-test",
        "WORKROOM_AGENT_STATE_DIR": str(state_dir),
        "WORKROOM_RETRY_BASE_MS": "10",
        # Logs to stderr only; keep them useful for failure reports.
        "WORKROOM_LOG": os.environ.get("WORKROOM_LOG", "info"),
    }
    if extra:
        env.update(extra)
    return env


def workdir(tmp_path: Path) -> Path:
    """The agent's working folder for a test (created, canonical)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return work.resolve()


def agent_options(server: Any, tmp_path: Path, *, log: AgentLog | None = None,
                  env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """`ClaudeAgentOptions` that run `workroom-agent` in `tmp_path/work` against `server`.

    Extra keyword arguments go to `ClaudeAgentOptions` (permission_mode, can_use_tool, hooks, ...).
    """
    from claude_agent_sdk import ClaudeAgentOptions

    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    if log is not None:
        kwargs.setdefault("stderr", log.stderr.append)
    return ClaudeAgentOptions(
        cli_path=str(ensure_agent_binary()),
        cwd=str(workdir(tmp_path)),
        env=agent_env(server.url, state, env),
        **kwargs,
    )


def run_agent_raw(frames: list[dict[str, Any]], *, args: list[str], cwd: Path, env: dict[str, str],
                  timeout: float = 30.0) -> tuple[int, list[dict[str, Any]], str]:
    """Runs the agent by hand: writes `frames` as NDJSON to stdin, closes it, returns
    (exit code, stdout frames, stderr). Non-JSON stdout lines come back as {"_raw": line}."""
    stdin = "".join(json.dumps(f) + "\n" for f in frames)
    proc = subprocess.run(
        [str(ensure_agent_binary()), *args],
        input=stdin, capture_output=True, text=True, cwd=cwd,
        env={**os.environ, **env}, timeout=timeout,
    )
    out: list[dict[str, Any]] = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"_raw": line})
    return proc.returncode, out, proc.stderr
