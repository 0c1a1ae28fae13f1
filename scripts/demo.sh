#!/usr/bin/env bash
# A demo session of workroom-agent in a scratch folder: against the real Anthropic API when
# ANTHROPIC_API_KEY is set, else against the local fake model with a scripted reply.
# Usage: scripts/demo.sh ["your prompt"]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
prompt=${1:-"Create notes.md with three tips for naming files, then list the folder."}
cargo build --quiet -p workroom-agent -p fake-model
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d -t workroom-demo-XXXXXX)
aux=$(mktemp -d -t workroom-demo-aux-XXXXXX)
fake_pid=""
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$aux"; true; }
trap cleanup EXIT

if [ -z "${ANTHROPIC_API_KEY:-}" ]; then
  cat > "$aux/script.json" <<JSON
{"steps": [
  {"content": [{"type": "text", "text": "I'll write the notes."},
               {"type": "tool_use", "name": "Write", "input": {"file_path": "$work/notes.md", "content": "# Naming files\n\n1. Start with the date: 2026-11-27-report.md\n2. Use words, not codes.\n3. No spaces: use dashes.\n"}}]},
  {"content": [{"type": "tool_use", "name": "Bash", "input": {"command": "ls -la", "description": "List the folder"}}]},
  {"content": [{"type": "text", "text": "Done: **notes.md** has three tips, and the folder now holds it."}]}
]}
JSON
  "$target/debug/fake-model" --script "$aux/script.json" > "$aux/fake.out" 2>/dev/null &
  fake_pid=$!
  for _ in $(seq 100); do grep -q listening "$aux/fake.out" 2>/dev/null && break; sleep 0.05; done
  export ANTHROPIC_BASE_URL=$(awk '/listening/ {print $3}' "$aux/fake.out")
  export ANTHROPIC_API_KEY=sk-ant-demo
  echo "(no ANTHROPIC_API_KEY set: using the local fake model at $ANTHROPIC_BASE_URL)"
fi
echo "folder: $work"
echo "you: $prompt"
cd "$work"
"$target/debug/workroom-agent" --input-format text --output-format stream-json \
  --permission-mode acceptEdits --allowedTools "Bash(ls:*)" "$prompt" | python3 -u "$repo/scripts/show-frames.py"
