# Sourced by ops/run and ops/test: a project virtualenv on Python 3.11+, installed once per
# change of pyproject.toml (pip's output is shown only if it fails).
VENV="${POCKETCODE_VENV:-.venv}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "pocketcode needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 2
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x "$VENV/bin/python" ]; then
  echo "Setting up $VENV (first run only)..." >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
fi

# install_once SPEC: pip install -e SPEC unless this pyproject.toml was installed with it already.
install_once() {
  local hash stamp
  hash="$(cksum < pyproject.toml | cut -d' ' -f1)"
  stamp="$VENV/.installed-$hash-${1//[^a-z]/}"
  [ -f "$stamp" ] && return 0
  local log="$VENV/pip-install.log"
  if ! "$VENV/bin/pip" install -e "$1" >"$log" 2>&1; then
    cat "$log" >&2
    echo "pocketcode: installing the dependencies failed (see above)" >&2
    exit 2
  fi
  find "$VENV" -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete
  touch "$stamp"
}
