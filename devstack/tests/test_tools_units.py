"""The pieces behind the tools' port handling and the bench's cleanup, without a stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.bench.cleanup import Created, claim_owner, notification_source, remove_mails
from devstack.bench.workload import BENCH_DOMAIN, bench_accounts, is_bench_account
from devstack.stack import StackConfig, StackPorts
from history.replay import ReplayError, resolve_settings, stack_addresses
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord

pytestmark = pytest.mark.unit

ENVS = [{}, {"KAFKA_PORT": "19092", "MONGO_PORT": "37017"}, {"MONGO_PORT": "4242"}]


@pytest.mark.parametrize("env", ENVS)
def test_the_replay_finds_the_stack_where_make_run_puts_it(env: dict[str, str]) -> None:
    config = StackConfig(data_dir=Path("unused"), ports=StackPorts.from_env(env))
    assert stack_addresses(env) == {
        "kafka_bootstrap_servers": config.kafka_bootstrap,
        "mongo_url": config.mongo_url,
    }


def test_history_settings_and_the_command_line_win_over_the_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ports = {"KAFKA_PORT": "19092", "MONGO_PORT": "37017"}
    for name in ("HISTORY_KAFKA_BOOTSTRAP_SERVERS", "HISTORY_MONGO_URL"):
        monkeypatch.delenv(name, raising=False)
    derived = resolve_settings(env=ports)
    assert derived.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert derived.mongo_url.get_secret_value().startswith("mongodb://127.0.0.1:37017/")

    monkeypatch.setenv("HISTORY_MONGO_URL", "mongodb://db.internal:27017/")
    exported = resolve_settings(env=ports)
    assert exported.mongo_url.get_secret_value() == "mongodb://db.internal:27017/"
    assert exported.kafka_bootstrap_servers == "127.0.0.1:19092"

    flagged = resolve_settings("k:1", "mongodb://m:2/", env=ports)
    assert flagged.kafka_bootstrap_servers == "k:1"
    assert flagged.mongo_url.get_secret_value() == "mongodb://m:2/"


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_bad_port_is_one_clear_error_when_it_is_needed(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ReplayError, match=f"KAFKA_PORT must be a port number, not '{value}'"):
        stack_addresses({"KAFKA_PORT": value})
    monkeypatch.setenv("HISTORY_KAFKA_BOOTSTRAP_SERVERS", "kafka.internal:9092")
    monkeypatch.delenv("HISTORY_MONGO_URL", raising=False)
    settings = resolve_settings(env={"KAFKA_PORT": value, "MONGO_PORT": "37017"})
    assert settings.kafka_bootstrap_servers == "kafka.internal:9092"


def test_bench_accounts_are_on_their_own_domain_and_only_they_count_as_bench() -> None:
    accounts = bench_accounts("ab12cd", 3)
    assert [a.account_id for a in accounts] == [
        "bench-ab12cd-0001",
        "bench-ab12cd-0002",
        "bench-ab12cd-0003",
    ]
    assert all(a.email_verified and a.email == f"{a.account_id}@{BENCH_DOMAIN}" for a in accounts)
    assert all(is_bench_account(a) for a in accounts)
    assert not any(is_bench_account(a) for a in DEMO_ACCOUNTS)
    impostor = AccountRecord(account_id="bench-x", email="bench-x@example.com")
    assert not is_bench_account(impostor)
    with pytest.raises(ValueError, match="not bench accounts"):
        Created().add_accounts([*accounts, impostor])


def test_ids_are_taken_apart_exactly() -> None:
    assert claim_owner("key:bench-ab-0001:0f3a") == "bench-ab-0001"
    assert claim_owner("content:corp:team:7:9c1d") == "corp:team:7"  # colons in an account id
    assert claim_owner("content:bench-ab-00011:9c1d") != "bench-ab-0001"
    assert notification_source("0b1c-uuid:acknowledgement") == "0b1c-uuid"
    assert notification_source("7KQ2-M9XD-4TRA:documents_needed") == "7KQ2-M9XD-4TRA"


def test_only_mails_to_bench_addresses_are_removed(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "cur").mkdir()
    bench = f"bench-ab-0001@{BENCH_DOMAIN}"
    mails = {
        "new/bench": f"X-Envelope-To: {bench}\nTo: Bench <{bench}>\nSubject: a\n\nbody\n",
        "cur/bench2": f"To: {bench.upper()}\nSubject: b\n\nbody\n",
        "new/alice": "X-Envelope-To: alice@example.com\nTo: alice@example.com\n\nbody\n",
        "new/both": f"To: {bench}, alice@example.com\n\nbody\n",
        "new/nobody": "Subject: no recipient\n\nbody\n",
    }
    for name, text in mails.items():
        (tmp_path / name).write_text(text)
    assert remove_mails(tmp_path, {bench}) == 2
    left = {f"{p.parent.name}/{p.name}" for p in tmp_path.glob("*/*")}
    assert left == {"new/alice", "new/both", "new/nobody"}
