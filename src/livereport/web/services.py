"""What the app holds for its routes while it runs: configuration, the stores, the ingest
writer, the report builder and the alert service (``request.app.state.services``)."""

from __future__ import annotations

from dataclasses import dataclass

from livereport.alerts.service import Alerts
from livereport.config import Config
from livereport.ingest.writer import Writer
from livereport.report.build import Reports
from livereport.store.base import Store
from livereport.store.metadata import Metadata


@dataclass
class Services:
    config: Config
    store: Store
    metadata: Metadata
    writer: Writer
    reports: Reports
    alerts: Alerts
