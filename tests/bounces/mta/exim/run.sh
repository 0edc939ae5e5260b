#!/bin/bash
# Exim 4.96 run: bounces into ../corpus/exim-real/ (see ../README). Run as root.
set -e
source "$(dirname "$0")/../common.sh"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends exim4-daemon-light
cp "$MTA_DIR/exim/exim4.conf" /etc/exim4/exim4.conf
mkdir -p "$RUN/exim" && chown Debian-exim "$RUN/exim"
start_unbound; start_responder; make_users; reset_maildirs
"$MTA_DIR/ns.sh" exim4 -bd -q1m
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta exim
sleep 420   # retry rule F,4m,1m: the temporary failures bounce after ~5 minutes
python3 "$MTA_DIR/collect.py" /home/bounces/Maildir "$MTA_DIR/../corpus/exim-real"
kill "$(cat /run/exim4/exim.pid 2>/dev/null || pgrep -x exim4)"
