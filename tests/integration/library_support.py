"""What the library tests share (issue #13): the web tests' papers embedded with the fast model behind
an app whose arXiv API is a closed port, and a reader signed in by a session row."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from papertrend.accounts import repository as accounts_repo
from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.library import repository as library_repo
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from papertrend.security import hash_token, new_token
from papertrend.web.cookies import SESSION_COOKIE
from tests.integration.web_support import NOW, Web, load_papers, make_web


def library_web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    """The web tests' papers, embedded with the fast model, and the app with arXiv's API on a closed port."""
    load_papers(engine, fixture_data, tmp_path / "data")
    embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    # A closed port: an import that names unknown ids fails to fetch them at once, without a network.
    return make_web(
        settings.model_copy(
            update={
                "embedding_model": FAST_MODEL,
                "arxiv_api_url": "http://127.0.0.1:9/api/query",
                "http_retries": 0,
            }
        ),
        engine,
    )


def new_session(engine: Engine, email: str) -> tuple[int, str]:
    """A session row for this address's user (made if new), as POST /login/<token> makes it, without
    the mailbox round trip; (user id, the session cookie's value)."""
    token = new_token()
    with transaction(engine) as conn:
        user = accounts_repo.user_for_login(conn=conn, email=email, now=NOW)
        accounts_repo.add_session(
            conn=conn,
            token_hash=hash_token(token),
            user_id=user.id,
            now=NOW,
            expires_at=NOW + timedelta(days=1),
        )
    return user.id, token


def sign_in(web: Web, engine: Engine, email: str = "reader@example.org") -> int:
    """Sign the client in through a new session row (`new_session`); the user's id."""
    user_id, token = new_session(engine, email)
    web.cookies.set(SESSION_COOKIE, token)
    return user_id


def collection_id(engine: Engine, user_id: int, name: str) -> int:
    """The id of the reader's collection of that name."""
    with reading(engine) as conn:
        found = library_repo.collection_by_name(conn=conn, user_id=user_id, name=name)
    assert found is not None
    return found.id
