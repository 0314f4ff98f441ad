"""Request ids and the access log: one JSON line per request, numbers only, and the id on error pages."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

from litestar.testing import AsyncTestClient

from app.platform.observability import ACCESS_LOGGER, logging_config, uvicorn_logging
from app.settings import get_settings
from app.tables import Case
from tests.factories import PASSWORD, case_values, claim_values, make_account
from tests.factories.cases import make_company
from tests.fixtures import build_app, logged_in, post_form
from tests.log_capture import captured_lines

ROOT = Path(__file__).resolve().parent.parent
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


async def test_a_request_gives_one_json_line_whose_id_is_the_response_header(client) -> None:
    with captured_lines(ACCESS_LOGGER) as log:
        response = await client.get("/faq")
    assert response.status_code == 200
    [line] = log.records()
    assert line["request_id"] == response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(line["request_id"])
    assert line["log"] == ACCESS_LOGGER and line["ts"].endswith("Z")
    assert (line["method"], line["route"], line["status"], line["user_id"]) == ("GET", "/faq", 200, None)
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 60_000


async def test_a_logged_in_visitor_is_logged_by_number_only() -> None:
    # Given a logged-in consumer with a recognisable name
    name = f"Zoé Distinctname {secrets.token_hex(3)}"
    consumer = await make_account(name=name)
    company = await make_company()
    secret_words = f"zqbody{secrets.token_hex(6)}"
    query_secret = f"zqquery{secrets.token_hex(6)}"
    with captured_lines(ACCESS_LOGGER) as log:
        async with logged_in(consumer) as browser:
            csrf = browser.cookies["csrftoken"]
            # When they post a case with a distinctive text (and a query string), then open a case that is not there
            posted = await post_form(browser, f"/cases?ref={query_secret}", {
                "company_id": str(company.id), "confirm_new": "1",
                **case_values(problem=f"Un problème {secret_words} très précis, décrit en détail ici."),
                **claim_values(facts=f"Les faits {secret_words} : un vol annulé, jamais remboursé depuis.")},
                follow_redirects=False)
            missing = await browser.get("/cases/987654321")
    assert posted.status_code == 303, posted.text
    assert missing.status_code == 404
    lines = log.lines
    records = log.records()
    # Then each request has its line, with the user's id once logged in and the route's template, not its path
    post_line = next(r for r in records if r["method"] == "POST" and r["route"] == "/cases")
    assert post_line["user_id"] == consumer.user.id and post_line["status"] == 303
    assert post_line["request_id"] == posted.headers["x-request-id"]
    missing_line = next(r for r in records if r["request_id"] == missing.headers["x-request-id"])
    assert missing_line["status"] == 404 and missing_line["user_id"] == consumer.user.id
    assert missing_line["route"] == "/cases/{case_id}"
    login_line = next(r for r in records if r["route"] == "/login" and r["method"] == "POST")
    assert login_line["status"] == 303
    # And nothing personal, secret or written by the visitor is in any line
    case = await Case.objects().where(Case.company == company.id).first()
    assert case is not None
    forbidden = [consumer.email, consumer.email.split("@")[0], name, "Distinctname", PASSWORD, csrf, query_secret,
                 "ref=", secret_words, "987654321", "?"]
    for text in forbidden:
        assert not any(text in line for line in lines), text


async def test_an_incoming_request_id_is_kept_only_when_it_is_plain(client) -> None:
    with captured_lines(ACCESS_LOGGER) as log:
        kept = await client.get("/healthz", headers={"X-Request-ID": "edge-proxy.1234_abcd"})
        bad = [await client.get("/healthz", headers={"X-Request-ID": value})
               for value in ("short", "has space in it", "x" * 65, "<script>alert(1)</script>",
                             "évé-12345678".encode())]
    assert kept.headers["x-request-id"] == "edge-proxy.1234_abcd"
    for response in bad:
        assert GENERATED_ID.fullmatch(response.headers["x-request-id"]), response.headers["x-request-id"]
    assert [r["request_id"] for r in log.records()] == [kept.headers["x-request-id"]] + [
        response.headers["x-request-id"] for response in bad]


async def test_an_error_page_shows_the_request_id_to_quote(client) -> None:
    with captured_lines(ACCESS_LOGGER) as log:
        response = await client.get("/no/such/page/4242")
    assert response.status_code == 404
    request_id = response.headers["x-request-id"]
    assert f"Référence : {request_id}" in response.text
    [line] = log.records()
    # No route matched: no template, and never the raw path
    assert (line["request_id"], line["status"], line["route"]) == (request_id, 404, None)
    assert "4242" not in log.lines[0]
    client.cookies.set("lang", "en")
    english = await client.get("/no/such/page")
    assert f"Reference: {english.headers['x-request-id']}" in english.text


async def test_the_access_log_can_be_turned_off() -> None:
    async with AsyncTestClient(app=build_app(access_log=False), base_url="http://testserver.local") as quiet:
        with captured_lines(ACCESS_LOGGER) as log:
            response = await quiet.get("/healthz")
    assert response.status_code == 200 and GENERATED_ID.fullmatch(response.headers["x-request-id"])
    assert log.lines == []


def test_uvicorn_gets_our_json_lines_and_no_access_log_of_its_own() -> None:
    options = uvicorn_logging(get_settings())
    assert options["access_log"] is False  # ours is on by default
    # The configuration, applied as uvicorn applies it, writes bare JSON lines to stderr
    script = ("import logging, logging.config; from app.platform.observability import logging_config, json_line; "
              "logging.config.dictConfig(logging_config()); "
              "logging.getLogger('clf.access').info(json_line('clf.access', {'status': 200}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith('{"ts":"') and line.endswith('"log":"clf.access","status":200}')
    assert logging_config()["loggers"]["uvicorn.error"]  # uvicorn's own loggers are kept
