#!/usr/bin/env bash
# Creates (once) the virtual environment for the current lock file and prints its path.
#
# The environment lives outside the checkout, keyed by a hash of the requirement files,
# so fresh clones with the same lock reuse it and a changed lock builds a new one. A
# half-built environment (interrupted install) has no `.complete` stamp and is rebuilt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
key=$(cat requirements/base.in requirements/dev.in requirements/lock.txt | sha256sum | cut -c1-12)
venv=${SPOILER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/spoiler-shield/venv-$key}
python=${PYTHON:-python3.11}
if [ ! -f "$venv/.complete" ]; then
  echo "installing dependencies into $venv (several GB, a few minutes the first time)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # pip's warnings about this machine's missing local index folders are noise: drop them.
  install() { "$venv/bin/pip" install --quiet "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
  install --upgrade pip wheel
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
  install torch==2.13.0
  install -r requirements/base.in -r requirements/dev.in -c requirements/lock.txt
  touch "$venv/.complete"
fi
echo "$venv"
