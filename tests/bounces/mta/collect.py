#!/usr/bin/env python3
"""Copy the returned mails from a Maildir (or an mbox) into a corpus directory, unchanged.

Each message is named after the scenario of the VERP address it was returned to
(bounces+realmta-<scenario>=<profile>@...): <scenario>-NN.eml, in delivery order.
Messages that reached the mailbox without such an address are named other-NN.eml;
those whose first DSN Action is "delayed" get the prefix delay-.
A summary line per message (file, subject, first Status/Action) is printed to help the
person who labels them read the messages; nothing is labelled here.

  python3 collect.py /home/bounces/Maildir ../corpus/exim-real
  python3 collect.py --mbox /var/mail/bounces ../corpus/sendmail-real
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
from collections import Counter
from pathlib import Path

VERP = re.compile(rb"bounces\+realmta-([a-z0-9-]+)=(p-\d+)@", re.I)


def messages_from_maildir(path: Path) -> list[bytes]:
    files = [p for sub in ("new", "cur") for p in (path / sub).glob("*") if p.is_file()]
    files.sort(key=lambda p: (p.stat().st_mtime, p.name))
    return [p.read_bytes() for p in files]


def messages_from_mbox(path: Path) -> list[bytes]:
    out: list[bytes] = []
    cur: list[bytes] = []
    for line in path.read_bytes().splitlines(keepends=True):
        if line.startswith(b"From ") and (not cur or cur[-1].strip() == b""):
            if cur:
                out.append(b"".join(cur))
            cur = []
            continue  # the mbox separator line is not part of the message
        cur.append(line)
    if cur:
        out.append(b"".join(cur))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("dest")
    ap.add_argument("--mbox", action="store_true")
    a = ap.parse_args()
    src, dest = Path(a.source), Path(a.dest)
    dest.mkdir(parents=True, exist_ok=True)
    msgs = messages_from_mbox(src) if a.mbox else messages_from_maildir(src)
    seen: Counter[str] = Counter(p.name.rsplit("-", 1)[0] for p in dest.glob("*.eml"))
    for raw in msgs:
        head = raw.split(b"\n\n", 1)[0]
        m = VERP.search(head) or VERP.search(raw)
        base = m.group(1).decode() if m else "other"
        action = re.search(rb"^Action: *(\S+)", raw, re.M | re.I)
        if action and action.group(1).lower() == b"delayed":
            base = "delay-" + base  # a delay warning (named so; the label is still by hand)
        seen[base] += 1
        name = f"{base}-{seen[base]:02d}.eml"
        (dest / name).write_bytes(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        status = re.search(rb"^Status: *(\S+)", raw, re.M | re.I)
        print(
            f"{name:<34} {msg.get('Subject', '')[:60]!s:<60} "
            f"{(action.group(1).decode() if action else '-'):<9} "
            f"{status.group(1).decode() if status else '-'}"
        )


if __name__ == "__main__":
    main()
