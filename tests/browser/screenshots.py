"""Screenshots of the workspace for the docs: ``python -m tests.browser.screenshots docs/images``.

Starts ``ticketflow api`` over a throwaway SQLite database seeded with the browser tests' queue
(``tests.browser.harness``), signs in with Chromium, and saves the queue, the ticket view, and
the queue after an approval (the reply's countdown and Undo).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlmodel import Session

from shared.config import load_settings
from shared.db import make_engine, upgrade
from tests.browser.harness import CHROMIUM, seed, serve
from tests.factories import PASSWORD, make_user


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shots.db"
        upgrade(load_settings(database_url=url, data_dir=Path(tmp)))
        engine = make_engine(url)
        with Session(engine) as s:
            seed(s)
            make_user(s, "ana")
        engine.dispose()
        with serve(url, Path(tmp)) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(base_url=base, viewport={"width": 1400, "height": 860})
            page.goto("/ui")
            page.fill("input[name=username]", "ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#queue-list li")
            page.wait_for_selector("#st-awaiting >> text=5")
            page.screenshot(path=str(out / "workspace-queue.png"))
            page.keyboard.press("j")
            page.wait_for_selector("#draft")
            page.click("#passages summary")
            page.screenshot(path=str(out / "workspace-ticket.png"), full_page=True)
            page.keyboard.press("a")
            page.wait_for_selector("#recent-list li button.undo")
            page.wait_for_selector("#subject >> text=Where is my parcel?")  # the next one opened
            page.screenshot(path=str(out / "workspace-approved.png"))
            browser.close()
    print(f"saved workspace-queue.png, workspace-ticket.png and workspace-approved.png in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
