# shellcheck shell=sh
# script/lib.sh: shared by every script/*; sourced, never run.
# Refuses to run anywhere but the repository root, as scripts-to-rule-them-all asks.

require_repo_root() {
  if [ ! -f pyproject.toml ] || [ ! -f script/lib.sh ] || [ ! -d core ]; then
    echo "FAILED: $(basename "$0") must be run from the repository root (the folder holding pyproject.toml and script/); you are in $(pwd). Run: cd /path/to/core && script/$(basename "$0")" >&2
    exit 1
  fi
}

# uv installs the locked environment; it comes from PyPI when the machine has none.
ensure_uv() {
  if command -v uv >/dev/null 2>&1; then
    export UV=uv
    return
  fi
  if [ ! -x .venv-tools/bin/uv ]; then
    echo "==> installing uv into .venv-tools"
    python3 -m venv .venv-tools
    .venv-tools/bin/pip install --quiet uv
  fi
  export UV=.venv-tools/bin/uv
}
