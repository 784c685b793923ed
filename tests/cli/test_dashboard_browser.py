"""The dashboard as a person uses it: headless Chromium through `ressearch dashboard` on a real study.

Debian's ``chromium`` and ``chromium-driver`` (``make setup`` installs them), driven by Selenium
offline: the driver and the browser are given by path, so Selenium Manager never tries to
download one. What the browser shows is saved as screenshots in the test's folder, and in
``$RESSEARCH_SCREENSHOTS`` when that is set.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from optuna.artifacts import get_all_artifact_meta
from selenium.common.exceptions import WebDriverException
from selenium.webdriver import Chrome, ChromeOptions, ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as shows
from selenium.webdriver.support.ui import WebDriverWait

from ressearch.search import TrialRecord
from ressearch.storage import load_study, open_storage
from tests.cli.helpers import get, serving_dashboard
from tests.helpers import cli, tiny_study

pytestmark = pytest.mark.slow

SCREENSHOTS_ENV = "RESSEARCH_SCREENSHOTS"
EPOCHS = 2
# Seconds a page gets to show something; the waits end as soon as it does (2 busy cores in CI).
PATIENCE = 60


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless Chromium, quit however the test ends."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail(
            "the browser test needs Debian's chromium and chromium-driver; `make setup` installs them"
        )
    options = ChromeOptions()
    options.binary_location = chromium
    # --no-sandbox: CI runs as root; --disable-dev-shm-usage: containers have a small /dev/shm.
    for argument in ("--headless", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1300"):
        options.add_argument(argument)
    driver = Chrome(service=ChromeService(executable_path=chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: WebDriver, tmp_path: Path) -> Callable[[str], None]:
    """Save what the browser shows now as NAME.png."""
    folders = [tmp_path / "screenshots"]
    if os.environ.get(SCREENSHOTS_ENV):
        folders.append(Path(os.environ[SCREENSHOTS_ENV]))

    def save(name: str) -> None:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            assert browser.save_screenshot(str(folder / f"{name}.png")), f"no screenshot {name}"

    return save


def test_a_person_finds_the_trials_their_learning_curves_and_models(
    browser: WebDriver, screenshot: Callable[[str], None], write_study, unique_name: str, tmp_path: Path
):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study_file = write_study(tiny_study(unique_name, study={"pruner": "none"}, train={"epochs": EPOCHS}))
    ran = cli("run", study_file, "--storage", storage)
    assert ran.exit_code == 0, ran.output[-3000:]
    backend = open_storage(storage, heartbeat=False)
    trials = load_study(unique_name, backend).trials
    chosen = trials[-1]  # not the trial the trials page opens with: the person picks it
    record = TrialRecord.from_trial(chosen)
    listed_artifacts = get_all_artifact_meta(chosen, storage=backend)
    assert sorted(meta.filename for meta in listed_artifacts) == [
        "config.json",
        "metrics.json",
        "model.keras",
    ]
    [model] = [meta for meta in listed_artifacts if meta.filename == "model.keras"]
    assert model.artifact_id == record.model_artifact and record.network and record.metrics

    wait = WebDriverWait(browser, PATIENCE)
    with serving_dashboard(storage, tmp_path / "dashboard.log") as base:
        try:
            # The study list shows the study; its card leads to the study's page.
            browser.get(base + "/dashboard")
            card = wait.until(shows.element_to_be_clickable((By.PARTIAL_LINK_TEXT, unique_name)))
            screenshot("1-studies")
            card.click()
            wait.until(shows.url_matches(r"/dashboard/studies/\d+$"))
            study_id = int(browser.current_url.rsplit("/", 1)[1])

            # Its intermediate-values plot draws every trial's learning curve, a point per epoch.
            plot = wait.until(shows.visibility_of_element_located((By.ID, "graph-intermediate-values")))
            curves = wait.until(lambda _: _curves(plot, len(trials)))
            assert curves == {f"trial #{trial.number}": EPOCHS for trial in trials}
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", plot)
            screenshot("2-study-learning-curves")

            # The trials page lists every trial; the person opens one.
            browser.find_element(By.CSS_SELECTOR, "[title='Trials (List)'] a").click()
            wait.until(shows.url_matches(rf"/dashboard/studies/{study_id}/trials"))
            listed = {
                trial.number: wait.until(shows.element_to_be_clickable(_item(f"Trial {trial.number}")))
                for trial in trials
            }
            listed[chosen.number].click()
            heading = _text(f"Trial {chosen.number} (trial_id={chosen._trial_id})")
            wait.until(shows.visibility_of_element_located(heading))

            # Its user attributes show the network in one line and the objective as they are.
            for key, stored in (("metrics", record.metrics), ("model_params", record.model_params)):
                shown = wait.until(shows.visibility_of_element_located(_attribute(key)))
                assert json.loads(shown.text.removeprefix(f"{key} ")) == stored, key
            shown = wait.until(shows.visibility_of_element_located(_attribute("network")))
            assert shown.text.removeprefix("network ").strip('"') == record.network
            # Short attributes: the trial's page fits the window's width (configs are artifacts).
            widths = browser.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            print(f"trial page width {widths[0]} px in a window {widths[1]} px wide")
            assert widths[0] <= widths[1], widths

            # Its Artifacts section lists the trained model by its file name, with a download link.
            artifacts = (By.XPATH, "//h5[normalize-space(.)='Artifacts']/following-sibling::*[1]")
            section = wait.until(shows.visibility_of_element_located(artifacts))
            wait.until(lambda _: section.find_element(*_text(model.filename, within=True)).is_displayed())
            [download] = [
                link
                for link in section.find_elements(By.CSS_SELECTOR, "a[aria-label='download artifact']")
                if link.get_attribute("download") == model.filename
            ]
            assert download.get_attribute("download") == model.filename
            assert download.get_attribute("href") == (
                f"{base}/artifacts/{study_id}/{chosen._trial_id}/{model.artifact_id}"
            )
            served = get(download.get_attribute("href"))  # the model file itself
            assert served is not None and served[:2] == b"PK"  # a .keras file is a zip archive
            browser.execute_script("window.scrollTo(0, 0)")  # the study page's scroll carries over
            screenshot("3-trial")
        except BaseException:
            with suppress(WebDriverException):  # a browser that died keeps the first error in view
                screenshot("failure")
            raise


def _curves(plot: WebElement, expected: int) -> dict[str, int] | None:
    """The plot's legend entries and their numbers of points, once it has ``expected`` curves."""
    names = [item.text.strip() for item in plot.find_elements(By.CSS_SELECTOR, ".legend .legendtext")]
    traces = plot.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace")
    if len(names) != expected or len(traces) != expected:
        return None
    return {
        name: len(trace.find_elements(By.CSS_SELECTOR, ".points .point"))
        for name, trace in zip(names, traces, strict=True)
    }


def _text(text: str, *, within: bool = False) -> tuple[str, str]:
    """An element whose whole visible text is ``text`` (``within``: below the current element)."""
    return By.XPATH, f"{'.' if within else ''}//*[normalize-space(.)={json.dumps(text)}]"


def _item(text: str) -> tuple[str, str]:
    """A list item a person clicks, by its visible text."""
    return By.XPATH, f"//*[@role='button'][.//*[normalize-space(.)={json.dumps(text)}]]"


def _attribute(key: str) -> tuple[str, str]:
    """A user attribute's line in a trial's detail: the key, a space, the value."""
    return By.XPATH, f"//p[starts-with(normalize-space(.), {json.dumps(key + ' ')})]"
