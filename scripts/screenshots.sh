#!/usr/bin/env bash
# Regenerates the README's pictures from the real program: runs promptlab in tmux on the
# embedded model, drives it with keys, captures the screen with colours, renders SVG into
# assets/. Needs tmux (apt) and the model (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "screenshots: install tmux" >&2; exit 1; }
scripts/setup.sh >&2
cargo build --release --quiet
cols=150 rows=42 session=promptlab-shots
tmux kill-session -t "$session" 2>/dev/null || true
tmux new-session -d -s "$session" -x "$cols" -y "$rows" "./target/release/promptlab tui -t gsm8k-cot -n 8 --seed 3; sleep 30"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
shot() { tmux capture-pane -t "$session" -e -p | python3 scripts/ansi_to_svg.py "$cols" "$rows" > "assets/$1.svg"; echo "assets/$1.svg"; }
wait_for() { for _ in $(seq 1 600); do tmux capture-pane -t "$session" -p | grep -q "$1" && return 0; sleep 0.2; done; echo "timed out waiting for: $1" >&2; return 1; }

wait_for "(ready)"
# Example editing: focus the examples, switch one off, open another.
tmux send-keys -t "$session" BTab Down Down Space Down
sleep 0.3
shot lab-examples
tmux send-keys -t "$session" Enter
sleep 0.3
shot lab-example-editor
tmux send-keys -t "$session" Escape
# A run: 8 paths beside the live tally.
tmux send-keys -t "$session" F5
wait_for "run 1: answer\|run 1: no path\|run 1: every"
tmux send-keys -t "$session" Tab Tab Tab Tab
sleep 0.3
shot lab-run
