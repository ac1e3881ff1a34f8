"""What the arXiv fetching tests share (issues #1, #13): where the recorded API answers are, and a polite
client that waits on fake time."""

from __future__ import annotations

from papertrend.ingest.http import PoliteClient
from tests.fakes import FakeTime

API_2026 = "arxiv_api_fixtures/api_atom/recorded_2026_arxiv_py"
USER_AGENT = "papertrend-tests/0 (mailto:tests@example.org)"


def make_client(
    fake: FakeTime, *, min_interval: float = 0.0, retries: int = 4, backoff: float = 1.0
) -> PoliteClient:
    """A PoliteClient whose waits and clock are `fake`'s."""
    return PoliteClient(
        user_agent=USER_AGENT,
        min_interval=min_interval,
        retries=retries,
        backoff=backoff,
        sleep=fake.sleep,
        clock=fake.clock,
    )
