"""Export the requests agents moved as labelled examples for the router: `make corrections`
(`python -m history.corrections --output FILE`). One CSV row per transferred request
(history.domain.corrections: text masked, final team, the customer's pick, the decision it was
moved from); the router trains on it with `make model EXTRA=FILE`. MongoDB is found like
`make replay` finds it (HISTORY_MONGO_URL, else 127.0.0.1:$MONGO_PORT).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterable
from pathlib import Path

from pymongo.errors import PyMongoError

from history.adapters.mongo import from_document
from history.domain.corrections import COLUMNS, Correction, correction_of
from history.replay import ReplayError, mongo_hosts, resolve_settings
from history.settings import HistorySettings
from shared.contracts.directory import ACCOUNTS_COLLECTION, DIRECTORY_DATABASE
from shared.mongo import create_mongo_client


async def export(settings: HistorySettings, output: Path) -> int:
    """Write the corrections to `output`; the number of rows. Two queries: the moved requests
    (`transfers.0` exists), then their accounts' names (to mask them)."""
    client = create_mongo_client(settings, "history-corrections")
    try:
        requests = client[settings.database][settings.collection]
        views = [from_document(d) async for d in requests.find({"transfers.0": {"$exists": True}})]
        accounts = client[DIRECTORY_DATABASE][ACCOUNTS_COLLECTION]
        ids = sorted({v.account_id for v in views})
        names: dict[str, str] = {
            str(d["_id"]): str(d.get("display_name") or "")
            async for d in accounts.find({"_id": {"$in": ids}}, {"display_name": 1})
        }
    except PyMongoError as exc:
        where = mongo_hosts(settings.mongo_url.get_secret_value())
        raise ReplayError(
            f"cannot read MongoDB at {where} ({type(exc).__name__}); is `make run` up?"
            " Set MONGO_PORT (or HISTORY_MONGO_URL)"
        ) from exc
    finally:
        await client.close()
    rows = [c for v in views if (c := correction_of(v, names.get(v.account_id, ""))) is not None]
    write_corrections(output, rows)
    return len(rows)


def write_corrections(output: Path, rows: Iterable[Correction]) -> None:
    """The CSV `make model EXTRA=...` reads (router.classifier.extra): COLUMNS, sorted rows."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(sorted(c.row() for c in rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m history.corrections", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path(".data/corrections.csv"))
    parser.add_argument(
        "--mongo-url", help="default: HISTORY_MONGO_URL, else 127.0.0.1:$MONGO_PORT"
    )
    args = parser.parse_args(argv)
    try:
        settings = resolve_settings(mongo_url=args.mongo_url)
        count = asyncio.run(export(settings, args.output))
    except ReplayError as exc:
        print(f"corrections: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{count} corrected requests written to {args.output}")


if __name__ == "__main__":
    main()
