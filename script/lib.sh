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

# The interpreter .venv is built on: CORE_PYTHON when set (a path or a version); otherwise the distribution's
# CPython of the version .python-version names (e.g. /usr/bin/python3.11) when the
# machine has it, then uv's own choice of that version. Debian and Ubuntu build their
# CPython with profile-guided and link-time optimisation, as the official python images
# CORE's containers run on are built; one compiled locally with default flags (pyenv's
# default) started the worker server 16% slower here (docs/performance.md, "Tenth round").
python_request() {
  if [ -n "${CORE_PYTHON:-}" ]; then
    case "$CORE_PYTHON" in
      */*) [ -x "$CORE_PYTHON" ] || { echo "FAILED: CORE_PYTHON is '$CORE_PYTHON', which is not an executable file; expected the path of a Python interpreter (e.g. /usr/bin/python3.11) or a version uv can find (e.g. 3.11); unset it to use the default" >&2; exit 1; } ;;
    esac
    echo "$CORE_PYTHON"
    return
  fi
  version=$(cat .python-version)
  if [ -x "/usr/bin/python$version" ]; then
    echo "/usr/bin/python$version"
  else
    echo "$version"
  fi
}
