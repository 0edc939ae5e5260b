#!/usr/bin/env python3
"""Submit the test mails of one MTA run (standard library only; run it through ns.sh).

Each scenario sends one mail (campaign realmta-<scenario>, a new profile p-<n> each) from
the VERP envelope sender bounces+<campaign>=<profile>@localhost to the recipient(s) below,
either through the MTA's sendmail command ("cmd") or over SMTP to 127.0.0.1:25 ("smtp",
which also lets us ask for DSN NOTIFY=SUCCESS,... and RET=HDRS).

  python3 send.py --mta exim [--only SCENARIO ...] [--skip SCENARIO ...]
  python3 send.py --list
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.utils import formatdate


@dataclass
class Scenario:
    name: str
    rcpts: list[str]
    via: str = "cmd"  # "cmd" (sendmail binary) or "smtp"
    big: bool = False  # a ~60 kB message
    notify: str | None = None  # DSN NOTIFY= for smtp
    ret: str | None = None  # DSN RET= for smtp
    note: str = ""
    tags: set[str] = field(default_factory=set)


L = "localhost"
SCENARIOS: list[Scenario] = [
    # local delivery
    Scenario("local-unknown", [f"alice.nobody@{L}"], note="unknown local user"),
    Scenario(
        "local-unknown-smtp",
        [f"bob.nobody@{L}"],
        via="smtp",
        ret="HDRS",
        note="unknown local user, SMTP submission (some MTAs refuse it at RCPT: no bounce)",
    ),
    Scenario("local-full", [f"fulluser@{L}"], note="local mailbox over quota", tags={"local-full"}),
    Scenario(
        "local-large",
        [f"localuser@{L}"],
        big=True,
        note="local delivery of a message over the local size limit",
        tags={"local-large"},
    ),
    Scenario(
        "success-local",
        [f"localuser@{L}"],
        via="smtp",
        notify="SUCCESS",
        note="delivered locally, DSN NOTIFY=SUCCESS",
    ),
    Scenario(
        "success-remote",
        ["ok@provider.test"],
        via="smtp",
        notify="SUCCESS",
        note="relayed to a server without DSN, NOTIFY=SUCCESS",
    ),
    # DNS
    Scenario("dns-nxdomain", ["someone@nosuchdomain.test"], note="domain does not exist"),
    Scenario("dns-nomx", ["someone@nomx.test"], note="domain exists, no MX and no A"),
    Scenario("dns-nullmx", ["someone@nullmx.test"], note="null MX (RFC 7505)"),
    Scenario("dns-badmx", ["someone@badmx.test"], note="MX host does not exist"),
    # remote rejections: mailbox does not exist
    Scenario("unknown-gmail", ["no.such.person@gmail.test"]),
    Scenario("unknown-o365", ["former.employee@outlook.test"]),
    Scenario("unknown-outlook", ["nobody.here@outlook.test"]),
    Scenario("unknown-exchange-denied", ["ex.denied@outlook.test"]),
    Scenario("unknown-yahoo", ["gone.user@yahoo.test"]),
    Scenario("unknown-postfix", ["jdoe@provider.test"], via="smtp", ret="HDRS"),
    Scenario("unknown-500-prose", ["no.such.user@provider.test"]),
    Scenario("unknown-no-enhanced", ["olduser@provider.test"]),
    Scenario("unknown-moved", ["moved.away@provider.test"]),
    Scenario(
        "multi-rcpt",
        ["jdoe@provider.test", "full.inbox@gmail.test", "ok@provider.test"],
        note="three recipients: two refused, one accepted",
    ),
    # disabled
    Scenario("disabled-gmail", ["inactive.account@gmail.test"]),
    Scenario("disabled-yahoo", ["closed.account@yahoo.test"]),
    # full
    Scenario("full-gmail", ["full.inbox@gmail.test"]),
    Scenario("full-dovecot", ["stuffed@provider.test"]),
    # too large
    Scenario("large-data", ["big.attachments@provider.test"], big=True),
    Scenario("large-gmail", ["big@gmail.test"], big=True),
    Scenario(
        "large-size-ext",
        ["anyone@smallsize.test"],
        big=True,
        note="the server advertises SIZE 20000",
    ),
    # content and policy
    Scenario("spam-gmail", ["spam.check@gmail.test"]),
    Scenario("spam-content", ["filtered@outlook.test"]),
    Scenario("spam-virus", ["virus.check@provider.test"]),
    Scenario("policy-dmarc", ["dmarc.check@gmail.test"]),
    Scenario("policy-spf-rcpt", ["spf.check@provider.test"]),
    Scenario("policy-spf-mail", ["anyone@strict.test"], note="SPF refusal at MAIL FROM"),
    Scenario("block-spamhaus", ["rbl.check@provider.test"]),
    Scenario("block-yahoo", ["bl.check@yahoo.test"]),
    Scenario("block-outlook", ["ip.policy@outlook.test"]),
    Scenario("block-banner", ["anyone@blocked.test"], note="554 greeting", tags={"slow"}),
    Scenario("relay-denied", ["someone@notours.test"]),
    Scenario("relay-exchange", ["other@notours.test"]),
    Scenario("generic-550", ["generic@provider.test"]),
    # temporary failures until the queue lifetime runs out
    Scenario("greylist", ["greylisted@provider.test"], tags={"slow"}),
    Scenario("rate-gmail", ["busy@gmail.test"], tags={"slow"}),
    Scenario("rate-yahoo", ["deferred@yahoo.test"], tags={"slow"}),
    Scenario("quota-temp", ["quota.temp@provider.test"], tags={"slow"}),
    Scenario("timeout", ["anyone@blackhole.test"], tags={"slow"}),
    Scenario("refused", ["anyone@refused.test"], tags={"slow"}),
]

SENDMAIL = {
    "exim": ["/usr/sbin/exim4", "-oi", "-oem"],
    "postfix": ["/usr/sbin/sendmail", "-oi"],
    "sendmail": ["/usr/sbin/sendmail", "-Am", "-oi", "-oem"],
    "opensmtpd": ["/usr/sbin/sendmail", "-oi"],
    "courier": ["/usr/sbin/sendmail", "-oi"],
}


def message(campaign: str, profile: str, rcpts: list[str], big: bool) -> bytes:
    body = f"Hello, this is campaign {campaign} for profile {profile}.\n"
    if big:
        line = "This line only makes the message large enough for the size limit tests.\n"
        body += line * 820  # ~60 kB
    head = (
        "From: Spring Sale <news@shop.livereport.test>\n"
        f"To: {', '.join(f'<{r}>' for r in rcpts)}\n"
        f"Subject: Offer for {profile}\n"
        f"Message-ID: <{campaign}.{profile}@shop.livereport.test>\n"
        f"X-Livereport-Campaign: {campaign}\n"
        f"X-Livereport-Profile: {profile}\n"
        f"X-Livereport-Event: evt-{campaign}-{profile}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        f"Date: {formatdate()}\n"
    )
    return (head + "\n" + body).encode()


def send(mta: str, sc: Scenario, profile: str, sender_domain: str = "localhost") -> str:
    campaign = f"realmta-{sc.name}"
    sender = f"bounces+{campaign}={profile}@{sender_domain}"
    data = message(campaign, profile, sc.rcpts, sc.big)
    if sc.via == "cmd":
        p = subprocess.run(
            SENDMAIL[mta] + ["-f", sender, *sc.rcpts], input=data, capture_output=True, timeout=120
        )
        return f"cmd rc={p.returncode} {p.stdout.decode()}{p.stderr.decode()}".strip()
    with smtplib.SMTP("127.0.0.1", 25, local_hostname="shop.livereport.test", timeout=60) as s:
        s.ehlo()
        dsn = s.has_extn("dsn")
        mail_opts = [f"RET={sc.ret}", f"ENVID={campaign}.{profile}"] if dsn and sc.ret else []
        rcpt_opts = [f"NOTIFY={sc.notify}"] if dsn and sc.notify else []
        if sc.big:
            mail_opts.append(f"SIZE={len(data)}")
        try:
            refused = s.sendmail(
                sender,
                sc.rcpts,
                data.replace(b"\n", b"\r\n"),
                mail_options=mail_opts,
                rcpt_options=rcpt_opts,
            )
        except smtplib.SMTPException as e:
            return f"smtp dsn={dsn} refused: {e}"
        return f"smtp dsn={dsn} ok {refused or ''}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mta", choices=sorted(SENDMAIL))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--skip", nargs="*", default=[])
    ap.add_argument("--skip-tag", nargs="*", default=[])
    ap.add_argument("--first-profile", type=int, default=1)
    ap.add_argument("--via", choices=["cmd", "smtp"], help="override the scenarios' way in")
    ap.add_argument("--ret", choices=["FULL", "HDRS"], help="override DSN RET= (smtp only)")
    ap.add_argument(
        "--sender-domain",
        default="localhost",
        help="domain of the VERP sender (Courier's SMTP server refuses @localhost)",
    )
    ap.add_argument(
        "--local-domain",
        default="localhost",
        help="domain for the local recipients (Courier's SMTP server refuses @localhost)",
    )
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for sc in SCENARIOS:
            print(f"{sc.name:<24} {' '.join(sc.rcpts)}  {sc.note}")
        return
    n = a.first_profile
    for sc in SCENARIOS:
        if a.only and sc.name not in a.only:
            continue
        if sc.name in a.skip or sc.tags & set(a.skip_tag):
            continue
        if a.via:
            sc.via = a.via
        if a.ret:
            sc.ret = a.ret
        sc.rcpts = [r.replace("@localhost", "@" + a.local_domain) for r in sc.rcpts]
        profile = f"p-{n}"
        n += 1
        print(f"{sc.name:<24} {profile:<6} {send(a.mta, sc, profile, a.sender_domain)}", flush=True)
        time.sleep(0.3)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
