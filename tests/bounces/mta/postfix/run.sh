#!/bin/bash
# Postfix 3.7.11 second run: remote replies, DNS, expiry, delay and success DSNs, into
# ../corpus/postfix-real/ next to the first batch (see ../README). Run as root.
set -e
source "$(dirname "$0")/../common.sh"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix
cp "$MTA_DIR/postfix/main.cf" /etc/postfix/main.cf
postconf -F '*/*/chroot = n'    # no chroot: the daemons use the namespace's resolv.conf
newaliases
start_unbound; start_responder; make_users; reset_maildirs
"$MTA_DIR/ns.sh" postfix start
# the local scenarios are in the first batch already
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta postfix --first-profile 101 \
    --skip local-unknown local-unknown-smtp local-full local-large
sleep 480   # maximal_queue_lifetime = 5m
python3 "$MTA_DIR/collect.py" /home/bounces/Maildir "$MTA_DIR/../corpus/postfix-real"
postfix stop
