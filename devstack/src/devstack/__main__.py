"""`python -m devstack run` (make run) and `python -m devstack token` (make token)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import timedelta
from pathlib import Path

from devstack.stack import EmbeddedStack, StackConfig, StackError, StackPorts
from shared.contracts.identity import Role
from shared.settings import ServiceSettings
from shared.tokens import issue_token


def _banner(config: StackConfig) -> str:
    intake, history = config.url("intake"), config.url("history")
    docs = "\n".join(
        f"  {label:<18} {config.url(name)}/docs   (AsyncAPI: {config.url(name)}/asyncapi)"
        for label, name in (
            ("Intake API docs", "intake"),
            ("Router", "router"),
            ("Notifier", "notifier"),
            ("History API docs", "history"),
        )
    )
    return f"""
The help desk is running on the embedded stack. Ctrl-C stops everything.

{docs}
  Submit a request   {history}/requests/new   (sign in with a customer token)
  My activities page {history}/my-activities
  Account recovery   {history}/account-recovery   (locked out by 2FA: a link by e-mail)
  Kafka (Tansu)      {config.kafka_bootstrap}
  MongoDB            {config.mongo_url}
  SMTP               {config.host}:{config.ports.smtp}  -> Maildir {config.maildir}/new/
  Mail receiver      {config.host}:{config.ports.mail}  (customers' e-mail answers, SMTP)
  Scheduler          {config.url("history-scheduler")}/metrics  (SLA alerts, automations)
  Dashboard          {history}/dashboard   (sign in with a dashboard token)

Try it (in another terminal):

  TOKEN=$(make -s token ACCOUNT=acc-1001 ROLE=customer)
  curl -s -X POST {intake}/v1/tickets -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{{"category": "withdrawals", "subject": "Withdrawal stuck",
            "description": "My BTC withdrawal has been pending for two days."}}'
  ls {config.maildir}/new/
  curl -s {history}/v1/accounts/me/activities -H "Authorization: Bearer $TOKEN"
"""


async def run(config: StackConfig) -> int:
    stack = EmbeddedStack(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(_start(stack))
    stopped = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if starting in done:
            starting.result()  # raises if a part failed to start
            print(_banner(config), flush=True)
            await _watch(stack, stop)
        return 0
    except StackError as exc:
        print(f"\nthe stack could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        starting.cancel()
        stopped.cancel()
        with contextlib.suppress(asyncio.CancelledError, StackError):
            await starting
        print("\nstopping ...", flush=True)
        await stack.stop()
        print("stopped; no process left behind.", flush=True)


async def _start(stack: EmbeddedStack) -> None:
    await stack.start_infrastructure()
    await stack.start_services()


async def _watch(stack: EmbeddedStack, stop: asyncio.Event) -> None:
    """Wait for Ctrl-C; if a child dies on its own, say so and stop everything."""
    while not stop.is_set():
        dead = [p.name for p in stack.processes.values() if not p.running]
        if dead:
            raise StackError(f"{', '.join(dead)} exited unexpectedly")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="run the whole system on the embedded stack")
    run_cmd.add_argument("--data-dir", type=Path, default=Path(".data"))
    token_cmd = sub.add_parser("token", help="print a development bearer token")
    token_cmd.add_argument("--account", default="acc-1001")
    token_cmd.add_argument("--role", choices=[r.value for r in Role], default="customer")
    token_cmd.add_argument("--hours", type=float, default=8)
    args = parser.parse_args(argv)
    if args.command == "run":
        config = StackConfig(data_dir=args.data_dir.resolve(), ports=StackPorts.from_env())
        sys.exit(asyncio.run(run(config)))
    settings = ServiceSettings()  # development key unless JWT_SECRET is exported
    if settings.environment != "development":
        sys.exit("tokens are only minted with the development key")
    print(
        issue_token(
            settings.jwt_verification_key,
            args.account,
            Role(args.role),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            ttl=timedelta(hours=args.hours),
        )
    )


if __name__ == "__main__":
    main()
