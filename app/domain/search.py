"""Search words: accent- and case-folded, French-stemmed, the same for SQLite FTS5 and PostgreSQL. No I/O.

Both engines index `Case.search_text`, a string of stems computed here, and are queried with stems
computed the same way, so "rembourse", "Remboursé" and "remboursements" all meet on "rembours", and
both engines give the same matches (the database only does prefix matching on plain ASCII words).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import snowballstemmer

MAX_QUERY_TERMS = 8  # a longer query is cut: more words only narrow the results and cost time
MAX_QUERY_LENGTH = 200
MAX_INDEXED_TERMS = 400
_WORD = re.compile(r"[a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "’": "'"})

# Words that say nothing about a dispute (French first, a few English ones), folded like the text.
STOP_WORDS = frozenset("""
a ai au aux avec avoir c ca ce ces cet cette d dans de des du elle elles en est et etait ete etre eu
il ils j je l la le les leur leurs lui m ma mais me meme mes moi mon n ne nos notre nous on ont ou
par pas plus pour qu que qui s sa sans se ses si son sont sur ta te tes toi ton tu un une vos votre
vous y tres tout tous toute toutes sa apres avant depuis chez comme encore aussi bien fait faire
the of and to in for on with is was are be by an at from or not this that my our your
""".split())


def fold(text: str) -> str:
    """Lower-case ASCII-ish text: accents dropped, ligatures spelled out ("Électricité" → "electricite")."""
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_LIGATURES))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


@lru_cache(maxsize=1)
def _stemmer() -> Any:  # snowballstemmer ships no types
    return snowballstemmer.stemmer("french")


@lru_cache(maxsize=20_000)
def stem(word: str) -> str:
    """The French Snowball stem of a folded word (digits and short words are kept as they are).

    Snowball expects accents: without them "facturees" keeps an "e" that "factures" loses, so one final
    "e" is dropped from the stem ("facture" → "factur") and all the forms of a word meet again.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    stemmed = str(_stemmer().stemWord(word))
    return stemmed[:-1] if len(stemmed) > 4 and stemmed.endswith("e") else stemmed


def words(text: str) -> list[str]:
    """The folded words of a text, stop words and single letters left out."""
    return [word for word in _WORD.findall(fold(text)) if len(word) > 1 and word not in STOP_WORDS]


def terms(text: str, limit: int | None = None) -> list[str]:
    """The distinct stems of a text, in order of first appearance."""
    seen: dict[str, None] = {}
    for word in words(text):
        seen.setdefault(stem(word), None)
        if limit is not None and len(seen) >= limit:
            break
    return list(seen)


def index_text(parts: Iterable[str]) -> str:
    """What a case stores in `search_text`: the stems of its title, problem, company name…"""
    return " ".join(terms(" ".join(parts), limit=MAX_INDEXED_TERMS))


def query_terms(query: str) -> list[str]:
    """The stems of what a visitor typed (bounded)."""
    return terms((query or "")[:MAX_QUERY_LENGTH], limit=MAX_QUERY_TERMS)


def fts5_query(stems: list[str], *, any_term: bool = False) -> str:
    """An FTS5 MATCH expression: every stem as a prefix ("rembours"* AND "factur"*)."""
    joiner = " OR " if any_term else " AND "
    return joiner.join(f'"{term}"*' for term in stems if _WORD.fullmatch(term))


def tsquery(stems: list[str], *, any_term: bool = False) -> str:
    """The PostgreSQL to_tsquery('simple', …) twin of fts5_query (rembours:* & factur:*)."""
    joiner = " | " if any_term else " & "
    return joiner.join(f"{term}:*" for term in stems if _WORD.fullmatch(term))
