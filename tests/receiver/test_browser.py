"""The receiver's web pages in headless Chromium (Debian's package, driven by Playwright): sign
in, list a run's files, draw 1-D and 2-D histograms with the bundled JSROOT, compare two files,
live refresh; and no request ever leaves the machine (spec §4.3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.receiver.conftest import RootFiles
from tests.receiver.test_server import make_token, start

pytestmark = pytest.mark.browser


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_run_page_lists_files_and_draws_histograms(
    browser: object,
    serve: Callable[..., ServerProcess],
    tmp_path: Path,
    database_url: str,
    root_files: RootFiles,
) -> None:
    from playwright.sync_api import Browser, Page, Route, expect

    assert isinstance(browser, Browser)
    data_dir = tmp_path / "data"
    token = make_token(data_dir, database_url)
    server = start(serve, data_dir, database_url)
    http = httpx.Client(base_url=server.url, headers={"token": token}, timeout=30)

    def upload(path: Path, agent: str, timestamp: int) -> str:
        answer = http.post(
            "/rest/api/files",
            files={"file": (path.name, path.read_bytes())},
            headers={
                "runNumber": "55",
                "timeStamp": str(timestamp),
                "amoreAgent": agent,
                "dataStatus": "1",
            },
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["filename"])

    first = upload(root_files.everything, "EMC", 1530000000)
    second = upload(root_files.everything, "EMC", 1530000600)
    invalid = http.post(
        "/rest/api/files",
        files={"file": ("bad.root", b"Hello world")},
        headers={"runNumber": "55", "timeStamp": "1530000300", "amoreAgent": "TPC"},
    )
    assert invalid.status_code == 400

    host = urlparse(server.url).hostname
    outside: list[str] = []
    errors: list[str] = []

    def only_local(route: Route) -> None:
        if urlparse(route.request.url).hostname != host:
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context = browser.new_context()
    page: Page = context.new_page()
    page.route("**/*", only_local)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Signing in: the page itself answers with the form (401), no redirect.
    response = page.goto(f"{server.url}/ui/receiver/runs/55")
    assert response is not None
    assert response.status == 401
    page.fill("#token", token)
    page.click("#sign-in")
    page.click("#continue")
    expect(page.locator("h1")).to_contain_text("Run 55")

    files = page.locator("#files")
    expect(files).to_contain_text(first)
    expect(files).to_contain_text(second)
    expect(files.locator("tr.invalid")).to_contain_text("invalid")

    # A 1-D histogram drawn by JSROOT: an SVG with the histogram's path.
    page.locator(f'tr:has-text("{first}") button[data-path="hEnergy"]').click()
    drawing = page.locator("#pane-a svg").first
    expect(drawing).to_be_visible(timeout=20_000)
    expect(page.locator("#pane-a")).to_have_attribute("data-drawn", re.compile("hEnergy$"))
    assert page.locator("#pane-a svg path").count() > 0
    assert len(page.locator("#pane-a").inner_html()) > 2000

    # A 2-D histogram, then compared with the same object in the other file.
    page.locator(f'tr:has-text("{first}") button[data-path="hEtaPhi"]').click()
    expect(page.locator("#pane-a")).to_have_attribute("data-drawn", re.compile("hEtaPhi$"))
    assert page.locator("#pane-a svg path, #pane-a svg rect, #pane-a svg image").count() > 0
    page.select_option("#compare", label=f"{second} (EMC)")
    expect(page.locator("#pane-b svg").first).to_be_visible(timeout=20_000)
    assert len(page.locator("#pane-b").inner_html()) > 2000
    page.screenshot(path=str(tmp_path / "run-page.png"), full_page=True)

    # A new file for the run appears without reloading (receiver events over SSE).
    third = upload(root_files.test, "HLT", 1530000900)
    expect(files).to_contain_text(third, timeout=10_000)
    expect(page.locator("#live")).to_be_visible()

    # The runs list.
    page.goto(f"{server.url}/ui/receiver")
    expect(page.locator("#runs")).to_contain_text("55")
    expect(page.locator('tr[data-run="55"]')).to_contain_text("live")

    assert outside == [], f"the page tried to reach {outside}"
    assert errors == []
    context.close()
    http.close()


def test_static_assets_are_served_locally(
    serve: Callable[..., ServerProcess], tmp_path: Path, database_url: str
) -> None:
    server = start(serve, tmp_path / "data", database_url)
    with httpx.Client(base_url=server.url) as http:
        bundle = http.get("/ui/receiver/static/jsroot/jsroot.min.js")
        assert bundle.status_code == 200
        assert b"JSROOT" in bundle.content[:2000]
        assert http.get("/ui/receiver/static/jsroot/LICENSE").status_code == 200
        assert http.get("/ui/receiver/static/jsroot/base/zstd.mjs").status_code == 200
        assert http.get("/ui/receiver/static/app/run.js").status_code == 200
        missing = http.get("/ui/receiver/static/app/nope.js")
        assert missing.status_code == 404
        assert missing.json() == {"message": "Not Found", "status": 404}
