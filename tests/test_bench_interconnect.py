"""The interconnect benchmark's main path at tiny sizes: its figures must be sane to quote.

A benchmark that counts no matches, or divides by a zero timing, prints figures that look
fine and mean nothing; this runs it end to end and checks what it found against what it
planted.
"""

from __future__ import annotations

import json

import pytest
from bench import interconnect
from rich.console import Console

N, PSI_N = 3_000, 2_000


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    argv = ["--n", str(N), "--psi-n", str(PSI_N), "--repeats", "1", "--json", str(out)]
    assert interconnect.main(argv) == 0
    loaded: dict[str, float] = json.loads(out.read_text())
    return loaded


def test_every_figure_is_written_and_positive(figures: dict[str, float]) -> None:
    assert {key for key, _, _ in interconnect.ROWS} <= set(figures)
    assert {key: value for key, value in figures.items() if not value > 0} == {}


def test_remote_and_local_matching_find_every_planted_hash(figures: dict[str, float]) -> None:
    # n = 3,000 < 5,000: every record is planted (2,500 by SHA-256, 500 by a near PDQ).
    assert figures["planted"] == N
    assert figures["remote_matches"] == figures["local_matches"] == figures["planted"]


def test_private_and_plain_matching_agree_with_the_planted_hashes(
    figures: dict[str, float],
) -> None:
    assert figures["psi_planted"] == PSI_N
    assert figures["psi_matches"] == figures["plain_matches"] == PSI_N
    # Private matching sends blinded points, never fewer bytes than it asks about.
    assert figures["psi_up_bytes"] > 10_000 * 32


def test_push_memory_is_sampled_in_order(figures: dict[str, float]) -> None:
    # ru_maxrss is a peak: it can only stay or grow as the push goes on.
    assert figures["rss_10_mib"] <= figures["rss_50_mib"] <= figures["rss_100_mib"]
    assert figures["n"] == N and figures["psi_n"] == PSI_N


def test_the_printed_table_names_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    shown = {"n": 1_000.0, "repeats": 1.0, "push_rps": 1234.0, "psi_setup_ms_per_item": 0.13}
    Console(width=200).print(interconnect.table(shown))
    printed = capsys.readouterr().out
    assert "1,000 records" in printed and "1,234" in printed
    assert "130.0 minutes" not in interconnect.psi_note(shown)
    assert "about 2.2 minutes for 1,000,000 items" in interconnect.psi_note(shown)


def test_counts_that_disagree_are_named() -> None:
    agreeing = {"planted": 5.0, "remote_matches": 5.0, "local_matches": 5.0}
    agreeing |= {"psi_planted": 2.0, "psi_matches": 2.0, "plain_matches": 2.0}
    assert interconnect.disagreements(agreeing) == []
    assert interconnect.disagreements({**agreeing, "remote_matches": 4.0}) == [
        "remote_matches is 4 but planted is 5"
    ]


def test_bad_sizes_are_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        interconnect.main(["--n", "0"])
    assert "--n, --psi-n and --repeats must be 1 or more" in capsys.readouterr().err
