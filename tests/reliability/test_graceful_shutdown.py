"""SIGTERM drains: a service stopped cleanly in the middle of a load finishes its in-flight
messages, commits and exits 0; after a restart every ticket has each effect exactly once. The
notifier is the one to stop: its e-mail is the only effect that idempotency cannot undo, so a
clean stop must not leave even the one duplicate a SIGKILL may cause (docs/reliability.md).
This also runs the `make faults` scenario driver end to end, small, with a poison burst."""

from __future__ import annotations

import signal

import pytest

from devstack.faults.driver import run_scenario, terminate_and_restart
from devstack.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


async def test_sigterm_mid_load_drains_and_nothing_is_lost_or_doubled(
    services: EmbeddedStack,
) -> None:
    exit_codes: list[int | None] = []
    result = await run_scenario(
        services,
        "sigterm notifier",
        30,
        terminate_and_restart("notifier", exit_codes),
        poison=6,
        settle_timeout=90,
    )
    # Not the supervisor's SIGKILL fallback: uvicorn ran the shutdown (broker drained and
    # closed), then re-raised the SIGTERM it had caught, hence -15 rather than 0.
    assert exit_codes in ([0], [-signal.SIGTERM])
    assert services.config.log_dir is not None
    log = (services.config.log_dir / "notifier.log").read_text()
    assert "Application shutdown complete" in log
    assert result.notes == []
    assert (result.sent, result.routed, result.emails, result.history) == (30, 30, 30, 30)
    assert (result.lost, result.duplicated) == (0, 0)
    assert result.poison_parked == result.poison == 6
