#!/bin/bash
# Courier 1.0.16 (Debian 12) configuration for the bounce corpus run: host name, local
# domains, SMTP on 127.0.0.1 only, short queue times, a quota on fulluser's Maildir.
# The DSN templates (dsn*.txt) are left as Debian ships them.
set -e
cd /etc/courier
echo mta.livereport.test > me
echo localhost > defaultdomain
printf 'localhost\nmta.livereport.test\nvm\n' > locals
# temporary failures expire within minutes
echo 5m > queuetime; echo 2m > warntime
echo 1m > retryalpha; echo 2 > retrybeta; echo 1m > retrygamma; echo 1 > retrymaxdelta
echo 10 > esmtptimeoutconnect; echo 20 > esmtptimeouthelo; echo 20 > esmtptimeoutreply
echo 20 > esmtptimeoutdata; echo 20 > esmtptimeoutkeepalive
# SMTP server on 127.0.0.1 only, no tarpit or DNS checks of the sender
sed -i -e 's/^ESMTPDSTART=.*/ESMTPDSTART=YES/' -e 's/^TARPIT=.*/TARPIT=0/' \
       -e 's/^BOFHCHECKDNS=.*/BOFHCHECKDNS=0/' esmtpd
grep -q '^ADDRESS=' esmtpd && sed -i 's/^ADDRESS=.*/ADDRESS=127.0.0.1/' esmtpd || echo 'ADDRESS=127.0.0.1' >> esmtpd
grep -q '^ESMTPDSTART=' esmtpd || echo 'ESMTPDSTART=YES' >> esmtpd
# Courier has no "+" address extension (it uses "-"): the VERP addresses
# bounces+realmta-...@localhost have no account, and end in aliasdir, where
# .courier-bounces+realmta-default catches them all and delivers into bounces' Maildir.
echo '/home/bounces/Maildir' > 'aliasdir/.courier-bounces+realmta-default'
chmod 644 'aliasdir/.courier-bounces+realmta-default'
makesmtpaccess
makealiases
