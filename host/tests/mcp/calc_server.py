"""A tiny MCP server for the connector tests: stdio transport (one JSON-RPC message per line),
one tool, `add`. Written for the tests, with no SDK, so the host's real client (rmcp) is what is
exercised."""

import json
import sys


def reply(message_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": message_id}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


TOOLS = [{
    "name": "add",
    "description": "Adds two numbers.",
    "inputSchema": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}]

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    message = json.loads(line)
    method = message.get("method")
    if "id" not in message:
        continue  # a notification
    if method == "initialize":
        reply(message["id"], {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "calc", "version": "1.0"},
        })
    elif method == "tools/list":
        reply(message["id"], {"tools": TOOLS})
    elif method == "tools/call":
        args = message["params"].get("arguments") or {}
        total = args.get("a", 0) + args.get("b", 0)
        reply(message["id"], {"content": [{"type": "text", "text": f"sum={total}"}], "isError": False})
    elif method == "ping":
        reply(message["id"], {})
    else:
        reply(message["id"], error={"code": -32601, "message": f"no method {method}"})
