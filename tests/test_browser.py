"""The chat window in a real browser (Chromium through Playwright), with the real models, against a
copy of the seed documents: ask, follow up, add a document, ask about it, delete it, export.

A screenshot of each step goes to test-artifacts/ (1366×768, a laptop screen).
"""
from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest

from rag.config import REPO_ROOT, Settings
from conftest import serve_local

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = REPO_ROOT / "test-artifacts"
ANSWER_TIMEOUT_MS = 90_000
ANSWERS = "#rag-chat .rag-answer, #rag-chat .rag-abstain, #rag-chat .rag-error"

# A new document, with markup that must stay text: a remote image and two ways of running a script.
NEW_DOC_NAME = "harbour lighthouse.md"
NEW_DOC = """# Harbour Point lighthouse

![harbour](http://example.com/a.png)
<script>window.__pwned = "script";</script>
<img src="http://example.com/b.png" onerror="window.__pwned = 'onerror'">

The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen.
The lighthouse tower is 31 metres tall and painted with red and white bands.
Keepers lived in the cottage beside the tower until the light was automated in 1968.
"""



@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The real app on a copy of seeds/ with its own index, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("browser")
    seeds = root / "seeds"
    shutil.copytree(REPO_ROOT / "seeds", seeds)
    for p in [seeds, *seeds.iterdir()]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    settings = Settings(seeds_dir=seeds, index_dir=root / "index")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        demo, url = serve_local(settings)
        try:
            yield settings, f"{url}/"
        finally:
            demo.close()


@pytest.fixture(scope="module")
def page(app):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    _, url = app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
        pg = context.new_page()
        pg.outside_requests = []
        pg.on("request", lambda r: None if r.url.startswith(url) or r.url.startswith("data:")
              else pg.outside_requests.append(r.url))
        pg.goto(url)
        pg.wait_for_selector("#rag-question textarea")
        try:
            yield pg
        finally:
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def ask(page, question: str):
    """Ask in the chat window; the new answer or abstention (an error message fails the test)."""
    n = page.locator(ANSWERS).count()
    page.fill("#rag-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({ANSWERS!r}).length > {n}", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(300)
    assert page.locator(ANSWERS).count() == n + 1
    reply = page.locator(ANSWERS).last
    assert "rag-error" not in reply.get_attribute("class"), reply.inner_text()
    return reply


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(300)


def test_01_a_seed_question_streams_an_answer_with_linked_highlighted_sources(page):
    shot(page, "01-start")
    # note what the chat showed at the moment the first source card appeared
    page.evaluate("""() => {
      const seen = new MutationObserver(() => {
        if (!document.querySelector('#rag-sources .rag-card')) return;
        window.__chatWhenSourcesCame = document.querySelector('#rag-chat .rag-answer, #rag-chat .rag-abstain')
          ? 'answer' : 'waiting';
        seen.disconnect();
      });
      seen.observe(document.querySelector('#rag-sources'), {childList: true, subtree: true});
    }""")
    page.fill("#rag-question textarea", "Who signed the framework agreement between the US and Japan?")
    page.keyboard.press("Enter")
    # the passages are shown before the answer is finished
    page.wait_for_selector("#rag-sources .rag-card mark", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_selector(ANSWERS, timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(300)
    shot(page, "02-answer")
    assert page.locator("#rag-chat .rag-error").count() == 0
    assert page.evaluate("window.__chatWhenSourcesCame") == "waiting"   # sources came before the answer
    link = page.locator("#rag-chat a.rag-cite").first
    assert link.is_visible()
    target = link.get_attribute("href").lstrip("#")
    card = page.locator(f"#rag-sources #{target}")
    assert card.count() == 1
    quote = card.locator("mark")
    assert quote.is_visible() and len(quote.inner_text()) > 20
    assert ".txt" in card.locator(".rag-file").inner_text() and "score" in card.inner_text()
    assert "rag-flash" not in (card.get_attribute("class") or "")
    link.click()          # the card is flashed (for 1.6 s) where it is shown
    page.wait_for_function(f"document.getElementById({target!r}).classList.contains('rag-flash')", timeout=1500)
    shot(page, "03-citation-clicked")


def test_02_a_follow_up_is_searched_with_the_conversation(page):
    reply = ask(page, "How much will they invest?")
    shot(page, "04-follow-up")
    sources = page.locator("#rag-sources").inner_text()
    assert "How much will they invest?" in sources and "searched with the conversation" in sources
    # the follow-up is answered from the conversation's documents: Japan's companies, 400 billion dollars
    assert "rag-answer" in reply.get_attribute("class") and re.search(r"400[- ]billion", reply.inner_text())
    assert re.search(r"400[- ]billion", page.locator("#rag-sources .rag-card").first.inner_text())
    # the first answer's [1] still leads to its card: folded under "Earlier answers", opened on click
    first_link = page.locator("#rag-chat a.rag-cite").first
    card = page.locator("#rag-sources #" + first_link.get_attribute("href").lstrip("#"))
    assert card.count() == 1 and not card.is_visible()
    first_link.click()
    page.wait_for_timeout(500)
    assert card.is_visible()
    shot(page, "04b-earlier-citation")


def test_03_a_new_document_is_uploaded_indexed_answered_from_and_deleted(page, app, tmp_path):
    settings, _ = app
    open_tab(page, "Documents")
    documents = page.locator("#rag-status .rag-stat").first
    assert documents.locator(".rag-stat-k").inner_text().lower() == "documents"
    assert documents.locator(".rag-stat-v").inner_text() == "2"
    doc = tmp_path / NEW_DOC_NAME
    doc.write_text(NEW_DOC, encoding="utf-8")
    page.set_input_files("#rag-upload input[type=file]", str(doc))
    page.wait_for_selector("#rag-doc-notice .rag-ok", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_function("document.querySelector('#rag-doc-notice').innerText.includes('chunks')",
                           timeout=ANSWER_TIMEOUT_MS)
    shot(page, "05-document-added")
    notice = page.locator("#rag-doc-notice").inner_text()
    assert f"added {NEW_DOC_NAME}" in notice.lower() and "1 added" in notice
    assert NEW_DOC_NAME in page.locator("#rag-doc-list").inner_text()
    assert (settings.seeds_dir / NEW_DOC_NAME).read_text(encoding="utf-8") == NEW_DOC
    assert documents.locator(".rag-stat-v").inner_text() == "3"

    open_tab(page, "Chat")
    reply = ask(page, "How tall is the Harbour Point lighthouse tower?")
    shot(page, "06-answer-from-new-document")
    assert "rag-answer" in reply.get_attribute("class") and "31 metres" in reply.inner_text()
    assert NEW_DOC_NAME in page.locator("#rag-sources").inner_text()
    # the document's markup is shown as text: no remote image, no script ran, nothing fetched outside
    assert page.locator("#rag-sources script, #rag-chat script").count() == 0
    remote = page.eval_on_selector_all("img", "els => els.map(e => e.src).filter(s => /^https?:/.test(s) "
                                              "&& !s.startsWith(location.origin))")
    assert remote == []
    assert page.evaluate("window.__pwned === undefined")
    assert not [u for u in page.outside_requests if "example.com" in u]

    open_tab(page, "Documents")
    page.locator("#rag-delete-choice input").click()
    page.get_by_role("option", name=NEW_DOC_NAME).click()
    page.click("#rag-delete")
    page.wait_for_function("document.querySelector('#rag-doc-notice').innerText.includes('1 removed')",
                           timeout=ANSWER_TIMEOUT_MS)
    shot(page, "07-document-deleted")
    assert f"deleted {NEW_DOC_NAME}" in page.locator("#rag-doc-notice").inner_text().lower()
    assert NEW_DOC_NAME not in page.locator("#rag-doc-list").inner_text()
    assert documents.locator(".rag-stat-v").inner_text() == "2"
    assert not (settings.seeds_dir / NEW_DOC_NAME).exists()


def test_04_a_bad_upload_is_refused_with_a_clear_message(page, app, tmp_path):
    settings, _ = app
    before = sorted(p.name for p in settings.seeds_dir.iterdir())
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"\x00\x01binary\x00" * 50)
    page.set_input_files("#rag-upload input[type=file]", str(bad))
    page.wait_for_selector("#rag-doc-notice .rag-error", timeout=30_000)
    assert "binary" in page.locator("#rag-doc-notice").inner_text()
    assert sorted(p.name for p in settings.seeds_dir.iterdir()) == before


def test_05_the_conversation_exports_as_markdown_and_new_chat_clears_it(page, app):
    open_tab(page, "Chat")
    with page.expect_download() as download:
        page.click("#rag-export")
    path = download.value.path()
    md = Path(path).read_text(encoding="utf-8")
    (ARTIFACTS / "conversation.md").write_text(md, encoding="utf-8")
    assert "How much will they invest?" in md and "How tall is the Harbour Point lighthouse tower?" in md
    assert "[1]" in md and "\n> " in md and "Sources:" in md

    open_tab(page, "Settings")
    assert "is ready" in page.locator("#rag-model-note").inner_text()
    # the larger model: ready when fetched, otherwise the message says how to fetch it
    from rag import models

    spec = models.known_spec("1.5b")
    fetched = (app[0].models_dir / spec.filename).is_file()
    page.locator("#rag-model input").click()
    page.get_by_role("option", name=re.compile("1.5B")).click()
    expected = "is ready" if fetched else "rag models fetch qwen2.5-coder-1.5b"
    page.wait_for_function(f"document.querySelector('#rag-model-note').innerText.includes({expected!r})",
                           timeout=30_000)
    shot(page, "08-settings")
    page.locator("#rag-model input").click()
    page.get_by_role("option", name=re.compile("0.5B")).click()
    page.wait_for_function("document.querySelector('#rag-model-note').innerText.includes('is ready')",
                           timeout=30_000)

    open_tab(page, "Chat")
    page.click("#rag-new-chat")
    page.wait_for_function("document.querySelectorAll('#rag-chat .rag-answer').length === 0")
    assert "rag-empty" in page.locator("#rag-sources").inner_html()
    shot(page, "09-new-chat")
