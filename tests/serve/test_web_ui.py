"""The web UI in headless Chromium: upload a photo, read the verdict, ask why, get an answer
(streamed token by token with the dfa-gpt backend).

Needs Debian's chromium and chromium-driver (scripts/install_browser.sh, run by
scripts/test.sh); skipped where they are not installed. The screenshot is written to
`.cache/ui-screenshot.png` for a person to look at.
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
def server(tmp_path_factory, detector):
    yield from _serve(tmp_path_factory, detector, api_key=None)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, detector):
    yield from _serve(tmp_path_factory, detector, api_key="s3cret-key")


@pytest.fixture(scope="module")
def dfagpt_server(tmp_path_factory, detector, dfagpt_chat):
    yield from _serve(tmp_path_factory, detector, api_key=None, chat=dfagpt_chat)


def _serve(tmp_path_factory, detector, api_key: str | None, chat=None):
    import torch
    import uvicorn

    from opendfa.evidence.pipeline import Analyzer
    from opendfa.models.detector import DetectorConfig, MultiTaskDetector, save_detector
    from opendfa.serve.app import ServerConfig, create_app

    torch.manual_seed(0)
    model = MultiTaskDetector(DetectorConfig(input_size=64, mask_size=8), pretrained=False)
    folder = save_detector(model, tmp_path_factory.mktemp("m") / "tiny")
    analyzer = Analyzer(str(folder), face_detector=detector)
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
    wait.until(lambda _: verdict.text in ("FAKE", "REAL"))
    summary = browser.find_element(By.ID, "summary").text
    assert "P(fake)" in summary and "1 face(s)" in summary
    rows = browser.find_elements(By.CSS_SELECTOR, "#regions tr")
    assert len(rows) == 12
    picture = browser.find_element(By.ID, "picture")
    wait.until(lambda _: (picture.get_attribute("src") or "").startswith("blob:"))
    answer, tokens = _ask(browser, wait, "why?")
    assert answer.startswith(("It is judged", "No face")) and "P(fake)" in answer
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
    wait.until(lambda _: verdict.text in ("FAKE", "REAL"))
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
    wait.until(lambda _: verdict.text in ("FAKE", "REAL"))
    link = browser.find_element(By.ID, "htmlreport")
    wait.until(lambda _: link.get_attribute("href"))
    href = link.get_attribute("href")
    assert "s3cret-key" not in href  # signed, never the key itself
    browser.get(href)  # what a click opens in the new tab: no key header goes along
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "OpenDFA report: astronaut.jpg" in body and "Fake probability" in body, body[:300]
