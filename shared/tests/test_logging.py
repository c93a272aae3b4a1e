from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.logging import configure_logging, get_logger, redact_text

pytestmark = pytest.mark.unit


def test_redacts_emails_and_tokens_in_text() -> None:
    text = "mail alice@example.com with Bearer abc.def.ghi and eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"
    redacted = redact_text(text)
    assert "alice@example.com" not in redacted
    assert "abc.def.ghi" not in redacted
    assert "eyJhbGciOi" not in redacted
    assert "[email]" in redacted


def test_log_lines_carry_context_and_no_pii(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", "json", "INFO")
    with structlog.contextvars.bound_contextvars(event_id="e-1", ticket_id="T", correlation_id="c"):
        get_logger("t").info(
            "sending", to="alice@example.com", token="secret-token", note="reply to bob@example.org"
        )
    logging.getLogger("foreign").warning("stdlib says carol@example.net")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    first, second = lines[-2], lines[-1]
    assert (first["event_id"], first["ticket_id"], first["correlation_id"]) == ("e-1", "T", "c")
    assert first["token"] == "[redacted]"
    assert "example" not in json.dumps(first)
    assert "carol@example.net" not in second["event"]
