"""A reader's library (issue #13): save, move, rename, delete, share by link, "Your upvotes",
"not interested" and followed authors. The caller owns the transaction.

Every function takes the signed-in user's id and touches only that user's rows: a collection id
of someone else's answers NotFound, exactly like one that does not exist.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy.engine import Connection

from papertrend.errors import BadRequest, NotFound
from papertrend.library import repository as repo
from papertrend.library.repository import Collection, Entry
from papertrend.papers.ids import parse_arxiv_id
from papertrend.security import new_token

DEFAULT_COLLECTION = "Saved"
MAX_NAME_CHARS = 200
MAX_COLLECTIONS = 200
# A whole library imported at once may be this big; beyond it the import is refused before any
# change (10k entries is what issue #13's hostile-input list names).
MAX_COLLECTION_PAPERS = 10_000
MAX_AUTHOR_CHARS = 300
NOT_INTERESTED = "not_interested"
# Markup and control characters are refused rather than escaped at every place a name is shown
# (pages, feeds, mail subjects, BibTeX comments): a clear message beats a surprise later.
_BAD_NAME = re.compile(r"[<>\x00-\x1f\x7f]")


def clean_name(name: str) -> str:
    """A collection name, trimmed and checked: BadRequest with the reason otherwise."""
    text = unicodedata.normalize("NFC", " ".join(name.split()))
    if not text:
        raise BadRequest("A collection needs a name.")
    if len(text) > MAX_NAME_CHARS:
        raise BadRequest(f"Collection names are at most {MAX_NAME_CHARS} characters.")
    if _BAD_NAME.search(name.replace("\n", " ").replace("\t", " ").replace("\r", " ")):
        raise BadRequest("Collection names may not contain < or > or control characters.")
    return text


def author_key(name: str) -> str:
    """What followed-author matching compares: case-folded, accents and extra spaces removed."""
    if name.isascii():  # nothing to decompose or fold beyond lower case: 23,000 names a digest run
        return " ".join(name.split()).lower()
    text = unicodedata.normalize("NFKD", " ".join(name.split())).casefold()
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _paper_pk(conn: Connection, paper_id: str) -> tuple[str, int]:
    key = parse_arxiv_id(paper_id).key
    pk = repo.pks_for_ids(conn=conn, paper_ids=[key]).get(key)
    if pk is None:
        raise NotFound(f"No paper {key} is stored here.")
    return key, pk


def _own(conn: Connection, user_id: int, collection_id: int) -> Collection:
    found = repo.get_collection(conn=conn, user_id=user_id, collection_id=collection_id)
    if found is None:
        raise NotFound("No such collection.")
    return found


def create_collection(*, conn: Connection, user_id: int, name: str, now: datetime) -> Collection:
    """A new, private collection; BadRequest if the name is taken or invalid."""
    text = clean_name(name)
    if repo.collection_by_name(conn=conn, user_id=user_id, name=text) is not None:
        raise BadRequest(f"You already have a collection named {text!r}.")
    if len(repo.list_collections(conn=conn, user_id=user_id)) >= MAX_COLLECTIONS:
        raise BadRequest(f"At most {MAX_COLLECTIONS} collections, please.")
    cid = repo.create_collection(conn=conn, user_id=user_id, name=text, now=now)
    return _own(conn, user_id, cid)


def default_collection(*, conn: Connection, user_id: int, now: datetime) -> Collection:
    """The user's "Saved" collection, created on first use."""
    found = repo.collection_by_name(conn=conn, user_id=user_id, name=DEFAULT_COLLECTION)
    if found is not None:
        return found
    cid = repo.create_collection(conn=conn, user_id=user_id, name=DEFAULT_COLLECTION, now=now)
    return _own(conn, user_id, cid)


def collections(*, conn: Connection, user_id: int) -> list[Collection]:
    """The user's collections, oldest first."""
    return repo.list_collections(conn=conn, user_id=user_id)


def collection(*, conn: Connection, user_id: int, collection_id: int) -> Collection:
    """One of the user's collections; NotFound otherwise."""
    return _own(conn, user_id, collection_id)


def entries(*, conn: Connection, user_id: int, collection_id: int) -> list[Entry]:
    """The papers of one of the user's collections, newest addition first."""
    _own(conn, user_id, collection_id)
    return repo.collection_entries(conn=conn, collection_id=collection_id)


def upvotes(*, conn: Connection, user_id: int) -> list[Entry]:
    """ "Your upvotes": the papers the user upvoted, newest first."""
    return repo.upvote_entries(conn=conn, user_id=user_id)


def save_many(
    *, conn: Connection, user_id: int, paper_pks: list[int], collection_id: int | None, now: datetime
) -> tuple[Collection, int]:
    """Put stored papers in a collection ("Saved" when None); returns it and how many were new.

    Refused as a whole, before any change, when the collection would pass MAX_COLLECTION_PAPERS.
    """
    target = (
        default_collection(conn=conn, user_id=user_id, now=now)
        if collection_id is None
        else _own(conn, user_id, collection_id)
    )
    if target.n_papers + len(set(paper_pks)) > MAX_COLLECTION_PAPERS:
        have = {e.paper_pk for e in repo.collection_entries(conn=conn, collection_id=target.id)}
        if len(have | set(paper_pks)) > MAX_COLLECTION_PAPERS:
            raise BadRequest(
                f"A collection holds at most {MAX_COLLECTION_PAPERS:,} papers; {target.name!r} has "
                f"{target.n_papers:,} and this would add {len(set(paper_pks) - have):,}. Nothing was changed."
            )
    added = repo.add_papers(conn=conn, collection_id=target.id, paper_pks=paper_pks, now=now)
    return _own(conn, user_id, target.id), added


def save(
    *, conn: Connection, user_id: int, paper_id: str, collection_id: int | None = None, now: datetime
) -> Collection:
    """Save a stored paper (any accepted id spelling) in a collection, "Saved" by default."""
    _, pk = _paper_pk(conn, paper_id)
    return save_many(conn=conn, user_id=user_id, paper_pks=[pk], collection_id=collection_id, now=now)[0]


def unsave(*, conn: Connection, user_id: int, paper_id: str, collection_id: int) -> bool:
    """Take a paper out of one of the user's collections; True when it was there."""
    _own(conn, user_id, collection_id)
    _, pk = _paper_pk(conn, paper_id)
    return repo.remove_paper(conn=conn, collection_id=collection_id, paper_pk=pk)


def move(
    *, conn: Connection, user_id: int, paper_id: str, from_id: int, to_id: int, now: datetime
) -> Collection:
    """Move a paper from one of the user's collections to another; NotFound if it was not in the first."""
    _own(conn, user_id, from_id)
    _, pk = _paper_pk(conn, paper_id)
    if from_id == to_id:
        return _own(conn, user_id, to_id)
    _own(conn, user_id, to_id)
    # Taken out first: a paper that was not there changes nothing, even if the caller commits.
    if not repo.remove_paper(conn=conn, collection_id=from_id, paper_pk=pk):
        raise NotFound("That paper is not in the collection it was to be moved from.")
    return save_many(conn=conn, user_id=user_id, paper_pks=[pk], collection_id=to_id, now=now)[0]


def rename(*, conn: Connection, user_id: int, collection_id: int, name: str) -> Collection:
    """Rename one of the user's collections; BadRequest if the name is taken or invalid."""
    current = _own(conn, user_id, collection_id)
    text = clean_name(name)
    if text == current.name:
        return current
    if repo.collection_by_name(conn=conn, user_id=user_id, name=text) is not None:
        raise BadRequest(f"You already have a collection named {text!r}.")
    repo.rename_collection(conn=conn, collection_id=collection_id, name=text)
    return _own(conn, user_id, collection_id)


def delete(*, conn: Connection, user_id: int, collection_id: int) -> None:
    """Delete one of the user's collections (the papers stay in the store and in other collections)."""
    _own(conn, user_id, collection_id)
    repo.delete_collection(conn=conn, collection_id=collection_id)


def make_public(*, conn: Connection, user_id: int, collection_id: int) -> str:
    """Share a collection read-only by link; returns its token (the same one while it stays public)."""
    current = _own(conn, user_id, collection_id)
    if current.public_token:
        return current.public_token
    token = new_token()
    repo.set_public_token(conn=conn, collection_id=collection_id, token=token)
    return token


def make_private(*, conn: Connection, user_id: int, collection_id: int) -> None:
    """Stop sharing a collection: its old link answers NotFound from now on."""
    _own(conn, user_id, collection_id)
    repo.set_public_token(conn=conn, collection_id=collection_id, token=None)


def shared(*, conn: Connection, token: str) -> tuple[Collection, list[Entry]]:
    """A collection shared by link and its papers; NotFound for an unknown or withdrawn link."""
    found = repo.public_collection(conn=conn, token=token) if token else None
    if found is None:
        raise NotFound("No such shared collection.")
    return found, repo.collection_entries(conn=conn, collection_id=found.id)


def not_interested(*, conn: Connection, user_id: int, paper_id: str, now: datetime) -> None:
    """Mark a paper "not interested": a negative for recommendations, never recommended again."""
    _, pk = _paper_pk(conn, paper_id)
    repo.add_feedback(conn=conn, user_id=user_id, paper_pk=pk, kind=NOT_INTERESTED, now=now)


def undo_not_interested(*, conn: Connection, user_id: int, paper_id: str) -> None:
    """Take back a "not interested"."""
    _, pk = _paper_pk(conn, paper_id)
    repo.remove_feedback(conn=conn, user_id=user_id, paper_pk=pk, kind=NOT_INTERESTED)


def follow(*, conn: Connection, user_id: int, name: str, now: datetime) -> str:
    """Follow an author by name; returns the matching key."""
    text = " ".join(name.split())
    if not text or len(text) > MAX_AUTHOR_CHARS or _BAD_NAME.search(text):
        raise BadRequest(f"An author's name is 1–{MAX_AUTHOR_CHARS} characters, without < or >.")
    key = author_key(text)
    repo.follow_author(conn=conn, user_id=user_id, name=text, name_key=key, now=now)
    return key


def unfollow(*, conn: Connection, user_id: int, name: str) -> bool:
    """Stop following an author; True when they were followed."""
    text = " ".join(name.split())
    if not text or len(text) > MAX_AUTHOR_CHARS or _BAD_NAME.search(text):
        # A name `follow` refuses was never followed; a NUL sent on to PostgreSQL was a 500.
        return False
    return repo.unfollow_author(conn=conn, user_id=user_id, name_key=author_key(text))


def followed_authors(*, conn: Connection, user_id: int) -> list[str]:
    """The names of the authors the user follows."""
    return [name for _, name in repo.followed(conn=conn, user_id=user_id)]
