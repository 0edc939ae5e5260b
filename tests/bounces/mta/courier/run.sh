#!/bin/bash
# Courier 1.0.16 run: bounces into ../corpus/courier-real/ (see ../README). Run as root.
set -e
source "$(dirname "$0")/../common.sh"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends courier-mta
"$MTA_DIR/courier/configure.sh"
start_unbound; start_responder; make_users; reset_maildirs
# the VERP bounces are delivered through /etc/courier/aliasdir, as the courier user
chown -R courier:courier /home/bounces/Maildir; chmod 711 /home/bounces
# fulluser: a Maildir quota of 10000 bytes, already exceeded (20 kB)
rm -rf /home/fulluser/Maildir && maildirmake -q 10000S /home/fulluser/Maildir
head -c 20000 /dev/zero | tr '\0' 'x' | fold -w 76 > /home/fulluser/Maildir/cur/1.filler:2,S
rm -f /home/fulluser/Maildir/maildirsize && maildirmake -q 10000S /home/fulluser/Maildir
chown -R fulluser:fulluser /home/fulluser/Maildir
"$MTA_DIR/ns.sh" /usr/sbin/authdaemond start   # courierlocal looks accounts up through it
"$MTA_DIR/ns.sh" courier start
"$MTA_DIR/ns.sh" esmtpd start
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta courier
# Courier's SMTP server refuses addresses @localhost (no dot): the SMTP scenarios again
# with @mta.livereport.test (also a local domain here)
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta courier --first-profile 47 \
    --only success-local success-remote unknown-postfix local-unknown-smtp \
    --sender-domain mta.livereport.test --local-domain mta.livereport.test
sleep 480   # queuetime 5m (the blackhole attempt itself takes minutes)
python3 "$MTA_DIR/collect.py" /home/bounces/Maildir "$MTA_DIR/../corpus/courier-real"
esmtpd stop; courier stop; /usr/sbin/authdaemond stop
