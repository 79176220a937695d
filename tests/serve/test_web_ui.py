"""The web UI in headless Chromium: upload a photo, read the verdict, ask why, get an answer
(streamed token by token with the dfa-gpt backend).

Needs Debian's chromium and chromium-driver (scripts/install_browser.sh, run by
scripts/test.sh); skipped where they are not installed. The screenshots are written to
`.cache/ui-screenshot.png` and `.cache/ui-forensics.png` for a person to look at.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[2] / ".cache" / "ui-screenshot.png"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium/chromedriver not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model, face_detector):
    yield from _serve(tmp_path_factory, tiny_model, face_detector, api_key=None)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, tiny_model, face_detector):
    yield from _serve(tmp_path_factory, tiny_model, face_detector, api_key="s3cret-key")


@pytest.fixture(scope="module")
def dfagpt_server(tmp_path_factory, tiny_model, face_detector, dfagpt_chat):
    yield from _serve(tmp_path_factory, tiny_model, face_detector, api_key=None, chat=dfagpt_chat)


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory, tiny_model, face_detector, constant_flow_stream):
    """A server whose analysis runs a tiny forensic stream with a warp-field head that
    predicts a 5 px move everywhere (as `opendfa serve --forensic-stream DIR` loads one)."""
    folder = constant_flow_stream(tmp_path_factory.mktemp("stream") / "m", (3.0, 4.0))
    yield from _serve(
        tmp_path_factory, tiny_model, face_detector, api_key=None, forensic_stream=folder
    )


def _serve(
    tmp_path_factory,
    tiny_model,
    face_detector,
    api_key: str | None,
    chat=None,
    forensic_stream=None,
):
    import uvicorn

    from opendfa.evidence.pipeline import Analyzer
    from opendfa.serve.app import ServerConfig, create_app

    analyzer = Analyzer(tiny_model, face_detector=face_detector, forensic_stream=forensic_stream)
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("cases"), api_key=api_key)
    app = create_app(config, analyzer=analyzer, chat=chat)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    for _ in range(100):
        if instance.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_upload_verdict_and_chat(server, browser, astronaut_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(server)
    assert "OpenDFA" in browser.title
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    verdict = wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    wait.until(lambda _: verdict.text in ("FAKE", "REAL", "INCONCLUSIVE"))
    summary = browser.find_element(By.ID, "summary").text
    assert "P(fake)" in summary and "1 face(s)" in summary
    rows = browser.find_elements(By.CSS_SELECTOR, "#regions tr")
    assert len(rows) == 12
    picture = browser.find_element(By.ID, "picture")
    wait.until(lambda _: (picture.get_attribute("src") or "").startswith("blob:"))
    answer, tokens = _ask(browser, wait, "why?")
    assert answer.startswith(("It is judged", "No face", "I cannot tell")) and "P(fake)" in answer
    assert tokens == 1  # grounded answers come whole
    assert browser.find_element(By.ID, "backend").text == "answered by grounded"
    cases = browser.find_elements(By.CSS_SELECTOR, "#cases li")
    assert len(cases) == 1 and "astronaut" in cases[0].text
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))


def test_dfa_gpt_answer_streams_into_the_chat(dfagpt_server, browser, astronaut_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(dfagpt_server)
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    verdict = wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    wait.until(lambda _: verdict.text in ("FAKE", "REAL", "INCONCLUSIVE"))
    assert browser.find_element(By.ID, "backend").text == "answered by dfa-gpt"
    answer, tokens = _ask(browser, wait, "Is it fake?")
    assert answer and not answer.startswith("error") and tokens > 1
    answer, tokens = _ask(browser, wait, "Why?")  # a follow-up streams as well
    assert answer and not answer.startswith("error") and tokens > 1
    assert len(browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")) == 2


def _ask(browser, wait, question: str) -> tuple[str, int]:
    """Type a question, wait for its bubble to finish; (its text, token events it received)."""
    from selenium.webdriver.common.by import By

    before = len(browser.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
    browser.find_element(By.ID, "question").send_keys(question)
    browser.find_element(By.CSS_SELECTOR, "#ask button").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".msg.assistant")) > before)
    bubble = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]
    wait.until(lambda _: bubble.get_attribute("data-done") == "1")
    return bubble.text, int(bubble.get_attribute("data-tokens"))


def test_full_report_link_opens_with_an_api_key(keyed_server, browser, astronaut_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(keyed_server)
    browser.find_element(By.CSS_SELECTOR, "details summary").click()
    browser.find_element(By.ID, "key").send_keys("s3cret-key")
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    verdict = wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    wait.until(lambda _: verdict.text in ("FAKE", "REAL", "INCONCLUSIVE"))
    link = browser.find_element(By.ID, "htmlreport")
    wait.until(lambda _: link.get_attribute("href"))
    href = link.get_attribute("href")
    assert "s3cret-key" not in href  # signed, never the key itself
    browser.get(href)  # what a click opens in the new tab: no key header goes along
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "OpenDFA report: astronaut.jpg" in body and "Fake probability" in body, body[:300]


def test_delete_asks_first_and_the_page_runs_under_its_content_policy(
    server, browser, astronaut_path
):
    """The page works with `script-src 'self'` (no inline code), and the × of a case deletes
    it only once the confirmation is accepted (a tricked click alone deletes nothing)."""
    import json
    import urllib.request

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    def total() -> int:
        with urllib.request.urlopen(server + "api/cases", timeout=10) as response:
            return json.loads(response.read())["total"]

    wait = WebDriverWait(browser, 120)
    browser.get(server)
    before = total()
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    verdict = wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    wait.until(lambda _: verdict.text in ("FAKE", "REAL", "INCONCLUSIVE"))
    assert total() == before + 1
    browser.find_elements(By.CSS_SELECTOR, "#cases li button")[0].click()
    wait.until(ec.alert_is_present()).dismiss()
    time.sleep(0.5)
    assert total() == before + 1
    browser.find_elements(By.CSS_SELECTOR, "#cases li button")[0].click()
    alert = wait.until(ec.alert_is_present())
    assert "Delete the case" in alert.text
    alert.accept()
    wait.until(lambda _: total() == before)
    logs = browser.get_log("browser") if hasattr(browser, "get_log") else []
    assert not [entry for entry in logs if "Content Security Policy" in entry.get("message", "")]


def _boxes(browser, selector: str) -> list[dict]:
    """getBoundingClientRect() of every element matching `selector`, with its text, whether
    the text overflows it (scrollWidth beyond clientWidth) and how many lines it takes."""
    return browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => {"
        "  const r = e.getBoundingClientRect();"
        "  const line = parseFloat(getComputedStyle(e).lineHeight) || 20;"
        "  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,"
        "          text: e.textContent, clipped: e.scrollWidth > e.clientWidth + 1,"
        "          lines: Math.round(r.height / line)}; })",
        selector,
    )


def test_case_cards_hold_the_verdict_and_the_delete_button(
    server, browser, astronaut_path, tmp_path
):
    """At 1400 px wide a long file name is cut short (…), never the verdict ("fak 0.6") or
    the × that deletes the case."""
    import re

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    long_name = tmp_path / "a_photo_with_a_rather_long_file_name_from_a_phone_gallery.jpg"
    long_name.write_bytes(astronaut_path.read_bytes())
    wait = WebDriverWait(browser, 120)
    assert browser.get_window_size()["width"] == 1400
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(long_name))
    verdict = wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    wait.until(lambda _: verdict.text in ("FAKE", "REAL", "INCONCLUSIVE"))
    wait.until(lambda b: "rather_long" in b.find_element(By.ID, "cases").text)
    cards = _boxes(browser, "#cases li")
    tags = _boxes(browser, "#cases li .tag")
    buttons = _boxes(browser, "#cases li button")
    assert cards and len(cards) == len(tags) == len(buttons)
    for card, tag, button in zip(cards, tags, buttons, strict=True):
        assert re.fullmatch(r"(fake|real|inconclusive) \d\.\d\d|no_face|error", tag["text"]), tag
        assert not tag["clipped"] and tag["lines"] == 1, tag
        for inner in (tag, button):
            assert card["left"] <= inner["left"] and inner["right"] <= card["right"] + 0.5
            assert card["top"] <= inner["top"] and inner["bottom"] <= card["bottom"] + 0.5
        assert tag["right"] <= button["left"]  # side by side, not on top of each other
    names = _boxes(browser, "#cases li .name")
    assert any(n["clipped"] for n in names)  # the long name is the one that gives way


def test_file_forensics_panel_for_an_analysed_jpeg(server, browser, astronaut_path):
    """The case view shows the file checks of the upload (metadata, Content Credentials,
    JPEG quality and re-compression, the maps' numbers), the noise map labelled as computed
    from the stored preview, and why ELA is not offered; a chat answer about ELA points to
    the panel."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    panel = wait.until(ec.visibility_of_element_located((By.ID, "forensics")))
    wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, "#fx-rows tr"))
    text = panel.text
    assert "PROVENANCE AND FILE FORENSICS" in text.upper()
    assert "none in the file" in text  # no EXIF, XMP or IPTC in the sample
    assert "none: provenance unknown, not evidence of manipulation" in text
    assert "quality ≈ 95" in text and "no re-compression pattern found" in text
    assert "ELA of the upload" in text and "% above 0.50" in text
    noise = browser.find_element(By.CSS_SELECTOR, "#fx-maps figure.noise img")
    wait.until(lambda _: (noise.get_attribute("src") or "").startswith("blob:"))
    wait.until(lambda _: noise.get_attribute("naturalWidth") not in (None, "0"))
    maps = browser.find_element(By.ID, "fx-maps").text
    assert "computed from the stored preview" in maps and "not from the uploaded file" in maps
    assert "Error level analysis: not offered" in maps
    assert not browser.find_elements(By.CSS_SELECTOR, "#fx-maps figure.ela img")
    answer, _ = _ask(browser, wait, "show me the ELA")
    assert "not a one-button answer" in answer and "mean" in answer
    logs = browser.get_log("browser") if hasattr(browser, "get_log") else []
    failed = [e for e in logs if e.get("level") == "SEVERE" and "/api/" in e.get("message", "")]
    assert not failed  # no request of the page failed (ELA, not offered, is not asked for)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT.with_name("ui-forensics.png")))


def test_the_pixel_level_check_shows_its_score_map_and_moved_regions(
    stream_server, browser, astronaut_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(stream_server)
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    panel = wait.until(ec.visibility_of_element_located((By.ID, "stream")))
    line = browser.find_element(By.ID, "stream-line").text
    assert line.startswith("P(manipulated) ") and "by m@1" in line
    assert "not combined" in line  # the tiny model carries no fusion
    assert "predicted displacement:" in line and "about 5.0 px" in line
    image = browser.find_element(By.CSS_SELECTOR, "#stream-map img")
    wait.until(lambda _: image.get_attribute("naturalWidth") not in (None, "0"))
    assert "PIXEL-LEVEL CHECK" in panel.text.upper()


def test_no_pixel_level_panel_without_a_stream(server, browser, astronaut_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(server)
    browser.find_element(By.ID, "file").send_keys(str(astronaut_path))
    wait.until(ec.visibility_of_element_located((By.ID, "verdict")))
    wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, "#regions tr"))
    assert not browser.find_element(By.ID, "stream").is_displayed()
