"""Accessibility checks with axe-core, vendored under tests/vendor (never served by vident).

axe is evaluated through the DevTools protocol, which the pages' CSP does not govern, so the
page under test keeps its real policy. A violation is reported with the rule, its impact and
the first offending element, enough to find it in a template.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TypedDict, cast

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: The impacts that fail a page: WCAG problems that stop someone from using it.
SERIOUS = frozenset({"serious", "critical"})


class _Node(TypedDict):
    target: list[str]


class _Violation(TypedDict):
    id: str
    impact: str | None
    help: str
    nodes: list[_Node]


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page: Page, impacts: frozenset[str] = SERIOUS) -> list[str]:
    """axe's WCAG 2 A/AA violations of ``page`` as it is now, of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    found = cast(
        list[_Violation],
        page.evaluate(
            """async () => {
                const result = await window.axe.run(document, {
                    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                });
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => ({target: n.target.map(String)})),
                }));
            }"""
        ),
    )
    return [_line(v) for v in found if v["impact"] in impacts]


def _line(violation: _Violation) -> str:
    where = violation["nodes"][0]["target"] if violation["nodes"] else "?"
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {where}"
