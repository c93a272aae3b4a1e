"""Operator commands shared by the embedded stack and compose: create topics, seed the demo
account directory. `python -m shared.admin --help`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable

from pymongo import AsyncMongoClient, ReplaceOne

from shared.contracts.catalog import load_catalog
from shared.contracts.directory import (
    ACCOUNTS_COLLECTION,
    DEMO_ACCOUNTS,
    DIRECTORY_DATABASE,
    AccountRecord,
)
from shared.contracts.topics import Topics
from shared.kafka.admin import create_topics, topic_plan


async def seed_directory(mongo_url: str, accounts: Iterable[AccountRecord] = DEMO_ACCOUNTS) -> int:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    try:
        collection = client[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION]
        ops = [
            ReplaceOne({"_id": a.account_id}, a.model_dump(by_alias=True), upsert=True)
            for a in accounts
        ]
        result = await collection.bulk_write(ops)
        return result.upserted_count + result.modified_count
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    topics_cmd = sub.add_parser("create-topics", help="create the topics the services use")
    topics_cmd.add_argument("--bootstrap-servers", required=True)
    topics_cmd.add_argument("--prefix", default="")
    topics_cmd.add_argument("--replication", type=int, default=1)
    seed_cmd = sub.add_parser("seed-directory", help="load the demo accounts")
    seed_cmd.add_argument("--mongo-url", required=True)
    args = parser.parse_args(argv)
    if args.command == "create-topics":
        plan = topic_plan(Topics(args.prefix), load_catalog().teams)
        created = asyncio.run(create_topics(args.bootstrap_servers, plan, args.replication))
        print(f"created {len(created)} topics, {len(plan) - len(created)} existed")
    else:
        print(f"seeded {asyncio.run(seed_directory(args.mongo_url))} accounts")


if __name__ == "__main__":
    main()
