"""The cluster's shared duplicate memory in PostgreSQL (ingest/seen.py SharedSeen): an id
claimed by one node is a duplicate for the others once it commits, and free again if it
rolls back; a campaign's turn at the live window is held only while the window is written,
so that nodes insert the same campaign's events side by side."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from conftest import POSTGRES, new_storage
from livereport.ingest.seen import SharedSeen

RETENTION = 86_400


@pytest.fixture
def url() -> str:
    return f"{POSTGRES}?options=-csearch_path%3D{new_storage()}"


@pytest.fixture
def nodes(url: str) -> Iterator[tuple[SharedSeen, SharedSeen]]:
    a, b = SharedSeen(url, RETENTION), SharedSeen(url, RETENTION)
    yield a, b
    a.close()
    b.close()


def _turn_is_free(url: str, org: int, campaign: str) -> bool:
    """Whether another session can take (org, campaign)'s window turn at once."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (org, campaign)
        ).fetchone()
        assert row is not None
        if row[0]:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (org, campaign))
        return bool(row[0])


def test_a_committed_claim_makes_duplicates_and_a_rolled_back_one_does_not(
    nodes: tuple[SharedSeen, SharedSeen],
) -> None:
    a, b = nodes
    with a.claim([(1, "x"), (1, "y")]) as elsewhere:
        assert elsewhere == set()
    with pytest.raises(RuntimeError), b.claim([(1, "z")]):
        raise RuntimeError("the insert failed")
    with b.claim([(1, "x"), (1, "z"), (2, "x")]) as elsewhere:
        assert elsewhere == {(1, "x")}  # z was let go; org 2's x is another id


def test_a_node_claiming_the_same_id_waits_for_the_first_to_end(
    nodes: tuple[SharedSeen, SharedSeen],
) -> None:
    a, b = nodes
    found: list[set[tuple[int, str]]] = []

    def second() -> None:
        with b.claim([(1, "same")]) as elsewhere:
            found.append(elsewhere)

    with a.claim([(1, "same")]):
        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.3)
        assert not found  # b waits on the row a holds
    other.join(timeout=30)
    assert found == [{(1, "same")}]


def test_the_window_turn_is_held_only_inside_its_block(
    url: str, nodes: tuple[SharedSeen, SharedSeen]
) -> None:
    a, _ = nodes
    with a.claim([(1, "e1")]):
        assert _turn_is_free(url, 1, "big")
        with a.window_turn([(1, "big"), (1, "other")]):
            assert not _turn_is_free(url, 1, "big") and not _turn_is_free(url, 1, "other")
            assert _turn_is_free(url, 2, "big")  # another org's campaign of the same name
        # The window is written; the events insert runs with the ids still claimed and
        # the campaign free for the other nodes.
        assert _turn_is_free(url, 1, "big")
    with pytest.raises(RuntimeError), a.claim([(1, "e2")]), a.window_turn([(1, "big")]):
        raise RuntimeError("the window insert failed")
    assert _turn_is_free(url, 1, "big")


def test_two_nodes_take_turns_at_one_campaign_while_both_hold_their_claims(
    nodes: tuple[SharedSeen, SharedSeen],
) -> None:
    a, b = nodes
    order: list[str] = []
    a_in_turn, b_done = threading.Event(), threading.Event()

    def node_b() -> None:
        with b.claim([(1, "b-1")]):
            a_in_turn.wait(30)
            with b.window_turn([(1, "big")]):
                order.append("b window")
            order.append("b events")
        b_done.set()

    other = threading.Thread(target=node_b)
    other.start()
    with a.claim([(1, "a-1")]):
        with a.window_turn([(1, "big")]):
            a_in_turn.set()
            time.sleep(0.3)
            order.append("a window")
        assert b_done.wait(30)  # b's window and events while a still holds its claim
        order.append("a events")
    other.join(timeout=30)
    assert order == ["a window", "b window", "b events", "a events"]
    assert a.take_waited() >= 0 and b.take_waited() >= 0.2  # b waited for a's turn
    assert b.take_waited() == 0.0  # taken once
