#!/usr/bin/env python3
"""A scriptable SMTP server that plays the remote side for the MTA bounce runs.

It listens on port 25 of several loopback addresses (127.0.0.2 ... 127.0.0.9), one per
"provider" (see unbound.conf for the MX records), and answers each recipient with the
reply texts in REPLIES below: texts as the big providers publish them (Gmail, Outlook /
Office 365, Yahoo) and as common servers write them (Postfix, Dovecot, amavis). Nothing
here talks to any other host. Standard library only: python3 responder.py [--log FILE].

Behaviour per address:
  127.0.0.2-5  normal ESMTP; each recipient's local part picks its reply (REPLIES)
  127.0.0.6    advertises SIZE 20000 and refuses larger messages at MAIL FROM / DATA
  127.0.0.7    refuses every MAIL FROM with an SPF reply
  127.0.0.8    greets with a 554 blocklist banner (connection-time block)
  127.0.0.9    accepts the TCP connection and never says anything (timeouts)
  127.0.0.10   nothing listens there (connection refused)
"""

from __future__ import annotations

import argparse
import asyncio
import time

ADDRESSES = {
    "127.0.0.2": "mx.google.test ESMTP x1-20020a05.42 - gsmtp",
    "127.0.0.3": "DB5EUR03FT011.mail.protection.outlook.test Microsoft ESMTP MAIL Service ready",
    "127.0.0.4": "mta5.am0.yahoodns.test ESMTP ready",
    "127.0.0.5": "mx.provider.test ESMTP Postfix",
    "127.0.0.6": "mx.smallsize.test ESMTP",
    "127.0.0.7": "mx.strict.test ESMTP",
    "127.0.0.8": None,  # blocklist banner, see below
    "127.0.0.9": None,  # silent
}
BLOCK_BANNER = [
    "554-mx.blocked.test ESMTP not accepting messages from 127.0.0.1:",
    "554 5.7.1 Your IP 127.0.0.1 is listed at Spamhaus ZEN; see https://check.spamhaus.org/",
]
SPF_AT_MAIL = [
    "550 5.7.23 The message was rejected because of Sender Policy Framework violation"
    " -> SPF check failed for livereport.test [127.0.0.1]"
]

# local part -> (phase, reply lines). Phase "rcpt": the reply to RCPT TO; "data": the
# reply after the message data (the RCPT is accepted); "rcpt-close": reply then hang up.
G = "https://support.google.com/mail/?p="
REPLIES: dict[str, tuple[str, list[str]]] = {
    # --- the mailbox does not exist
    "no.such.person": (
        "rcpt",
        [
            "550-5.1.1 The email account that you tried to reach does not exist. Please try",
            "550-5.1.1 double-checking the recipient's email address for typos or",
            "550-5.1.1 unnecessary spaces. For more information, go to",
            f"550 5.1.1  {G}NoSuchUser a640c23a62f3a-a7a9c6c1f1fsi1234567ejc.123 - gsmtp",
        ],
    ),
    "former.employee": (
        "rcpt",
        [
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        ],
    ),
    "nobody.here": (
        "rcpt",
        [
            "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)."
            " [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]",
        ],
    ),
    "ex.denied": (
        "rcpt",
        [
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)"
            " [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]",
        ],
    ),
    "gone.user": (
        "rcpt",
        [
            "554 delivery error: dd This user doesn't have a yahoo.com account"
            " (gone.user@yahoo.test) [0] - mta1042.mail.ne1.yahoo.com",
        ],
    ),
    "jdoe": (
        "rcpt",
        [
            "550 5.1.1 <jdoe@provider.test>: Recipient address rejected:"
            " User unknown in virtual mailbox table",
        ],
    ),
    "no.such.user": ("rcpt", ["550 5.0.0 <no.such.user@provider.test>... No such user"]),
    "olduser": ("rcpt", ["550 No such user - psmtp"]),
    "moved.away": ("rcpt", ["550 5.1.6 Recipient addresses moved; no forwarding address"]),
    # --- the mailbox exists but is disabled
    "inactive.account": (
        "rcpt",
        [
            "550-5.2.1 The email account that you tried to reach is disabled. Learn more at",
            f"550 5.2.1  {G}DisabledUser a640c23a62f3a-a7a9c6c1f1fsi1234568ejc.124 - gsmtp",
        ],
    ),
    "closed.account": (
        "rcpt",
        [
            "554 delivery error: dd Sorry your message to closed.account@yahoo.test cannot be"
            " delivered. This mailbox is disabled (554.30). - mta4012.mail.bf1.yahoo.com",
        ],
    ),
    # --- mailbox full
    "full.inbox": (
        "rcpt",
        [
            "552-5.2.2 The email account that you tried to reach is over quota. Please direct",
            "552-5.2.2 the recipient to",
            f"552 5.2.2  {G}OverQuotaPerm a640c23a62f3a-a7a9c6c1f1fsi1234569ejc.125 - gsmtp",
        ],
    ),
    "stuffed": (
        "data",
        [
            "552 5.2.2 <stuffed@provider.test> Quota exceeded (mailbox for user is full)",
        ],
    ),
    "quota.temp": ("rcpt", ["452 4.2.2 <quota.temp@provider.test>: Over quota"]),
    # --- too large
    "big.attachments": ("data", ["552 5.3.4 Message size exceeds fixed maximum message size"]),
    "big": (
        "data",
        [
            "552-5.2.3 Your message exceeded Google's message size limits. Please visit",
            f"552-5.2.3  {G}MaxSizeError to view our size guidelines.",
            "552 5.2.3 a640c23a62f3a-a7a9c6c1f1fsi1234570ejc.126 - gsmtp",
        ],
    ),
    # --- content / spam / virus
    "spam.check": (
        "data",
        [
            "550-5.7.1 [127.0.0.1      12] Our system has detected that this message is",
            "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,",
            "550-5.7.1 this message has been blocked. For more information, go to",
            f"550 5.7.1  {G}UnsolicitedMessageError a640c23a62f3a-a7a9c6c1f1fsi12345ejc.127 - gsmtp",
        ],
    ),
    "filtered": ("data", ["554 5.7.1 Message rejected as spam by Content Filtering."]),
    "virus.check": ("data", ["554 5.7.0 Reject, id=04213-07 - INFECTED: Eicar-Signature"]),
    # --- sender policy (SPF / DMARC)
    "dmarc.check": (
        "data",
        [
            "550-5.7.26 Unauthenticated email from livereport.test is not accepted due to",
            "550-5.7.26 domain's DMARC policy. Please contact the administrator of",
            "550-5.7.26 livereport.test domain if this was a legitimate mail. To learn about",
            "550-5.7.26 the DMARC initiative, go to",
            f"550 5.7.26  {G}DmarcRejection a640c23a62f3a-a7a9c6c1f1fsi12345ejc.128 - gsmtp",
        ],
    ),
    "spf.check": (
        "rcpt",
        [
            "550 5.7.1 <spf.check@provider.test>: Recipient address rejected: Message rejected"
            " due to: SPF fail - not authorized. Please see"
            " http://www.open-spf.org/Why?s=mfrom;id=news%40livereport.test;ip=127.0.0.1;r=mx.provider.test",
        ],
    ),
    # --- blocklists
    "rbl.check": (
        "rcpt",
        [
            "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using"
            " zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1",
        ],
    ),
    "bl.check": (
        "rcpt",
        [
            "553 5.7.1 [BL21] Connections will not be accepted from 127.0.0.1, because the ip"
            " is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        ],
    ),
    "ip.policy": (
        "rcpt",
        [
            "550 5.7.1 Unfortunately, messages from [127.0.0.1] weren't sent. Please contact"
            " your Internet service provider since part of their network is on our block list"
            " (S3150). You can also refer your provider to"
            " http://mail.live.com/mail/troubleshooting.aspx#errors."
            " [DB5EUR03FT011.eop-EUR03.prod.protection.outlook.com]",
        ],
    ),
    # --- relaying
    "someone": ("rcpt", ["554 5.7.1 <someone@notours.test>: Relay access denied"]),
    "other": (
        "rcpt",
        [
            "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
        ],
    ),
    # --- generic
    "generic": ("rcpt", ["550 5.0.0 Message rejected"]),
    # --- temporary: greylisting and rate limits, until the sender's queue expires
    "greylisted": ("rcpt", ["451 4.7.1 Greylisting in action, please come back later"]),
    "busy": (
        "rcpt-close",
        [
            "421-4.7.28 [127.0.0.1      15] Our system has detected an unusual rate of",
            "421-4.7.28 unsolicited mail originating from your IP address. To protect our",
            "421-4.7.28 users from spam, mail sent from your IP address has been temporarily",
            "421-4.7.28 rate limited. For more information, go to",
            f"421 4.7.28  {G}UnsolicitedRateLimitError a640c23a62f3a-a7a9ejc.129 - gsmtp",
        ],
    ),
    "deferred": (
        "rcpt-close",
        [
            "421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected"
            " volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        ],
    ),
}

LOG = None


def log(peer: str, ip: str, text: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {ip} {peer} {text}"
    if LOG:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def local_part(arg: str) -> str:
    addr = arg.split(":", 1)[1].strip() if ":" in arg else arg
    addr = addr.split()[0].strip("<>") if addr else ""
    return addr.rsplit("@", 1)[0].lower()


async def session(ip: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, port = writer.get_extra_info("peername")[:2]
    peer = f"{host}:{port}"

    async def reply(lines: list[str]) -> None:
        writer.write("".join(line + "\r\n" for line in lines).encode())
        await writer.drain()
        log(peer, ip, "> " + " | ".join(lines))

    try:
        if ip == "127.0.0.9":  # say nothing until the client gives up
            await reader.read()
            return
        if ip == "127.0.0.8":
            await reply(BLOCK_BANNER)
            await reader.readline()
            await reply(["221 2.0.0 Bye"])
            return
        name = ADDRESSES[ip]
        await reply([f"220 {name}"])
        size_limit = 20000 if ip == "127.0.0.6" else 35882577
        pending_data: list[str] | None = None
        rcpts = 0
        while True:
            raw = await reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log(peer, ip, "< " + line)
            verb = line[:4].upper()
            if verb == "EHLO":
                await reply(
                    [
                        f"250-{name.split()[0]} at your service, [127.0.0.1]",
                        f"250-SIZE {size_limit}",
                        "250-8BITMIME",
                        "250-ENHANCEDSTATUSCODES",
                        "250-PIPELINING",
                        "250 SMTPUTF8",
                    ]
                )
            elif verb == "HELO":
                await reply([f"250 {name.split()[0]}"])
            elif verb == "MAIL":
                rcpts, pending_data = 0, None
                size = 0
                for param in line.split()[2:]:
                    if param.upper().startswith("SIZE="):
                        size = int(param[5:] or 0)
                if ip == "127.0.0.7":
                    await reply(SPF_AT_MAIL)
                elif size > size_limit:
                    await reply(["552 5.3.4 Message size exceeds fixed maximum message size"])
                else:
                    await reply(["250 2.1.0 OK"])
            elif verb == "RCPT":
                phase, lines = REPLIES.get(local_part(line), ("ok", []))
                if phase == "rcpt":
                    await reply(lines)
                elif phase == "rcpt-close":
                    await reply(lines)
                    writer.close()
                    return
                else:
                    rcpts += 1
                    if phase == "data":
                        pending_data = lines
                    await reply(["250 2.1.5 OK"])
            elif verb == "DATA":
                if not rcpts:
                    await reply(["554 5.5.1 Error: no valid recipients"])
                    continue
                await reply(["354 Go ahead"])
                size = 0
                while True:
                    chunk = await reader.readline()
                    if not chunk:
                        return
                    if chunk in (b".\r\n", b".\n"):
                        break
                    size += len(chunk)
                log(peer, ip, f"< [message data, {size} bytes]")
                if pending_data:
                    await reply(pending_data)
                elif size > size_limit:
                    await reply(["552 5.3.4 Message size exceeds fixed maximum message size"])
                else:
                    await reply(["250 2.0.0 OK 1796290001 queued"])
                pending_data, rcpts = None, 0
            elif verb == "RSET":
                pending_data, rcpts = None, 0
                await reply(["250 2.0.0 OK"])
            elif verb == "NOOP":
                await reply(["250 2.0.0 OK"])
            elif verb == "QUIT":
                await reply(["221 2.0.0 closing connection"])
                return
            else:
                await reply(["502 5.5.2 Error: command not recognized"])
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main() -> None:
    global LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", default=None)
    LOG = parser.parse_args().log
    servers = []
    for ip in ADDRESSES:
        servers.append(await asyncio.start_server(lambda r, w, ip=ip: session(ip, r, w), ip, 25))
    print("responder listening on", ", ".join(f"{ip}:25" for ip in ADDRESSES), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
