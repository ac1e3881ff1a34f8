"""Every room's tables on the one MetaData, for migrations, the schema check and `db copy` (#11).

Each room defines its tables beside its code (`papers/tables.py`, `search/tables.py`, …) on
`papertrend.sql.metadata` and its code imports them from there; importing this module registers them
all, so `metadata` here is the whole schema.
"""

from __future__ import annotations

from papertrend import leases, ratelimit  # noqa: F401  (job_leases, rate_limits)
from papertrend.accounts import tables as _accounts  # noqa: F401
from papertrend.digest import tables as _digest  # noqa: F401
from papertrend.ingest import tables as _ingest  # noqa: F401
from papertrend.library import tables as _library  # noqa: F401
from papertrend.papers import tables as _papers  # noqa: F401
from papertrend.search import tables as _search  # noqa: F401
from papertrend.sql import metadata as metadata
