"""Which team a request may move to, and who may work on it (pure).

A request moves to another known team, not to the one it is with, and not once it is closed;
it must have been placed first (the router's decision reached the intake). Its assignee must
be an agent of the team it is with: an agent of another team moves the request instead.
"""

from __future__ import annotations

from intake.domain.activity import ClosedRequestError
from shared.contracts.catalog import Catalog
from shared.contracts.directory import AccountRecord
from shared.contracts.statuses import Status


class UnknownTeamError(ValueError):
    def __init__(self, team: str, known: tuple[str, ...]) -> None:
        super().__init__(f"no team {team!r}; one of: {', '.join(known)}")


class SameTeamError(ValueError):
    def __init__(self, team: str) -> None:
        super().__init__(f"the request is with {team} already")


class NotPlacedYetError(RuntimeError):
    """The router's decision has not reached the intake yet: seconds, normally."""

    def __init__(self) -> None:
        super().__init__("the request is still being routed; retry in a moment")


class NotTeamAgentError(ValueError):
    def __init__(self, agent: str, team: str) -> None:
        super().__init__(f"{agent} is not an agent of {team}; move the request to their team first")


def check_transfer(
    status: Status, current: str | None, placed: bool, target: str, catalog: Catalog
) -> None:
    if target not in catalog.teams:
        raise UnknownTeamError(target, catalog.teams)
    if status is Status.CLOSED:
        raise ClosedRequestError("move it to another team")
    if current is None or not placed:
        raise NotPlacedYetError
    if current == target:
        raise SameTeamError(target)


def check_assignee(
    status: Status, team: str | None, assignee: str | None, member: AccountRecord | None
) -> None:
    """`member`: the assignee's directory record (None when the directory has none)."""
    if status is Status.CLOSED:
        raise ClosedRequestError("assign it")
    if team is None:
        raise NotPlacedYetError
    if assignee is None:
        return  # releasing is always possible
    if member is None or member.kind != "agent" or team not in member.teams:
        raise NotTeamAgentError(assignee, team)
