//! The record of every request the server received, in memory and optionally as a JSONL file.
//!
//! The file exists so that tests running in another process than the server (the Python tests, or
//! an agent driven through a VM) can assert on exactly what the client sent.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;

/// One received HTTP request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path including the query string, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Headers with lowercase names; repeated headers are joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON; `null` if empty, a JSON string holding the raw text if not JSON.
    pub body: Value,
    /// Which part of the script answered: `steps[N]`, `rules[N]`, `default`, or absent when the
    /// request did not reach the script (errors, `count_tokens`, unknown paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

/// In-memory list of requests plus the optional JSONL file mirroring it.
pub(crate) struct RequestLog {
    entries: Mutex<Vec<RecordedRequest>>,
    file: Option<Mutex<File>>,
}

impl RequestLog {
    pub(crate) fn new(path: Option<&Path>) -> Result<Self, Error> {
        let file = match path {
            Some(path) => Some(Mutex::new(
                File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| Error::OpenLog {
                        path: path.to_path_buf(),
                        source,
                    })?,
            )),
            None => None,
        };
        Ok(RequestLog {
            entries: Mutex::new(Vec::new()),
            file,
        })
    }

    /// Appends a request. The file line is written and flushed before this returns, so a test that
    /// got its response can read the log immediately.
    pub(crate) fn push(&self, request: RecordedRequest) {
        if let Some(file) = &self.file {
            match serde_json::to_string(&request) {
                Ok(mut line) => {
                    line.push('\n');
                    let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(err) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                        tracing::warn!(%err, "cannot append to the request log file");
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot serialize a request for the log file"),
            }
        }
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
