#!/usr/bin/env python3
"""Merge hand-written labels into corpus/labels.json (re-read right before the write, then
written atomically; only the given keys are added or replaced).

The labels are decided by a person reading each message (see corpus/LABELLING.md); this
script only checks their form and writes them. Input: a JSON object
{"exim-real/unknown-gmail-01.eml": {"is_bounce": true, "category": "hard",
  "reason": "Invalid Recipient", "campaign": "realmta-unknown-gmail"}, ...}

  python3 add_labels.py my-labels.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CATEGORY = {
    "Invalid Recipient": "hard",
    "Recipient Refused": "hard",
    "DNS Failure": "soft",
    "Mailbox Full": "soft",
    "Relaying Denied": "soft",
    "Challenge-Response": "soft",
    "Soft Bounce": "soft",
    "Too Large": "ignored",
    "Timeout": "ignored",
    "Mail Block": "ignored",
    "Spam Block": "ignored",
    "Spam Content": "ignored",
    "Transient Failure": "ignored",
    "Generic Bounce": "ignored",
    "Auto-Reply": "ignored",
    "Undetermined": "ignored",
}


def check(name: str, label: dict[str, object]) -> None:
    assert (CORPUS / name).is_file(), name
    assert set(label) == {"is_bounce", "category", "reason", "campaign"}, name
    if label["is_bounce"]:
        assert CATEGORY[str(label["reason"])] == label["category"], name
    else:
        assert label["reason"] is None and label["category"] is None, name


def main() -> None:
    new = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for name, label in new.items():
        check(name, label)
    path = CORPUS / "labels.json"
    labels = json.loads(path.read_text(encoding="utf-8"))
    labels.update(new)
    text = json.dumps(labels, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=CORPUS, prefix=".labels.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    print(f"{len(new)} labels merged; {len(labels)} in {path}")


if __name__ == "__main__":
    main()
