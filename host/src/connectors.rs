//! MCP connectors: servers the person configured, run by the host, outside the VM, with the
//! official SDK (`rmcp`): local programs over stdio, or Streamable HTTP endpoints.
//!
//! The agent sees them as the Claude Agent SDK's in-process servers (`"type": "sdk"` in its
//! `--mcp-config`): it sends each JSON-RPC message as an `mcp_message` control request, and the
//! session answers with [`Connectors::handle`]. So the servers' credentials and processes stay on
//! the host, and every tool call (`mcp__<server>__<tool>`) still goes through the agent's
//! permission flow and the person's prompt.
//!
//! The configuration is Claude Code's `.mcp.json` format, from the person's own settings only
//! (never from a shared folder: a folder the agent can write to must not start programs on the
//! host):
//!
//! ```json
//! {"mcpServers": {
//!   "calc": {"command": "python3", "args": ["calc.py"], "env": {"KEY": "v"}},
//!   "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer …"}}
//! }}
//! ```
//!
//! Servers start on first use and stop when the connectors are dropped (with the session's VM).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{Mutex, OnceCell};

/// The MCP protocol version answered to the agent's `initialize`.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// How long a server may take to start and answer `initialize`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the MCP configuration is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
    #[error("MCP server {name:?}: {reason}")]
    Server { name: String, reason: String },
}

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    /// A program on the host speaking MCP on its stdin/stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(rename = "mcpServers", default)]
    servers: BTreeMap<String, RawServer>,
}

#[derive(Deserialize)]
struct RawServer {
    #[serde(rename = "type")]
    kind: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Server names become part of tool names (`mcp__<server>__<tool>`): keep them plain.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Parses `.mcp.json` text.
pub fn parse(text: &str) -> Result<BTreeMap<String, ServerSpec>, ConfigError> {
    let raw: RawConfig = serde_json::from_str(text)?;
    let mut out = BTreeMap::new();
    for (name, server) in raw.servers {
        let bad = |reason: &str| ConfigError::Server {
            name: name.clone(),
            reason: reason.into(),
        };
        if !valid_name(&name) {
            return Err(bad("names may use only letters, digits, - and _"));
        }
        let spec = match (server.kind.as_deref(), server.command, server.url) {
            (None | Some("stdio"), Some(command), None) => ServerSpec::Stdio {
                command,
                args: server.args,
                env: server.env,
            },
            (None | Some("http") | Some("streamable-http"), None, Some(url)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(bad("url must start with http:// or https://"));
                }
                ServerSpec::Http {
                    url,
                    headers: server.headers,
                }
            }
            (Some("sse"), ..) => {
                return Err(bad("SSE servers are not supported; use Streamable HTTP"))
            }
            _ => return Err(bad("give either a command (stdio) or a url (http)")),
        };
        out.insert(name, spec);
    }
    Ok(out)
}

/// Reads the configuration: inline JSON, or the path of a file.
pub fn load(source: &str) -> Result<BTreeMap<String, ServerSpec>, ConfigError> {
    if source.trim_start().starts_with('{') {
        return parse(source);
    }
    let text = std::fs::read_to_string(Path::new(source)).map_err(|e| ConfigError::Read {
        path: source.to_string(),
        source: e,
    })?;
    parse(&text)
}

type Client = RunningService<RoleClient, ()>;

/// A configured server and its connection, made on first use.
struct Server {
    spec: ServerSpec,
    client: OnceCell<Result<Client, String>>,
}

/// The session's connectors.
pub struct Connectors {
    servers: HashMap<String, Arc<Server>>,
    /// Serialises starts, so two messages cannot start one server twice.
    starting: Mutex<()>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("servers", &self.names())
            .finish_non_exhaustive()
    }
}

impl Connectors {
    /// Connectors for `specs` (nothing starts yet).
    pub fn new(specs: BTreeMap<String, ServerSpec>) -> Self {
        Self {
            servers: specs
                .into_iter()
                .map(|(name, spec)| {
                    (
                        name,
                        Arc::new(Server {
                            spec,
                            client: OnceCell::new(),
                        }),
                    )
                })
                .collect(),
            starting: Mutex::new(()),
        }
    }

    /// The configured servers' names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.servers.keys().cloned().collect();
        names.sort();
        names
    }

    /// The `--mcp-config` that tells the agent about them (as client-side servers).
    pub fn agent_config(&self) -> Option<String> {
        if self.servers.is_empty() {
            return None;
        }
        let servers: serde_json::Map<String, Value> = self
            .names()
            .into_iter()
            .map(|n| (n, json!({"type": "sdk"})))
            .collect();
        Some(json!({"mcpServers": servers}).to_string())
    }

    async fn client(&self, name: &str) -> Result<&Client, String> {
        let server = self
            .servers
            .get(name)
            .ok_or_else(|| format!("there is no MCP server {name:?}"))?;
        let _one_at_a_time = self.starting.lock().await;
        let client = server
            .client
            .get_or_init(|| async {
                match tokio::time::timeout(START_TIMEOUT, start(&server.spec)).await {
                    Ok(Ok(client)) => {
                        tracing::info!(server = name, "MCP server connected");
                        Ok(client)
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(server = name, error = %e, "MCP server did not start");
                        Err(e)
                    }
                    Err(_) => Err(format!(
                        "it did not answer within {} s",
                        START_TIMEOUT.as_secs()
                    )),
                }
            })
            .await;
        client
            .as_ref()
            .map_err(|e| format!("the MCP server {name} is not available: {e}"))
    }

    /// Answers one JSON-RPC message the agent sent to `server`, as JSON-RPC.
    pub async fn handle(&self, server: &str, message: &Value) -> Value {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let method = message["method"].as_str().unwrap_or_default();
        let result: Result<Value, String> = match method {
            // The agent's handshake is with us; the server's own handshake happened at its start.
            "initialize" => self.client(server).await.map(|_| {
                json!({"protocolVersion": PROTOCOL_VERSION, "capabilities": {"tools": {}},
                       "serverInfo": {"name": server, "version": env!("CARGO_PKG_VERSION")}})
            }),
            m if m.starts_with("notifications/") => Ok(json!({})),
            "tools/list" => match self.client(server).await {
                Ok(client) => client
                    .list_all_tools()
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|tools| {
                        serde_json::to_value(&tools)
                            .map(|t| json!({"tools": t}))
                            .map_err(|e| e.to_string())
                    }),
                Err(e) => Err(e),
            },
            "tools/call" => match self.client(server).await {
                Ok(client) => {
                    let name = message["params"]["name"].as_str().unwrap_or_default();
                    let mut params = CallToolRequestParams::new(name.to_string());
                    if let Some(arguments) = message["params"]["arguments"].as_object() {
                        params = params.with_arguments(arguments.clone());
                    }
                    client
                        .call_tool(params)
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| serde_json::to_value(&r).map_err(|e| e.to_string()))
                }
                Err(e) => Err(e),
            },
            "ping" => Ok(json!({})),
            other => Err(format!("method {other:?} is not offered")),
        };
        match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(message) => json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32603, "message": message}}),
        }
    }
}

async fn start(spec: &ServerSpec) -> Result<Client, String> {
    match spec {
        ServerSpec::Stdio { command, args, env } => {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args).envs(env);
            // The server's diagnostics are not the agent's business; keep them out of our output.
            cmd.stderr(std::process::Stdio::null());
            let transport =
                TokioChildProcess::new(cmd).map_err(|e| format!("cannot run {command}: {e}"))?;
            ().serve(transport).await.map_err(|e| e.to_string())
        }
        ServerSpec::Http { url, headers } => {
            let mut config =
                rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                    url.as_str(),
                );
            for (name, value) in headers {
                let (Ok(name), Ok(value)) = (
                    http::HeaderName::try_from(name.as_str()),
                    http::HeaderValue::try_from(value.as_str()),
                ) else {
                    return Err(format!("header {name:?} is not valid"));
                };
                config.custom_headers.insert(name, value);
            }
            let transport = StreamableHttpClientTransport::from_config(config);
            ().serve(transport).await.map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test server in `tests/mcp/` (stdio, or Streamable HTTP with `--http`).
    fn calc_server() -> String {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/calc_server.py").to_string()
    }

    async fn add_through(connectors: &Connectors) -> Value {
        let init = connectors
            .handle(
                "calc",
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}),
            )
            .await;
        assert_eq!(
            init["result"]["capabilities"],
            json!({"tools": {}}),
            "{init}"
        );
        let listed = connectors
            .handle(
                "calc",
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            )
            .await;
        assert_eq!(listed["result"]["tools"][0]["name"], "add", "{listed}");
        connectors
            .handle(
                "calc",
                &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "add", "arguments": {"a": 2, "b": 40}}}),
            )
            .await
    }

    #[tokio::test]
    async fn a_streamable_http_server_is_reached_like_a_local_one() {
        let mut child = tokio::process::Command::new("python3")
            .args([calc_server(), "--http".into()])
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3");
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
            child.stdout.take().unwrap(),
        ));
        let url = lines.next_line().await.unwrap().unwrap();
        let specs =
            parse(&json!({"mcpServers": {"calc": {"type": "http", "url": url}}}).to_string())
                .unwrap();
        let called = add_through(&Connectors::new(specs)).await;
        assert_eq!(called["result"]["content"][0]["text"], "sum=42", "{called}");
    }

    #[tokio::test]
    async fn a_stdio_server_starts_on_first_use_and_errors_are_json_rpc_errors() {
        let specs = parse(
            &json!({"mcpServers": {"calc": {"command": "python3", "args": [calc_server()]}}})
                .to_string(),
        )
        .unwrap();
        let connectors = Connectors::new(specs);
        let called = add_through(&connectors).await;
        assert_eq!(called["result"]["content"][0]["text"], "sum=42", "{called}");
        let unknown = connectors
            .handle(
                "nope",
                &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
            )
            .await;
        assert!(unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no MCP server"));
        let broken = Connectors::new(
            parse(r#"{"mcpServers": {"calc": {"command": "/nonexistent/server"}}}"#).unwrap(),
        );
        let failed = broken
            .handle(
                "calc",
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize"}),
            )
            .await;
        assert!(
            failed["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not available"),
            "{failed}"
        );
    }

    #[test]
    fn claude_code_configs_parse_and_bad_ones_say_why() {
        let specs = parse(
            r#"{"mcpServers": {
                "calc": {"command": "python3", "args": ["calc.py"], "env": {"A": "1"}},
                "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"X": "y"}}
            }}"#,
        )
        .unwrap();
        assert!(
            matches!(&specs["calc"], ServerSpec::Stdio { command, .. } if command == "python3")
        );
        assert!(
            matches!(&specs["docs"], ServerSpec::Http { url, .. } if url == "https://example.com/mcp")
        );
        for (bad, why) in [
            (r#"{"mcpServers": {"a b": {"command": "x"}}}"#, "letters"),
            (r#"{"mcpServers": {"a": {}}}"#, "either a command"),
            (
                r#"{"mcpServers": {"a": {"type": "sse", "url": "http://x"}}}"#,
                "SSE",
            ),
            (r#"{"mcpServers": {"a": {"url": "ftp://x"}}}"#, "http://"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let connectors = Connectors::new(specs);
        assert_eq!(
            connectors.agent_config().unwrap(),
            r#"{"mcpServers":{"calc":{"type":"sdk"},"docs":{"type":"sdk"}}}"#
        );
    }
}
