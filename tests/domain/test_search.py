"""Search words: accents, case and French inflections meet on the same stems; queries carry nothing else."""

from __future__ import annotations

import pytest

from app.domain.search import fold, fts5_query, index_text, query_terms, terms, tsquery


def test_fold_drops_accents_case_and_ligatures() -> None:
    assert fold("Électricité") == "electricite"
    assert fold("ŒUVRE Cœur") == "oeuvre coeur"
    assert fold("Ça coûte") == "ca coute"


@pytest.mark.parametrize(("typed", "indexed"), [
    ("rembourse", "Remboursement"),
    ("remboursé", "remboursements"),
    ("RESILIATION", "résilier"),
    ("electricite", "Électricité"),
    ("facture", "facturation"),
    ("prelevement", "Prélèvements"),
    ("abonnés", "abonnement"),
    ("facturees", "Facture"),  # typed without accents
    ("annulées", "annulation"),
])
def test_inflections_and_accents_meet_on_one_stem(typed: str, indexed: str) -> None:
    [stem] = query_terms(typed)
    assert stem in terms(indexed)


def test_different_words_do_not_meet() -> None:
    assert set(terms("livraison")) & set(terms("remboursement")) == set()


def test_stop_words_and_single_letters_are_left_out() -> None:
    assert terms("le remboursement de l’abonnement et la facture") == ["rembours", "abon", "factur"]
    assert query_terms("de la et") == []


def test_index_text_is_distinct_stems() -> None:
    assert index_text(["Facture", "factures FACTURÉES"]) == "factur"


def test_queries_are_bounded() -> None:
    assert len(query_terms(" ".join(f"mot{n}x" for n in range(50)))) == 8


@pytest.mark.parametrize("hostile", ['"rembours" OR *', "rembours') OR 1=1 --", "NEAR(a b)", "a:* | b", "\x00\u202e"])
def test_query_syntax_typed_by_a_visitor_becomes_plain_words(hostile: str) -> None:
    stems = query_terms(hostile)
    for expression in (fts5_query(stems), tsquery(stems), fts5_query(stems, any_term=True)):
        assert "'" not in expression and "(" not in expression and "--" not in expression
        assert "|" not in tsquery(stems) and "OR" not in fts5_query(stems)


def test_query_expressions_match_prefixes_on_both_engines() -> None:
    stems = query_terms("remboursement factures")
    assert fts5_query(stems) == '"rembours"* AND "factur"*'
    assert tsquery(stems) == "rembours:* & factur:*"
    assert fts5_query(stems, any_term=True) == '"rembours"* OR "factur"*'
    assert tsquery(stems, any_term=True) == "rembours:* | factur:*"
