"""SIGTERM under load: the server stops listening, answers what is in flight, stores what it
accepted and exits 0; every event that got a 200 is in the totals after a restart."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from reliability_client import Sender, sent_total

from conftest import Server
from livereport import instance


def test_sigterm_under_concurrent_posting_loses_no_acknowledged_event(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", env={"LIVEREPORT_SHUTDOWN_TIMEOUT_S": "20"}).start()
    try:
        key = srv.key("ingest", "read")
        sender = Sender(srv, key, "graceful", batch=250).start(threads=8)
        time.sleep(2.0)
        assert sender.acked, "nothing was acknowledged before the signal"
        assert srv.process is not None
        srv.process.send_signal(signal.SIGTERM)
        status = srv.process.wait(timeout=60)
        srv.process = None
        sender.stop(finish=False)  # nothing listens any more: abandon what was not answered
        assert status == 0, srv.log()
        assert not (srv.data / instance.SERVER_FILE).exists()
        srv.start()
        print(
            f"graceful: {len(sender.acked)} acked, statuses {sender.statuses}, "
            f"{sender.unanswered} unanswered"
        )
        assert sent_total(srv, key, "graceful") == len(sender.acked) == sender.accepted
    finally:
        srv.stop()
