"""``reports/index.html``: links every table and figure and states the scale, the data and every substitution."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from srrepro.atomic import write_text


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>" if items else "<p>none</p>"


def write_index(
    path: str | Path,
    *,
    scale_note: str,
    data_notes: list[str],
    substitutions: list[str],
    artefacts: list[tuple[str, str, str]],
    claims: list[tuple[str, str, str, str]],
) -> None:
    """Write the index page.

    ``artefacts``: (title, relative link, kind); ``claims``: (table, claim, paper verdict, our verdict).
    """
    rows = "".join(
        f"<tr><td>{html.escape(t)}</td><td>{html.escape(c)}</td><td>{html.escape(p)}</td><td>{html.escape(o)}</td></tr>"
        for t, c, p, o in claims
    )
    links = "".join(
        f'<li><a href="{html.escape(link)}">{html.escape(title)}</a> <small>({html.escape(kind)})</small></li>'
        for title, link, kind in artefacts
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>srrepro report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}</style></head><body>
<h1>Replication report: FASRGAN / Fs-SRGAN, attention SRGAN, SPSAGAN</h1>
<h2>Scale</h2><p>{html.escape(scale_note)}</p>
<h2>Data</h2>{_list([html.escape(n) for n in data_notes])}
<h2>Substitutions</h2>{_list([html.escape(s) for s in substitutions])}
<h2>Tables and figures</h2><ul>{links}</ul>
<h2>Claims of the papers</h2>
<table><tr><th>table</th><th>claim</th><th>paper's numbers</th><th>ours</th></tr>{rows}</table>
</body></html>
"""
    write_text(path, page)


def claims_from_tables(table_csvs: list[str | Path]) -> list[tuple[str, str, str, str]]:
    """(table, claim, paper verdict, our verdict) of every claim row in the paper tables' CSV files."""
    claims = []
    for path in table_csvs:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for row in frame[frame["metric"] == "claim"].itertuples():
            claims.append((row.table, row.claim, row.paper, row.ours))
    return claims


def build_index(table_csvs: list[str | Path], spec: dict, scale_note: str, out: str | Path) -> int:
    """Write the index page from the paper tables' CSVs and the workflow's ``spec`` (data_notes, substitutions,
    artefacts); returns the number of claims listed."""
    claims = claims_from_tables(table_csvs)
    write_index(out, scale_note=scale_note, data_notes=spec["data_notes"], substitutions=spec["substitutions"],
                artefacts=[tuple(a) for a in spec["artefacts"]], claims=claims)
    return len(claims)
