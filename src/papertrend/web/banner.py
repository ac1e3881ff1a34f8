"""What the subscribe banner shows this reader (#13): it never asks a subscriber for their address.

- "ask": the address field and Subscribe, as ever, for a reader we know nothing about;
- "account": a signed-in reader without an active subscription gets a link to "Your email" (they
  proved their address when signing in; web/account_email.py);
- "none": a signed-in reader whose address is subscribed, or a browser carrying the subscribed
  cookie (web/cookies.py) after confirming or opening the preferences page.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from papertrend.accounts.repository import User
from papertrend.db import reading
from papertrend.digest import subscriptions as subs
from papertrend.digest.records import Subscription
from papertrend.web.cookies import SUBSCRIBED_COOKIE
from papertrend.web.deps import get_state

Banner = Literal["ask", "account", "none"]


def own_subscription(request: Request, user: User) -> Subscription | None:
    """The subscription of the signed-in reader's own address, read once per request."""
    if hasattr(request.state, "own_subscription"):
        found: Subscription | None = request.state.own_subscription
        return found
    state = get_state(request)
    with reading(state.engine) as conn:
        found = subs.get_by_email(conn=conn, email=user.email)
    request.state.own_subscription = found
    return found


def banner_for(request: Request, user: User | None) -> Banner:
    """Which banner this request's page shows."""
    if user is None:
        return "none" if request.cookies.get(SUBSCRIBED_COOKIE) == "1" else "ask"
    try:
        sub = own_subscription(request, user)
    except SQLAlchemyError:  # an error page still renders with the database down
        return "account"
    return "none" if sub is not None and sub.status == "confirmed" else "account"
