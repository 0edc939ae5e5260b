"""Fixtures of the cluster mode tests: the backend of a module is its ``BACKEND``; the shared
``server`` and ``keys`` become the module's own, on that backend (modules import them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import Server, use_backend


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    kind: str = getattr(request.module, "BACKEND", "cluster")
    return kind


@pytest.fixture(scope="module", autouse=True)
def _use_backend(backend: str) -> Iterator[str]:
    with use_backend(backend):
        yield backend


@pytest.fixture(scope="module")
def server(_use_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp(f"shared-{_use_backend}") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    return {
        "both": server.key("ingest", "read"),
        "ingest": server.key("ingest"),
        "read": server.key("read"),
    }
