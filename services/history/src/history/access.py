"""Who may read what, in one place for the JSON API and the HTML page.

A customer reads only their own requests; anyone else's reads as missing (404, never 403, so
a request number reveals nothing). Agents read any request. Dashboards read aggregates only.
"""

from __future__ import annotations

from history.domain.projection import RequestView
from shared.contracts.identity import Principal, Role

LIST_ROLES = (Role.CUSTOMER,)
DETAIL_ROLES = (Role.CUSTOMER, Role.AGENT)
STATS_ROLES = (Role.DASHBOARD,)
QUEUE_ROLES = (Role.AGENT,)


def may_read(principal: Principal, view: RequestView) -> bool:
    if principal.role is Role.AGENT:
        return True
    return principal.role is Role.CUSTOMER and view.account_id == principal.account_id
