# Sourced first by the bench/*.sh scripts (`source "$(dirname "$0")/lib.sh"`): the shell options
# they all run under, where they are, the checks they run before they start and the small tools
# they share. Sets `here` (the bench/ folder, absolute) and `tool` (the script's name in messages).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tool="$(basename "$0" .sh)"
# PYTHON: the interpreter of the Python peers (default /usr/bin/python3, Debian's python3-torch).
PYTHON="${PYTHON:-/usr/bin/python3}"

# bench_fail MESSAGE: "<tool>: MESSAGE" on stderr, exit status 2 (a usage or set-up error).
bench_fail() { echo "$tool: $*" >&2; exit 2; }

# bench_unknown_argument ARG: what a script's option loop does with an argument it does not know.
bench_unknown_argument() { bench_fail "unknown argument $1"; }

# bench_need_torch HOW: fails unless $PYTHON imports torch; HOW says how to install it.
bench_need_torch() { "$PYTHON" -c 'import torch' 2>/dev/null || bench_fail "$PYTHON has no torch ($1)"; }

# bench_need_autodl DIR: fails unless the --autodl checkout (TAS's code) was given.
bench_need_autodl() {
  [ -n "$1" ] || bench_fail "--autodl DIR (a checkout of D-X-Y/AutoDL-Projects) is required"
}

# field KEY < JSON: the value of KEY in the JSON object on stdin (nce's and the peers' --json lines).
field() { "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }
