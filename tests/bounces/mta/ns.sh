#!/bin/sh
# Run a command in a private mount namespace where /etc/resolv.conf points at the local
# unbound (127.0.0.1) and /etc/hosts names the test MTA. Start the MTA daemon, the
# submissions and queue runs through this, so that no DNS query goes to the machine's
# real resolver. Usage: ns.sh COMMAND [ARGS...]
here=$(cd "$(dirname "$0")" && pwd)
exec unshare --mount --propagation private sh -c '
  mount --bind "$0/resolv.conf" /etc/resolv.conf &&
  mount --bind "$0/hosts" /etc/hosts &&
  shift 0 && exec "$@"' "$here" "$@"
