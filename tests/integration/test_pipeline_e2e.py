"""API -> real Redis -> `ticketflow worker` process (real transformers engine, tiny local
models) -> PostgreSQL / SQLite -> review. Each test runs on both databases."""

from __future__ import annotations

from sqlmodel import select

from shared.models import Ticket
from tests.integration.conftest import ALL_KEY, KEY, Stack
from ticketflow.processes import wait_until
from worker.edge.stall import EXIT_STALLED


def _post(stack: Stack, n: int, prefix: str = "t") -> list[int]:
    ids = []
    for i in range(n):
        r = stack.client.post(
            "/tickets",
            headers=KEY,
            json={
                "external_id": f"{prefix}-{i}",
                "subject": f"Order {i}",
                "body": f"My parcel number {i} has not arrived, please help.",
                "customer_email": f"c{i}@example.com",
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def _all_triaged(tickets: list[Ticket]) -> bool:
    return bool(tickets) and all(t.status == "triaged" for t in tickets)


def test_n_tickets_in_n_triaged_results_out(stack: Stack) -> None:
    stack.start_worker()
    ids = _post(stack, 12)
    stack.wait_for(_all_triaged)
    results = stack.results()
    assert sorted(r.ticket_id for r in results) == sorted(ids)
    assert all(r.draft_reply.strip() for r in results)
    assert all(r.draft_model == stack.settings.draft_model for r in results)
    # Loaded once: every result came from the same engine instance in the one process.
    assert len({r.engine_instance for r in results}) == 1
    assert max(r.batch_size for r in results) > 1, "tickets should share batches"
    body = stack.client.get(f"/tickets/{ids[0]}").json()
    assert body["triage"]["category"] and 0 <= body["triage"]["category_confidence"] <= 1


def test_same_external_id_twice_is_one_ticket_one_result(stack: Stack) -> None:
    stack.start_worker()
    a = _post(stack, 1, "dup")
    b = [
        stack.client.post(
            "/tickets", headers=KEY, json={"external_id": "dup-0", "body": "again"}
        ).json()["id"]
    ]
    assert a == b
    stack.wait_for(_all_triaged)
    assert len(stack.results()) == 1


def test_review_after_real_triage(stack: Stack) -> None:
    stack.start_worker()
    [tid] = _post(stack, 1, "rev")
    stack.wait_for(_all_triaged)
    assert stack.client.get("/review").json()["total"] == 1
    r = stack.client.post(
        f"/tickets/{tid}/review",
        headers=ALL_KEY,
        json={
            "decision": "edit",
            "revision": 1,
            "reviewer": "kim",
            "edited_reply": "We found your parcel.",
            "corrected_category": "shipping_delivery",
        },
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert stack.client.get("/review").json()["total"] == 0


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(stack: Stack) -> None:
    slow = {"TICKETFLOW_MAX_NEW_TOKENS": "300", "TICKETFLOW_BATCH_SIZE": "2"}
    first = stack.start_worker("crash", **slow)
    ids = _post(stack, 6, "crash")
    stack.wait_for(lambda ts: any(t.status == "processing" for t in ts), timeout=60)
    first.kill()  # SIGKILL: no warm shutdown, messages in flight are not acknowledged
    with stack.session() as s:
        unfinished = [t.id for t in s.exec(select(Ticket)) if t.status != "triaged"]
    assert unfinished, "the kill should have interrupted work"
    stack.start_worker("after", **slow)
    # Redis hands unacknowledged messages out again after the visibility timeout (12 s here).
    stack.wait_for(_all_triaged, timeout=180)
    results = stack.results()
    assert sorted(r.ticket_id for r in results) == sorted(ids)  # exactly one each
    with stack.session() as s:
        retried = [t for t in s.exec(select(Ticket)) if t.attempts > 1]
    assert retried, "interrupted tickets should have been delivered again"


def test_wedged_model_call_hands_its_tickets_back_at_once(stack: Stack) -> None:
    # Redis would hand these messages out again only after the visibility timeout, ten
    # minutes here: within this test's waits only the watchdog's hand-back can bring them back.
    timing = {
        "TICKETFLOW_VISIBILITY_TIMEOUT_S": "600",
        "TICKETFLOW_DRAFT_MAX_SECONDS": "1",
        "TICKETFLOW_MODEL_STALL_S": "3",
    }
    wedged = stack.start_worker("wedged", TICKETFLOW_ENGINE="fake-stall", **timing)
    ids = _post(stack, 3, "wedged")
    stack.wait_for(lambda ts: all(t.status == "processing" for t in ts), timeout=30)
    wait_until(lambda: not wedged.alive(), 60, "the wedged worker to exit", wedged)
    assert wedged.proc.returncode == EXIT_STALLED
    assert "has not returned after" in wedged.log_text()
    with stack.session() as s:
        assert all(t.status == "processing" for t in s.exec(select(Ticket)))

    stack.start_worker("healthy", TICKETFLOW_ENGINE="fake", **timing)
    stack.wait_for(_all_triaged, timeout=60)
    assert sorted(r.ticket_id for r in stack.results()) == sorted(ids)  # one result each
