"""Moved to papertrend.types (#11); kept until every room imports it from there."""

from papertrend.types import *  # noqa: F403
from papertrend.types import ELLIPSIS, MARK_CLOSE, MARK_OPEN, Filters, Hit, Mode, Sort  # noqa: F401
