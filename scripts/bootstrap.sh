# Sourced by scripts/demo and scripts/test: a virtualenv in .venv with kubefence installed.
# Usage: . scripts/bootstrap.sh EXTRAS   (EXTRAS such as "cli" or "dev")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

find_python() {
    for candidate in python3.11 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "kubefence needs Python 3.11 or newer on PATH" >&2
    return 1
}

apt_install() {
    # Debian's own python needs python3-venv for 'python3 -m venv'; install it when we can.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
    else
        echo "missing system packages: $* (install them, e.g. sudo apt-get install $*)" >&2
        return 1
    fi
}

python="$(find_python)"
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt_install python3-venv
        "$python" -m venv .venv
    fi
fi
stamp=".venv/.kubefence-$1-$(cat pyproject.toml | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[$1]"
    touch "$stamp"
fi
