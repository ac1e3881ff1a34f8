"""Every table of every room on the one MetaData, for migrations, the schema check and `db copy` (#11).

Each room defines its tables beside its code, on `papertrend.sql.metadata`; importing this module
registers them all. The names stay importable from here.
"""

from __future__ import annotations

# The accounts' and the digest's tables, registered on the same metadata (names imported from their rooms).
from papertrend.accounts import tables as _accounts_tables  # noqa: F401
from papertrend.digest import tables as _digest_tables  # noqa: F401
from papertrend.ingest.tables import ingest_cursors as ingest_cursors
from papertrend.ingest.tables import ingest_runs as ingest_runs
from papertrend.leases import job_leases as job_leases
from papertrend.papers.tables import papers as papers
from papertrend.papers.tables import votes as votes
from papertrend.ratelimit import rate_limits as rate_limits
from papertrend.search.tables import EmbeddingVector as EmbeddingVector
from papertrend.search.tables import embeddings as embeddings
from papertrend.sql import UTCDateTime as UTCDateTime
from papertrend.sql import insert_for as insert_for
from papertrend.sql import metadata as metadata
