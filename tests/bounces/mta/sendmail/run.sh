#!/bin/bash
# Sendmail 8.17.1 run: bounces into ../corpus/sendmail-real/ (see ../README). Run as root.
set -e
source "$(dirname "$0")/../common.sh"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q sendmail
cp "$MTA_DIR/sendmail/sendmail.mc" /etc/mail/sendmail.mc && make -C /etc/mail
cp "$MTA_DIR/sendmail/procmailrc" /etc/procmailrc     # local delivery into ~/Maildir/
mkdir -p /var/lib/sendmail/host_status
start_unbound; start_responder; make_users; reset_maildirs
"$MTA_DIR/ns.sh" /usr/sbin/sendmail -bd -q30s
# no local quota in sendmail's local mailer: local-full is skipped
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta sendmail --skip local-full
# The bounces of large-data/large-gmail return the whole 60 kB message, which the local
# mailer (M=40000) cannot deliver; they are sent again with RET=HDRS:
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta sendmail --only large-data large-gmail \
    --via smtp --ret HDRS --first-profile 46
sleep 420   # Timeout.queuereturn=5m
python3 "$MTA_DIR/collect.py" /home/bounces/Maildir "$MTA_DIR/../corpus/sendmail-real"
# (the two double bounces of the first large-data/large-gmail tries went to root: discarded)
kill "$(head -1 /run/sendmail/mta/sendmail.pid 2>/dev/null || pgrep -f 'sendmail: MTA')"
rm -f /etc/procmailrc
