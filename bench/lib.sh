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

# bench_options "SPEC ..." ARGS...: the scripts' option loop. A SPEC --name=variable takes a value
# into the variable; --name=variable! is a switch that sets the variable to --name. -h/--help
# prints the script's header comment (its lines after the #! line up to the first that is not a
# comment) and exits 0; anything else is an unknown argument (exit 2).
bench_options() {
  local spec=" $1 " var
  shift
  while [ $# -gt 0 ]; do
    case "$spec" in
      *" $1="*) var=${spec#*" $1="} var=${var%% *} ;;
      *) var="" ;;
    esac
    if [ -n "$var" ] && [ "${var%!}" != "$var" ]; then
      printf -v "${var%!}" '%s' "$1"
      shift
    elif [ -n "$var" ]; then
      printf -v "$var" '%s' "$2"
      shift 2
    elif [ "$1" = -h ] || [ "$1" = --help ]; then
      sed -n '2,/^[^#]/{/^#/p}' "$0"
      exit 0
    else
      bench_unknown_argument "$1"
    fi
  done
}

# bench_need_torch HOW: fails unless $PYTHON imports torch; HOW says how to install it.
bench_need_torch() { "$PYTHON" -c 'import torch' 2>/dev/null || bench_fail "$PYTHON has no torch ($1)"; }

# bench_need_autodl DIR: fails unless the --autodl checkout (TAS's code) was given.
bench_need_autodl() {
  [ -n "$1" ] || bench_fail "--autodl DIR (a checkout of D-X-Y/AutoDL-Projects) is required"
}

# field KEY < JSON: the value of KEY in the JSON object on stdin (nce's and the peers' --json lines).
field() { "$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }
