from sqlmodel import Session

from tests.factories import make_ticket


def test_ticket_roundtrip_on_both_backends(session: Session) -> None:
    t = make_ticket(session, external_id="abc")
    assert t.id is not None
    assert t.status == "queued"
    assert t.created_at.tzinfo is not None
