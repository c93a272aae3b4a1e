"""The pages for people, server-rendered, working without JavaScript: My activities and a
request's conversation (`activities`), Submit a request with suggestions as one types
(`submit`), account recovery for the locked-out (`recovery`), signing in (`signin`), and the
support managers' figures (`dashboard`, its charts drawn by `charts`). How a visitor is known
and forms are protected is in `session`; text and headers in `rendering`. Every write goes to
the intake's API, as the visitor."""

from __future__ import annotations

from fastapi import APIRouter

from history.pages import activities, assets, dashboard, recovery, signin, submit

router = APIRouter(include_in_schema=False)
# The sign-in routes before the request page's `/my-activities/{ticket_id}`.
for part in (assets, signin, submit, recovery, activities, dashboard):
    router.include_router(part.router)

__all__ = ["router"]
