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
  "$venv/bin/pip" install --quiet --upgrade pip wheel >&2
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
  "$venv/bin/pip" install --quiet torch==2.13.0 >&2
  "$venv/bin/pip" install --quiet -r requirements/base.in -r requirements/dev.in -c requirements/lock.txt >&2
  touch "$venv/.complete"
fi
echo "$venv"
