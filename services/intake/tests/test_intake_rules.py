"""Idempotency fingerprints and verdicts, the rate-limit window, status decisions, access
(pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.domain.access import may_read_ticket_files
from intake.domain.activity import (
    ClosedRequestError,
    MessageLimits,
    after_agent_reply,
    after_customer_message,
    after_information_request,
    after_status_request,
    check_message,
)
from intake.domain.idempotency import (
    IDEMPOTENCY_KEY_PATTERN,
    IdempotencyRecord,
    RecordState,
    Verdict,
    judge,
    key_record_id,
    submission_fingerprint,
)
from intake.domain.ratelimit import Slot, take_slot
from shared.contracts.statuses import IllegalTransitionError, Status

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

# --- fingerprint ----------------------------------------------------------------------------

BASE = {
    "account_id": "acc-1",
    "category": "cards",
    "subject": "Card not here",
    "description": "Ordered three weeks ago.",
    "attachment_hashes": ["a" * 64, "b" * 64],
}


def fingerprint(**overrides: object) -> str:
    return submission_fingerprint(**(BASE | overrides))  # type: ignore[arg-type]


def test_fingerprint_is_stable_and_hex() -> None:
    assert fingerprint() == fingerprint()
    assert len(fingerprint()) == 64


def test_fingerprint_ignores_file_order_and_surrounding_space() -> None:
    assert fingerprint(attachment_hashes=["b" * 64, "a" * 64]) == fingerprint()
    assert fingerprint(subject="  Card not here \n") == fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"account_id": "acc-2"},
        {"category": "fees"},
        {"subject": "Card not here!"},
        {"description": "Ordered two weeks ago."},
        {"attachment_hashes": ["a" * 64]},
        {"attachment_hashes": []},
    ],
    ids=lambda c: next(iter(c)),
)
def test_any_difference_gives_another_fingerprint(change: dict[str, object]) -> None:
    assert fingerprint(**change) != fingerprint()


def test_field_boundaries_cannot_be_shifted() -> None:
    # "ab" + "c" and "a" + "bc" must not collide.
    assert fingerprint(subject="ab", description="c") != fingerprint(subject="a", description="bc")


def test_records_are_per_account() -> None:
    assert key_record_id("acc-1", "k") != key_record_id("acc-2", "k")


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("5f0c2d1e-8a8b-4f57-9d51-3c2b7f1c9a40", True),
        ("a", True),
        ("x" * 255, True),
        ("", False),
        ("x" * 256, False),
        ("has space", False),
        ("tab\t", False),
        ("ключ", False),
    ],
)
def test_idempotency_key_syntax(key: str, valid: bool) -> None:
    assert (IDEMPOTENCY_KEY_PATTERN.fullmatch(key) is not None) is valid


# --- verdicts on a claim held by someone else ----------------------------------------------


def record(**overrides: object) -> IdempotencyRecord:
    fields: dict[str, object] = {
        "record_id": "key:acc-1:x",
        "fingerprint": "f1",
        "token": "t1",
        "state": RecordState.PENDING,
        "lease_until": NOW + timedelta(seconds=30),
        "expires_at": NOW + timedelta(hours=24),
        "response": None,
    }
    return IdempotencyRecord(**(fields | overrides))  # type: ignore[arg-type]


def test_done_with_the_same_request_is_replayed() -> None:
    done = record(state=RecordState.DONE, response={"ticket_id": "X"})
    assert judge(done, "f1", NOW) is Verdict.REPLAY


def test_a_different_request_under_the_same_key_is_a_mismatch() -> None:
    assert judge(record(state=RecordState.DONE), "f2", NOW) is Verdict.MISMATCH
    assert judge(record(), "f2", NOW) is Verdict.MISMATCH


def test_work_in_progress_is_waited_for() -> None:
    assert judge(record(), "f1", NOW) is Verdict.WAIT


def test_an_abandoned_claim_is_taken_over() -> None:
    assert judge(record(lease_until=NOW - timedelta(seconds=1)), "f1", NOW) is Verdict.RECLAIM


def test_an_expired_record_no_longer_counts_even_for_another_body() -> None:
    expired = record(state=RecordState.DONE, expires_at=NOW)
    assert judge(expired, "f1", NOW) is Verdict.RECLAIM
    assert judge(expired, "f2", NOW) is Verdict.RECLAIM


# --- rate limit ------------------------------------------------------------------------------

HOUR = timedelta(hours=1)


def slots(*minutes_ago: int) -> list[Slot]:
    return [Slot(f"s{m}", NOW - timedelta(minutes=m)) for m in minutes_ago]


def test_under_the_limit_a_slot_is_taken() -> None:
    decision = take_slot(slots(5, 10), now=NOW, limit=3, window=HOUR, slot_id="new")
    assert decision.allowed
    assert [s.slot_id for s in decision.slots] == ["s10", "s5", "new"]


def test_at_the_limit_retry_after_is_when_the_oldest_slot_frees() -> None:
    decision = take_slot(slots(50, 10, 5), now=NOW, limit=3, window=HOUR, slot_id="new")
    assert not decision.allowed
    assert decision.retry_after_seconds == 10 * 60
    assert "new" not in [s.slot_id for s in decision.slots]


def test_slots_older_than_the_window_are_dropped() -> None:
    decision = take_slot(slots(61, 90, 5), now=NOW, limit=2, window=HOUR, slot_id="new")
    assert decision.allowed
    assert [s.slot_id for s in decision.slots] == ["s5", "new"]


def test_retry_after_is_at_least_one_second() -> None:
    nearly = [Slot("s", NOW - HOUR + timedelta(milliseconds=1))]
    decision = take_slot(nearly, now=NOW, limit=1, window=HOUR, slot_id="new")
    assert decision.retry_after_seconds == 1


def test_over_the_limit_after_a_lowered_setting() -> None:
    # Five live slots, the limit lowered to two: four must expire before one is free, so the
    # fourth oldest (taken 20 minutes ago) decides.
    decision = take_slot(slots(50, 40, 30, 20, 10), now=NOW, limit=2, window=HOUR, slot_id="n")
    assert decision.retry_after_seconds == 40 * 60


# --- status decisions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "after"),
    [
        (Status.NEW, None),
        (Status.OPEN, None),
        (Status.ON_HOLD, None),
        (Status.PENDING, Status.OPEN),
        (Status.SOLVED, Status.OPEN),
    ],
)
def test_a_customer_message_reopens_pending_and_solved(
    current: Status, after: Status | None
) -> None:
    change = after_customer_message(current)
    assert (change.to_status if change else None) == after
    if change:
        assert change.from_status is current


def test_a_closed_request_takes_no_customer_message() -> None:
    with pytest.raises(IllegalTransitionError, match="closed"):
        after_customer_message(Status.CLOSED)


def test_a_reply_without_status_changes_nothing() -> None:
    assert after_agent_reply(Status.OPEN, None) is None
    assert after_agent_reply(Status.OPEN, Status.OPEN) is None


def test_a_reply_can_solve() -> None:
    change = after_agent_reply(Status.NEW, Status.SOLVED)
    assert change is not None
    assert (change.from_status, change.to_status) == (Status.NEW, Status.SOLVED)


def test_a_reply_cannot_make_an_illegal_move() -> None:
    with pytest.raises(IllegalTransitionError, match="allowed from solved"):
        after_agent_reply(Status.SOLVED, Status.PENDING)
    with pytest.raises(IllegalTransitionError):
        after_agent_reply(Status.OPEN, Status.NEW)


def test_no_reply_to_a_closed_request() -> None:
    with pytest.raises(ClosedRequestError, match="closed"):
        after_agent_reply(Status.CLOSED, None)


@pytest.mark.parametrize("current", [Status.NEW, Status.OPEN, Status.ON_HOLD])
def test_an_information_request_makes_the_request_pending(current: Status) -> None:
    change = after_information_request(current)
    assert change is not None
    assert change.to_status is Status.PENDING


def test_asking_again_while_pending_is_no_change() -> None:
    assert after_information_request(Status.PENDING) is None


@pytest.mark.parametrize("current", [Status.SOLVED, Status.CLOSED])
def test_no_information_request_on_solved_or_closed(current: Status) -> None:
    with pytest.raises((IllegalTransitionError, ClosedRequestError)):
        after_information_request(current)


def test_an_explicit_status_change_must_be_a_move() -> None:
    assert after_status_request(Status.NEW, Status.OPEN).to_status is Status.OPEN
    assert after_status_request(Status.SOLVED, Status.CLOSED).to_status is Status.CLOSED
    with pytest.raises(IllegalTransitionError, match="already open"):
        after_status_request(Status.OPEN, Status.OPEN)
    with pytest.raises(IllegalTransitionError, match="closed"):
        after_status_request(Status.CLOSED, Status.OPEN)


def test_message_limits() -> None:
    limits = MessageLimits(max_length=5)
    assert check_message("hello", limits) == []
    assert [e.field for e in check_message("   ", limits)] == ["body"]
    assert [e.reason for e in check_message("toolong", limits, "note")] == ["at most 5 characters"]


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "reader", "allowed"),
    [
        ("customer", "acc-1", True),
        ("customer", "acc-2", False),
        ("agent", "agent-7", True),
        ("dashboard", "dash-1", False),
        ("dashboard", "acc-1", False),
    ],
)
def test_who_reads_a_requests_files(role: str, reader: str, allowed: bool) -> None:
    assert may_read_ticket_files(role, reader, "acc-1") is allowed
