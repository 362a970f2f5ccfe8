"""The studio in a real browser: `etb ui` on a loopback port, driven by headless Chromium from a
data file to a shipped app, with a screenshot of each page.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and selenium (dev
extra). Screenshots go to the test's tmp folder, or to $ETB_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

ETB = [sys.executable, "-m", "etbuilder.cli.main"]
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_data(path: Path) -> None:
    import random

    rng = random.Random(7)
    good = ["great", "lovely", "superb", "moving", "funny", "clever"]
    bad = ["awful", "poor", "boring", "dull", "clumsy", "slow"]
    neutral = ["film", "plot", "acting", "story", "ending", "cast", "music", "script"]
    lines = ["review,sentiment"]
    for i in range(120):
        words = good if i % 2 else bad
        picked = [rng.choice(neutral), rng.choice(words), rng.choice(neutral), rng.choice(words)]
        lines.append(f"the {' '.join(picked)}," + ("positive" if i % 2 else "negative"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    from tests.fixtures.models import make_tiny_bert

    workspace = tmp_path / "workspace"
    make_tiny_bert(workspace / "models" / "tiny")
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    log = (tmp_path / "studio.log").open("w")
    process = subprocess.Popen(
        [*ETB, "ui", "--port", str(port), "--workspace", str(workspace)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "etb ui did not start:\n" + (tmp_path / "studio.log").read_text()
                )
            time.sleep(0.5)
        yield url, workspace
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.fail("Chromium is not installed: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1300",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_upload_to_shipped_app_in_a_browser(
    studio: tuple[str, Path], browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    url, workspace = studio
    driver: WebDriver = browser  # type: ignore[assignment]
    shots = Path(os.environ.get("ETB_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "customer reviews.csv"
    _write_data(data)

    def body() -> str:
        return str(driver.find_element(By.TAG_NAME, "body").text)

    def wait_text(text: str, timeout: float = 60) -> None:
        def seen(_: object) -> bool:
            shown = body()
            if "Traceback" in shown:
                raise AssertionError(f"the page shows a traceback:\n{shown}")
            return text in shown

        WebDriverWait(driver, timeout, poll_frequency=0.5).until(seen, f"no {text!r} on the page")

    def idle() -> None:  # Streamlit shows a "Running..." status widget while a script runs
        time.sleep(0.5)
        WebDriverWait(driver, 60, poll_frequency=0.3).until(
            lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        )

    def go(page: str, marker: str) -> None:
        link = WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.XPATH, f"//a[contains(@href, '/{page}')]")
        )[0]
        link.click()
        wait_text(marker)
        idle()

    def shot(name: str) -> None:
        idle()
        driver.save_screenshot(str(shots / f"{name}.png"))

    def button(label: str) -> object:
        return WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.XPATH, f"//button[.//p[text()='{label}']]")
        )[0]

    driver.get(url)
    wait_text("Upload a data file")
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=file]"))[
        0
    ].send_keys(str(data))
    wait_text("Why:")
    assert "120 rows, 2 columns" in body()
    assert body().count("Why: ") == 3  # the task, the text and the label, each with its reason
    shot("1-start")
    button("Create project").click()  # type: ignore[attr-defined]
    wait_text("Project customer-reviews created")
    project = workspace / "customer-reviews"
    assert (project / "data" / "customer-reviews.csv").is_file()

    go("configure", "spec.yaml (edit here or in the form)")
    wait_text("The spec is valid")
    area = WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.TAG_NAME, "textarea"))[0]
    text = (project / "spec.yaml").read_text(encoding="utf-8")
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys(Keys.DELETE)
    tiny = "backbone:\n  model: ../models/tiny\n"
    area.send_keys(text + tiny + "train:\n  epochs: 3\n  batch_size: 8\n  learning_rate: 1.0e-3\n")
    area.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_text("The spec is valid")
    idle()
    assert "model: ../models/tiny" in (project / "spec.yaml").read_text(encoding="utf-8")
    shot("2-configure")

    go("plan", "What the compiler decided, and why")
    assert "Training time" in body() and "Your data" in body()
    shot("3-plan")

    go("train", "Start training")
    button("Start training").click()  # type: ignore[attr-defined]
    wait_text("Finished: the model is trained, tested and packaged.", timeout=600)
    WebDriverWait(driver, 30).until(lambda d: "A run is in progress" not in body())
    shot("4-train")

    go("results", "Test accuracy")
    assert "Confusion matrix" in body()
    shot("5-results")

    go("try_it", "Texts, one per line")
    button("Predict").click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
    )
    shot("6-try-it")

    go("ship", "Download the app")
    assert "docker build" in body() and "python server.py" in body()
    shot("7-ship")

    # The YAML the studio wrote runs with the CLI unchanged (the studio's run used it as is).
    runs = [p for p in (project / "runs").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1 and (runs[0] / "app.tar.gz").is_file()
    check = subprocess.run(
        [sys.executable, "-m", "etbuilder.cli.main", "validate", str(project / "spec.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    names = {"1-start", "2-configure", "3-plan", "4-train", "5-results", "6-try-it", "7-ship"}
    assert {f"{n}.png" for n in names} <= {p.name for p in shots.glob("*.png")}
