"""Every main page of the workspace passes axe-core's WCAG 2.1 A/AA checks with no serious or
critical violation, signed in as the role that may open it (the demo's data on screen)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.a11y import violations
from tests.workspace import Workspace, browser, workspace

__all__ = ["browser", "workspace"]

#: (who, path) of the pages checked; each must answer 200 to its user.
PAGES = [
    (None, "/login"),
    ("ana", "/"),
]


@pytest.mark.parametrize(("username", "path"), PAGES)
def test_page_has_no_serious_accessibility_violation(
    browser: Browser, workspace: Workspace, username: str | None, path: str
) -> None:
    with workspace.tab(browser, username) as tab:
        response = tab.page.goto(path)
        assert response is not None and response.status == 200, path
        tab.page.wait_for_load_state("networkidle")
        assert violations(tab.page) == []
