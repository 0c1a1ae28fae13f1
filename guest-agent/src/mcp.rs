//! MCP servers that live inside the SDK client ("type":"sdk" in `--mcp-config`), reached by tunnelling
//! JSON-RPC over `mcp_message` control requests. Their tools are offered as `mcp__<server>__<tool>`.

use serde_json::{json, Map, Value};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use workroom_protocol::anthropic::ToolDefinition;
use workroom_protocol::control::{ControlRequest, McpMessage};

use crate::session::{control, Session};
use crate::tools::{ToolContent, ToolOutput};

/// The MCP protocol version we speak.
const PROTOCOL_VERSION: &str = "2025-06-18";

/// A tool one server offers.
#[derive(Debug, Clone)]
struct McpTool {
    name: String,
    description: String,
    input_schema: Value,
}

/// A configured server and what we know of it.
#[derive(Debug, Clone)]
struct Server {
    name: String,
    /// `connected`, `failed` or `pending`.
    status: &'static str,
    error: Option<String>,
    tools: Vec<McpTool>,
    sdk: bool,
}

/// The session's MCP servers.
#[derive(Debug)]
pub struct McpServers {
    servers: Mutex<Vec<Server>>,
    connected: tokio::sync::OnceCell<()>,
}

impl McpServers {
    /// Servers from `--mcp-config` (inline JSON or a file path). Bad config is logged and ignored.
    pub fn from_config(config: Option<&str>) -> Self {
        let mut servers = Vec::new();
        if let Some(value) = config.and_then(parse_config) {
            if let Some(map) = value.get("mcpServers").and_then(Value::as_object) {
                for (name, spec) in map {
                    let sdk = spec.get("type").and_then(Value::as_str) == Some("sdk");
                    servers.push(Server {
                        name: name.clone(),
                        status: if sdk { "pending" } else { "failed" },
                        error: (!sdk).then(|| {
                            "only SDK MCP servers are supported inside the VM for now".into()
                        }),
                        tools: Vec::new(),
                        sdk,
                    });
                }
            }
        }
        Self {
            servers: Mutex::new(servers),
            connected: tokio::sync::OnceCell::new(),
        }
    }

    /// Performs the MCP handshake with every SDK server, once per session.
    pub async fn connect(&self, s: &Session) {
        self.connected
            .get_or_init(|| async {
                let mut servers = self.servers.lock().await;
                for server in servers.iter_mut().filter(|s| s.sdk) {
                    match handshake(s, &server.name).await {
                        Ok(tools) => {
                            server.status = "connected";
                            server.tools = tools;
                        }
                        Err(e) => {
                            tracing::warn!(server = %server.name, error = %e, "MCP server failed");
                            server.status = "failed";
                            server.error = Some(e);
                        }
                    }
                }
            })
            .await;
    }

    /// `system/init.mcp_servers`.
    pub async fn status(&self) -> Vec<Value> {
        self.servers
            .lock()
            .await
            .iter()
            .map(|s| json!({"name": s.name, "status": s.status, "source": if s.sdk { "sdk" } else { "config" }}))
            .collect()
    }

    /// Tool definitions for the model.
    pub async fn definitions(&self) -> Vec<ToolDefinition> {
        self.servers
            .lock()
            .await
            .iter()
            .flat_map(|s| {
                s.tools.iter().map(move |t| ToolDefinition {
                    name: format!("mcp__{}__{}", s.name, t.name),
                    description: t.description.clone(),
                    input_schema: t.input_schema.clone(),
                })
            })
            .collect()
    }

    /// Whether `name` is one of our MCP tools; returns (server, tool).
    pub async fn find(&self, name: &str) -> Option<(String, String)> {
        let rest = name.strip_prefix("mcp__")?;
        let servers = self.servers.lock().await;
        servers.iter().find_map(|s| {
            let tool = rest.strip_prefix(&s.name)?.strip_prefix("__")?;
            s.tools
                .iter()
                .any(|t| t.name == tool)
                .then(|| (s.name.clone(), tool.to_string()))
        })
    }

    /// Calls a tool through the client.
    pub async fn call(
        &self,
        s: &Session,
        server: &str,
        tool: &str,
        arguments: Value,
        tool_use_id: &str,
        cancel: &CancellationToken,
    ) -> ToolOutput {
        let message = json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": {"claudecode/toolUseId": tool_use_id}}
        });
        match rpc(s, server, message, cancel).await {
            Ok(result) => tool_output(&result),
            Err(e) => ToolOutput::error(format!("MCP tool {tool} on {server} failed: {e}")),
        }
    }
}

fn parse_config(text: &str) -> Option<Value> {
    let text = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        std::fs::read_to_string(text).ok()?
    };
    serde_json::from_str(&text)
        .map_err(|e| tracing::warn!(error = %e, "--mcp-config is not valid JSON"))
        .ok()
}

async fn handshake(s: &Session, server: &str) -> Result<Vec<McpTool>, String> {
    let never = CancellationToken::new();
    rpc(
        s,
        server,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "workroom-agent", "version": env!("CARGO_PKG_VERSION")}
        }}),
        &never,
    )
    .await?;
    rpc(
        s,
        server,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &never,
    )
    .await?;
    let listed = rpc(
        s,
        server,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        &never,
    )
    .await?;
    let tools = listed
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| {
            Some(McpTool {
                name: t.get("name")?.as_str()?.to_string(),
                description: t
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                input_schema: t
                    .get("inputSchema")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            })
        })
        .collect();
    Ok(tools)
}

/// One JSON-RPC exchange; returns `result` (notifications return `{}`).
async fn rpc(
    s: &Session,
    server: &str,
    message: Value,
    cancel: &CancellationToken,
) -> Result<Value, String> {
    let request = ControlRequest::McpMessage(McpMessage {
        server_name: server.to_string(),
        message,
    });
    let timeout = Some(std::time::Duration::from_secs(120));
    let answer = control::request(&s.outbox, &s.pending, request, cancel, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let response = answer.get("mcp_response").cloned().unwrap_or(Value::Null);
    if let Some(error) = response.get("error") {
        return Err(error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("JSON-RPC error")
            .to_string());
    }
    Ok(response
        .get("result")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new())))
}

/// MCP `CallToolResult` → tool result blocks.
fn tool_output(result: &Value) -> ToolOutput {
    let is_error = result
        .get("isError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let blocks: Vec<Value> = result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| match c.get("type").and_then(Value::as_str) {
            Some("text") => {
                Some(json!({"type": "text", "text": c.get("text").cloned().unwrap_or_default()}))
            }
            Some("image") => Some(json!({"type": "image", "source": {
                "type": "base64",
                "media_type": c.get("mimeType").cloned().unwrap_or(json!("image/png")),
                "data": c.get("data").cloned().unwrap_or_default(),
            }})),
            _ => None,
        })
        .collect();
    ToolOutput {
        content: ToolContent::Blocks(blocks),
        is_error,
        structured: result
            .get("content")
            .cloned()
            .unwrap_or(Value::Array(Vec::new())),
    }
}
