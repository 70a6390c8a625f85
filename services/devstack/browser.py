"""Headless Chromium for the board's browser test, its bench and its screenshot: Debian's
``chromium`` and ``chromium-driver`` (``make .stamp-browser`` installs them), driven by Selenium.
Nothing is downloaded: the driver and the browser are given by path, and Selenium Manager is
told to stay offline.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1440, 960)


class BrowserMissing(RuntimeError):
    """Debian's chromium or chromium-driver is not installed."""


def missing() -> list[str]:
    """The executables that are not there (empty when both are)."""
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


@contextlib.contextmanager
def chromium(window: tuple[int, int] = WINDOW) -> Iterator[webdriver.Chrome]:
    """A headless Chromium session, quit on leaving."""
    absent = missing()
    if absent:
        raise BrowserMissing(
            f"{', '.join(absent)} missing: `make .stamp-browser` installs Debian's chromium "
            "and chromium-driver"
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never fetch a driver or a browser
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--no-first-run", "--disable-extensions", "--disable-background-networking",
        f"--window-size={window[0]},{window[1]}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: webdriver.Chrome, board_url: str, username: str, password: str) -> None:
    """Opens the board at ``board_url`` (redirected to its log-in) and logs in."""
    driver.get(board_url)
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()


def wait_for(
    driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], Any], timeout: float
) -> Any:
    """The first truthy value of ``condition`` within ``timeout`` seconds (TimeoutException
    otherwise), polled every 20 ms."""
    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(condition)


def first_seen(driver: webdriver.Chrome, selector: str) -> tuple[int, str] | None:
    """When the first row matching ``selector`` came on the page (ms since the epoch, the
    browser's clock) and its text; None while there is none, or the page's script has not
    stamped it yet. Read in one script, so a column replaced meanwhile cannot leave a stale
    element."""
    found = driver.execute_script(
        "const row = document.querySelector(arguments[0]);"
        "return row === null || row.dataset.firstSeen === undefined ? null"
        " : [row.dataset.firstSeen, row.textContent];", selector,
    )
    return None if found is None else (int(found[0]), str(found[1]))


def batch_row_selector(site: str, batch_id: str, steps_recorded: int | None = None) -> str:
    """The CSS selector of a batch's row in ``site``'s column (with that many steps)."""
    steps = "" if steps_recorded is None else f'[data-steps-recorded="{steps_recorded}"]'
    return f'[data-column="{site}"] tr[data-batch="{batch_id}"]{steps}'
