#!/usr/bin/env python3
"""Prints a stream-json session (one frame per line on stdin) the way a person reads a chat."""
import json
import sys


def show(frame):
    kind = frame.get("type")
    if kind == "assistant":
        for block in frame["message"]["content"]:
            if block["type"] == "text":
                print("agent:", block["text"])
            elif block["type"] == "tool_use":
                print("  ->", block["name"], json.dumps(block["input"])[:120])
    elif kind == "user":
        for block in frame["message"]["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                content = block.get("content")
                text = content if isinstance(content, str) else json.dumps(content)
                prefix = "error: " if block.get("is_error") else ""
                print("  <-", (prefix + text).replace("\n", "\n     ")[:600])
    elif kind == "system" and frame.get("subtype") == "api_retry":
        print(f"  (model busy, retry {frame['attempt']} in {frame['retry_delay_ms']} ms)")
    elif kind == "result":
        cost = frame.get("total_cost_usd", 0.0)
        print(f"[{frame['subtype']}: {frame['num_turns']} model calls, {frame['duration_ms']} ms, ${cost:.4f}]")


for line in sys.stdin:
    if line.strip():
        show(json.loads(line))
