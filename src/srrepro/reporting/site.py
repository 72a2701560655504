"""``reports/index.html``: the page a reader opens — every table as an HTML table, every figure inline, the claim
verdicts coloured, and the scale, the data and every substitution stated. One self-contained file (figures are
embedded as data URIs)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from srrepro.atomic import write_text
from srrepro.reporting.documents import Table, html_page, html_table, section_of

VERDICT_COLUMNS = ("paper's numbers", "ours", "released weights")


def claims_from_tables(table_csvs: list[str | Path]) -> pd.DataFrame:
    """Every claim row of the paper tables' CSV files: table, claim, paper's numbers, ours, released weights."""
    frames = []
    for path in table_csvs:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frames.append(frame[frame["metric"] == "claim"])
    claims = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["table", "claim", "paper", "ours", "ours_interval", "seeds to decide", "released"])
    claims = claims[["table", "claim", "paper", "ours", "ours_interval", "seeds to decide", "released"]].fillna("")
    return claims.rename(columns={"paper": "paper's numbers", "released": "released weights",
                                  "ours_interval": "ours: mean difference [95 % CI]"})


def _tally(claims: pd.DataFrame, column: str) -> str:
    """'3 holds, 1 fails, ...' over every verdict of ``column`` (a cell may hold one per paper dataset)."""
    verdicts = [part.rsplit(": ", 1)[-1] for cell in claims[column] for part in str(cell).split("; ")]
    counts = pd.Series(verdicts, dtype=str).value_counts()
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items())


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>" if items else "<p>none</p>"


def _figure(name: str, png: str | Path, caption: str) -> str:
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return (f'<figure id="{html.escape(name)}"><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption><strong>{html.escape(name)}</strong>: {html.escape(caption)}</figcaption></figure>")


def write_index(path: str | Path, *, scale_note: str, data_notes: list[str], substitutions: list[str],
                claims: pd.DataFrame, sections: list[str], figures: list[tuple[str, str | Path, str]]) -> None:
    """Write the page: ``sections`` are the tables' HTML sections, ``figures`` (name, PNG file, caption)."""
    names = [s.split('id="', 1)[1].split('"', 1)[0] for s in sections] + [name for name, _, _ in figures]
    contents = " · ".join(f'<a href="#{html.escape(n)}">{html.escape(n)}</a>' for n in names)
    summary = "".join(
        f"<li>{label}: {html.escape(_tally(claims, column))}</li>"
        for label, column in (("paper's numbers", "paper's numbers"), ("ours", "ours"),
                              ("released weights", "released weights"))
        if not claims.empty
    )
    body = f"""<h1>Replication report: FASRGAN / Fs-SRGAN, attention SRGAN, SPSAGAN</h1>
<p><strong>Scale.</strong> {html.escape(scale_note)}</p>
<p><strong>Contents:</strong> <a href="#claims">claims</a> · {contents}</p>
<h2>Data</h2>{_list(data_notes)}
<h2>Substitutions</h2>{_list(substitutions)}
<section id="claims"><h2>Claims of the papers</h2>
<p>Each claim judged on the paper's own numbers (per paper dataset; tie where they are equal), on ours and on the
authors' released weights:
<span class="verdict holds">holds</span> <span class="verdict fails">fails</span>
<span class="verdict noise">undecided</span> <span class="verdict na">n/a</span> (– : no released weights). Ours and
the released weights' are decided by a 95 % interval of the mean paired difference over seeds and test images (each
table says how it is computed); an undecided claim gives the seeds at which the observed effect would be decided.</p>
<ul>{summary}</ul>
{html_table(Table(claims, "claims", verdict_columns=VERDICT_COLUMNS))}</section>
{"".join(sections)}
<h2>Figures</h2>
{"".join(_figure(name, png, caption) for name, png, caption in figures)}
<p><small>Snakemake's own report of this run (every table and figure with its provenance):
<code>snakemake --report reports/report.html</code>.</small></p>"""
    write_text(path, html_page("srrepro report", body))


def build_index(spec: dict, scale_note: str, out: str | Path) -> int:
    """Write the index page from the workflow's ``spec``: data_notes, substitutions, paper_tables (their CSVs, for
    the claims), tables (their HTML pages) and figures ([name, PNG, caption]); returns the number of claims."""
    claims = claims_from_tables(spec["paper_tables"])
    sections = [section_of(Path(p).read_text(encoding="utf-8")) for p in spec["tables"]]
    write_index(out, scale_note=scale_note, data_notes=spec["data_notes"], substitutions=spec["substitutions"],
                claims=claims, sections=sections, figures=[tuple(f) for f in spec["figures"]])
    return len(claims)
