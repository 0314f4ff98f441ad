"""French first: every user-facing string of the code and templates has its French translation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from app.i18n import CATALOG_DIR, language_of, translations

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def test_french_catalog_translates_every_extracted_string(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-k", "N_", "-F", "babel.cfg",
                    "-o", str(pot), "--no-location", "app"], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    with (CATALOG_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {message.id: message.string for message in catalog if message.id and message.string}
    assert len(extracted) > 100
    missing = sorted((msgid for msgid in extracted if msgid not in translated), key=str)
    assert missing == [], "run `make messages` and translate these in fr/messages.po"
    for msgid, french in translated.items():
        assert set(PLACEHOLDER.findall(msgid if isinstance(msgid, str) else msgid[0])) == set(
            PLACEHOLDER.findall(french if isinstance(french, str) else french[0])), msgid


def test_catalog_is_loaded_for_french_only() -> None:
    assert translations("fr").gettext("Log in") == "Se connecter"
    assert translations("en").gettext("Log in") == "Log in"
    with language_of("de"):
        assert translations("fr").gettext("Log in") == "Se connecter"


async def test_language_switch_works_without_javascript(client) -> None:
    from tests.fixtures import post_form

    home = await client.get("/faq")
    assert 'lang="fr"' in home.text and "Questions et réponses" in home.text
    switched = await post_form(client, "/language", {"language": "en", "next": "/faq"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/faq"
    assert "lang=en" in switched.headers["set-cookie"] and "HttpOnly" in switched.headers["set-cookie"]
    english = await client.get("/faq")
    assert 'lang="en"' in english.text and "Questions and answers" in english.text
    assert "What happens without an agreement?" in english.text
    # Unknown language or foreign redirect target: French and home
    odd = await post_form(client, "/language", {"language": "xx", "next": "https://evil.example/"},
                          follow_redirects=False)
    assert odd.headers["location"] == "/" and "lang=fr" in odd.headers["set-cookie"]


async def test_faq_answers_the_questions_people_ask(client) -> None:
    page = await client.get("/faq")
    topics = ["Comment fonctionne la médiation collective", "Combien cela coûte", "Est-ce confidentiel",
              "Combien de temps", "me retirer", "en l'absence d'accord"]
    for topic in topics:
        assert topic in page.text, topic
