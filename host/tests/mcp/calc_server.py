"""A tiny MCP server for the connector tests, written for them with no SDK, so the host's real
client (rmcp) is what is exercised. One tool, `add`.

    python3 calc_server.py          stdio transport: one JSON-RPC message per line
    python3 calc_server.py --http   Streamable HTTP on 127.0.0.1 (JSON answers); prints the URL first
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = [{
    "name": "add",
    "description": "Adds two numbers.",
    "inputSchema": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}]


def answer(message):
    """The JSON-RPC answer to one message, or None for a notification."""
    if "id" not in message:
        return None
    method = message.get("method")
    out = {"jsonrpc": "2.0", "id": message["id"]}
    if method == "initialize":
        out["result"] = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "calc", "version": "1.0"},
        }
    elif method == "tools/list":
        out["result"] = {"tools": TOOLS}
    elif method == "tools/call":
        args = message["params"].get("arguments") or {}
        total = args.get("a", 0) + args.get("b", 0)
        out["result"] = {"content": [{"type": "text", "text": f"sum={total}"}], "isError": False}
    elif method == "ping":
        out["result"] = {}
    else:
        out["error"] = {"code": -32601, "message": f"no method {method}"}
    return out


def serve_stdio():
    for line in sys.stdin:
        if line.strip():
            out = answer(json.loads(line))
            if out is not None:
                sys.stdout.write(json.dumps(out) + "\n")
                sys.stdout.flush()


class Http(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length", "0"))
        out = answer(json.loads(self.rfile.read(length)))
        if out is None:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802: no server-initiated stream
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_DELETE(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if "--http" in sys.argv:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Http)
        print(f"http://127.0.0.1:{server.server_address[1]}/mcp", flush=True)
        server.serve_forever()
    else:
        serve_stdio()
