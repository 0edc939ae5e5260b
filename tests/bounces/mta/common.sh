# Shared steps of the MTA runs (sourced by <mta>/run.sh). Run as root on a scratch Debian 12.
MTA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=/tmp/mta-run
mkdir -p "$RUN"

start_unbound() {   # local resolver for the test. zone on 127.0.0.1:53
  pgrep -f "unbound -d -c $MTA_DIR/unbound.conf" >/dev/null ||
    { unbound -d -c "$MTA_DIR/unbound.conf" >"$RUN/unbound.log" 2>&1 & echo $! >"$RUN/unbound.pidfile"; }
}
start_responder() { # the remote side on 127.0.0.2-9:25
  pgrep -f "$MTA_DIR/responder.py" >/dev/null ||
    { python3 "$MTA_DIR/responder.py" --log "$RUN/responder.log" >>"$RUN/responder.out" 2>&1 &
      echo $! >"$RUN/responder.pidfile"; }
}
make_users() {      # bounces (gets the returned mail), fulluser (over quota), localuser
  for u in bounces fulluser localuser; do id "$u" >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin "$u"; done
}
reset_maildirs() {  # empty Maildirs; fulluser's holds 20 kB already
  for u in bounces fulluser localuser; do
    rm -rf "/home/$u/Maildir"; mkdir -p "/home/$u/Maildir/"{new,cur,tmp}
  done
  head -c 20000 /dev/zero | tr '\0' 'x' | fold -w 76 > /home/fulluser/Maildir/cur/1.filler:2,S
  for u in bounces fulluser localuser; do chown -R "$u:$u" "/home/$u/Maildir"; chmod -R go-rwx "/home/$u/Maildir"; done
}
