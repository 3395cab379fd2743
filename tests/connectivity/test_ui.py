"""The live registry page in headless Chromium: entries appear, age and expire without a reload."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ServerProcess

pytestmark = pytest.mark.browser


def test_page_follows_publishes_and_expiry(
    serve: Callable[..., ServerProcess], browser: Any, tmp_path: Path, sqlite_url: str
) -> None:
    server = serve(
        [
            "--data-dir",
            str(tmp_path / "d"),
            "--database-url",
            sqlite_url,
            "--listen",
            "127.0.0.1:0",
        ],
        {"ENTRY_TTL": "2", "DAQHUB_CONNECTIVITY__SWEEP_INTERVAL": "0.2"},
    )
    page = browser.new_page()
    page.goto(f"{server.url}/ui/connectivity")
    page.wait_for_selector("#status:has-text('partitions')")
    body = {
        "partition": "run42",
        "connections": [
            {
                "uid": "DRO-000-tp",
                "uri": "tcp://10.0.0.1:1",
                "data_type": "TPSet",
                "connection_type": 0,
            },
            {
                "uid": "<b>odd</b>",
                "uri": "tcp://10.0.0.2:1",
                "data_type": "TPSet",
                "connection_type": 0,
            },
        ],
    }
    requests.post(f"{server.url}/publish", json=body, timeout=5).raise_for_status()
    # The change event makes the page reload its data: no navigation needed.
    page.wait_for_selector(
        "section[data-partition='run42'] tr.live >> text=DRO-000-tp", timeout=10_000
    )
    assert page.locator("text=<b>odd</b>").count() == 1  # shown as text, never as markup
    page.fill("#uid-filter", "DRO.*")
    assert page.locator("section[data-partition='run42'] tr.live").count() == 1
    # After the TTL the entry is shown as expired.
    page.wait_for_selector("section[data-partition='run42'] tr.expired", timeout=10_000)
    page.close()
