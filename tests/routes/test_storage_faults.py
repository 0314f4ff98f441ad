"""A full or read-only disk under VAR_DIR: an evidence upload or a room post with a file answers 507/503 in the
visitor's language (never a 500), leaves no `.part` file and no row without its file, keeps what was saved
before, and the same request succeeds once the disk is healed.

The faults are real, not mocks (tests/storage_faults.py): the evidence or room folder gets a 1 MB tmpfs of
its own (the tests run as root here, where chmod does not stop writes), filled up for ENOSPC or remounted
read-only for EROFS; without the right to mount, read-only is chmod 0o500 (EACCES) and disk-full is skipped.
"""

from __future__ import annotations

from app.actions.claims import evidence_dir
from app.actions.room import attachments_dir
from app.tables import Claim, MessageAttachment
from tests.factories import make_account, pdf_bytes, png_bytes
from tests.factories.cases import make_case
from tests.fixtures import HTMX, Browsers, is_fragment, logged_in, visible
from tests.routes.test_evidence import evidence_of, upload
from tests.routes.test_room import make_room, post
from tests.routes.test_room_messages import bodies
from tests.storage_faults import faulty_folder, temporary_files

FULL_TITLE = "Espace de stockage insuffisant"
NOTHING_LOST = "Réessayez plus tard ; rien de ce que vous aviez déjà enregistré n'est perdu."
UNAVAILABLE_TITLE = "Les fichiers ne peuvent pas être enregistrés pour le moment"


async def test_a_full_disk_answers_507_in_french_and_a_retry_succeeds_once_space_is_freed() -> None:
    consumer = await make_account()
    case, claim = await make_case(consumer)
    async with logged_in(consumer, language="fr") as browser:
        with faulty_folder(evidence_dir()) as disk:
            saved = await upload(browser, claim.id, [("facture.pdf", pdf_bytes(), "application/pdf")],
                                 follow_redirects=False)
            assert saved.status_code == 303
            disk.fill()

            # When the disk is full, the upload answers 507 with what happened and what to do, in French
            refused = await upload(browser, claim.id, [("photo.png", png_bytes(), "image/png")],
                                   follow_redirects=False)
            assert refused.status_code == 507, refused.text
            assert FULL_TITLE in visible(refused) and NOTHING_LOST in visible(refused)
            assert "Something went wrong" not in refused.text and refused.headers["retry-after"] == "300"
            # an HTMX upload gets the message alone, for the region it replaces
            fragment = await upload(browser, claim.id, [("photo.png", png_bytes(), "image/png")], headers=HTMX)
            assert fragment.status_code == 507 and is_fragment(fragment.text, "error-message")
            assert FULL_TITLE in visible(fragment)

            # Nothing half-saved, nothing lost: no .part file, no new row, the claim and its first file intact
            assert temporary_files(disk.folder) == []
            [first] = await evidence_of(claim.id)
            assert disk.entries() == [first.stored_name] and first.original_name == "facture.pdf"
            assert await Claim.exists().where(Claim.id == claim.id)
            download = await browser.get(f"/evidence/{first.id}")
            assert download.status_code == 200 and download.content == pdf_bytes()
            assert "facture.pdf" in visible(await browser.get(f"/claims/{claim.id}"))

            # Once space is freed, the same upload works
            disk.free()
            retried = await upload(browser, claim.id, [("photo.png", png_bytes(), "image/png")],
                                   follow_redirects=False)
            assert retried.status_code == 303, retried.text
            stored = [item.stored_name for item in await evidence_of(claim.id)]
            assert [item.original_name for item in await evidence_of(claim.id)] == ["facture.pdf", "photo.png"]
            assert disk.entries() == sorted(stored)
    # the folder beneath the tmpfs got the files back: the rows still find them
    assert all((evidence_dir() / name).is_file() for name in stored)


async def test_a_read_only_disk_answers_503_in_french_and_a_retry_succeeds_once_writable() -> None:
    consumer = await make_account()
    case, claim = await make_case(consumer)
    async with logged_in(consumer, language="fr") as browser:
        with faulty_folder(evidence_dir()) as disk:
            disk.read_only()
            refused = await upload(browser, claim.id, [("facture.pdf", pdf_bytes(), "application/pdf")],
                                   follow_redirects=False)
            assert refused.status_code == 503, refused.text
            assert UNAVAILABLE_TITLE in visible(refused) and NOTHING_LOST in visible(refused)
            assert temporary_files(disk.folder) == [] and await evidence_of(claim.id) == []
            assert await Claim.exists().where(Claim.id == claim.id)
            # in English for an English visitor
            browser.cookies.set("lang", "en")
            english = await upload(browser, claim.id, [("facture.pdf", pdf_bytes(), "application/pdf")])
            assert english.status_code == 503 and "Files cannot be saved right now" in english.text
            browser.cookies.set("lang", "fr")

            disk.writable()
            retried = await upload(browser, claim.id, [("facture.pdf", pdf_bytes(), "application/pdf")],
                                   follow_redirects=False)
            assert retried.status_code == 303, retried.text
            [evidence] = await evidence_of(claim.id)
            assert disk.entries() == [evidence.stored_name]


async def test_a_room_post_with_a_file_on_a_full_disk_keeps_the_room_and_works_again(browsers: Browsers) -> None:
    room = await make_room()
    alice = await browsers.as_(room.world.consumer_a, language="fr")
    assert (await post(alice, room.consumers, "avant la panne")).status_code == 303
    with faulty_folder(attachments_dir()) as disk:
        disk.fill()
        # When the disk is full, the message with its file is refused with a 507 in French, and not stored
        refused = await post(alice, room.consumers, "ma facture", key="retry-key-1",
                             files={"file": ("facture.pdf", pdf_bytes(), "application/pdf")})
        assert refused.status_code == 507, refused.text
        assert FULL_TITLE in visible(refused) and NOTHING_LOST in visible(refused)
        fragment = await post(alice, room.consumers, "ma facture", key="retry-key-1", htmx=True,
                              files={"file": ("facture.pdf", pdf_bytes(), "application/pdf")})
        assert fragment.status_code == 507 and is_fragment(fragment.text, "error-message")
        assert temporary_files(disk.folder) == [] and disk.entries() == []
        assert await bodies(room.consumers) == ["avant la panne"]
        assert await MessageAttachment.count().where(MessageAttachment.message.space == room.consumers) == 0
        page = await alice.get(f"/spaces/{room.consumers}")
        assert page.status_code == 200 and "avant la panne" in page.text

        # Once space is freed, the same post (same client key) is stored once, with its file
        disk.free()
        retried = await post(alice, room.consumers, "ma facture", key="retry-key-1",
                             files={"file": ("facture.pdf", pdf_bytes(), "application/pdf")})
        assert retried.status_code == 303, retried.text
        assert await bodies(room.consumers) == ["avant la panne", "ma facture"]
        [attachment] = await MessageAttachment.select(MessageAttachment.stored_name).where(
            MessageAttachment.message.space == room.consumers)
        assert disk.entries() == [attachment["stored_name"]]
    assert (attachments_dir() / attachment["stored_name"]).read_bytes() == pdf_bytes()

