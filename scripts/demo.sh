#!/usr/bin/env bash
# A demo session: `workroom run` boots the VM, shares a scratch folder and lets the agent work in it.
# Against the real Anthropic API when ANTHROPIC_API_KEY is set, else against the local fake model with a
# scripted reply. Usage: scripts/demo.sh ["your prompt"]   (run scripts/setup.sh once first)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"
prompt=${1:-"Create notes.md with three tips for naming files, then list the folder."}
cargo build --quiet -p workroom-host -p fake-model
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d -t workroom-demo-XXXXXX)
aux=$(mktemp -d -t workroom-demo-aux-XXXXXX)
fake_pid=""
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$aux"; true; }
trap cleanup EXIT

if [ -z "${ANTHROPIC_API_KEY:-}" ]; then
  cat > "$aux/script.json" <<'JSON'
{"rules": [
  {"when": {"last_user_text_contains": ""}, "times": 1, "reply": {"content": [
    {"type": "text", "text": "I'll write the notes."},
    {"type": "tool_use", "name": "Write", "input": {"file_path": "notes.md", "content": "# Naming files\n\n1. Start with the date: 2026-11-27-report.md\n2. Use words, not codes.\n3. No spaces: use dashes.\n"}}]}},
  {"when": {"tool_result_contains": "created"}, "times": 1, "reply": {"content": [
    {"type": "tool_use", "name": "Bash", "input": {"command": "ls -la", "description": "List the folder"}}]}},
  {"when": {}, "reply": {"content": [{"type": "text", "text": "Done: **notes.md** has three tips, and the folder now holds it."}]}}
]}
JSON
  "$target/debug/fake-model" --script "$aux/script.json" > "$aux/fake.out" 2>/dev/null &
  fake_pid=$!
  for _ in $(seq 100); do grep -q listening "$aux/fake.out" 2>/dev/null && break; sleep 0.05; done
  export WORKROOM_BASE_URL=$(awk '/listening/ {print $3}' "$aux/fake.out")
  export ANTHROPIC_API_KEY=sk-ant-demo
  echo "(no ANTHROPIC_API_KEY set: using the local fake model at $WORKROOM_BASE_URL)"
fi
echo "folder: $work"
"$target/debug/workroom" run --folder "$work" "$prompt"
