#!/bin/bash
# OpenSMTPD 6.8.0p2 run: bounces into ../corpus/opensmtpd-real/ (see ../README). Run as root.
set -e
source "$(dirname "$0")/../common.sh"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends opensmtpd
cp "$MTA_DIR/opensmtpd/smtpd.conf" /etc/smtpd.conf
start_unbound; start_responder; make_users; reset_maildirs
"$MTA_DIR/ns.sh" smtpd -f /etc/smtpd.conf
# no local quota or local size limit in OpenSMTPD's maildir delivery; unknown local users
# are refused at submission (no bounce): those scenarios give nothing
"$MTA_DIR/ns.sh" python3 "$MTA_DIR/send.py" --mta opensmtpd --skip local-full local-large
sleep 150; smtpctl schedule all   # a retry before the ttl, so that the delay warnings come
sleep 240                          # queue ttl 5m
python3 "$MTA_DIR/collect.py" /home/bounces/Maildir "$MTA_DIR/../corpus/opensmtpd-real"
# OpenSMTPD reports the expiry as a second "delayed" DSN ("Envelope expired", 4.4.7):
cd "$MTA_DIR/../corpus/opensmtpd-real"
for f in delay-*-02.eml; do s=${f#delay-}; s=${s%-02.eml}
  grep -q "Envelope expired" "$f" && mv "$f" "expired-$s-01.eml"; done
kill "$(pgrep -o -x smtpd)"
