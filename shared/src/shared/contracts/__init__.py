"""What every producer and consumer of an event needs, and nothing a running service needs:
the event models, topic names, statuses, the catalog of teams and categories, the account
directory's record and the roles a token carries. These modules import only pydantic (and
the standard library), so a support team's tool can depend on them alone; a test checks it.
"""
