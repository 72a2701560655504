"""One report document (a table with its title, notes and claims) rendered as Markdown and as HTML.

Every table of the reports is built once as a :class:`Document` and written as ``.md`` (for reading in a terminal or
on a forge) and as a standalone ``.html`` page (for ``reports/index.html`` and Snakemake's report). Claim verdicts
are coloured in HTML: holds green, fails red, undecided (and the paper's ties) amber, n/a grey.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from srrepro.atomic import write_text

VERDICT_CLASSES = {"holds": "holds", "fails": "fails", "undecided": "noise", "tie": "noise", "n/a": "na", "–": "na"}
STYLE = """body{font-family:sans-serif;max-width:80em;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:2px 6px;font-size:85%;
vertical-align:top}th{background:#f0f0f0}tr.block-start td{border-top:2px solid #555}tr.ours td{font-weight:bold}
tr.released td{background:#f4f8ff}tr.paper td{color:#444}.holds{background:#c9ecd2}.fails{background:#f6c6cb}
.noise{background:#fde8a6}.na{background:#e6e6e6;color:#555}span.verdict{padding:0 3px;border-radius:3px;
white-space:nowrap}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:90%;color:#444}code{background:#f3f3f3;padding:0 2px}"""


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Bullets:
    heading: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table; ``kind`` is its HTML class ('results' or 'claims'); ``row_classes`` one CSS class string per row;
    cells of ``verdict_columns`` are coloured by verdict (a cell may list several as 'Set5: holds; BSD100: fails')."""

    frame: pd.DataFrame
    kind: str = "results"
    row_classes: tuple[str, ...] = ()
    verdict_columns: tuple[str, ...] = ()


@dataclass
class Document:
    """A report: its name, title, the scale note (the first line of the Markdown, so a smoke run's statement is what a
    reader sees first) and its blocks."""

    name: str
    title: str
    blocks: list = field(default_factory=list)
    note: str = ""


class NumberedNotes:
    """n/a reasons numbered in order of first use: a cell reads 'n/a [k]', the notes list '[k] reason'."""

    def __init__(self):
        self.numbers: dict[str, int] = {}

    def cell(self, reason: str) -> str:
        if not reason:
            return "n/a"
        number = self.numbers.setdefault(reason, len(self.numbers) + 1)
        return f"n/a [{number}]"

    def items(self) -> tuple[str, ...]:
        return tuple(f"[{n}] {reason}" for reason, n in self.numbers.items())


def to_markdown(doc: Document) -> str:
    lines = [doc.note, ""] if doc.note else []
    lines.append(f"# {doc.title}")
    for block in doc.blocks:
        lines.append("")
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Heading):
            lines.append(f"## {block.text}")
        elif isinstance(block, Bullets):
            lines += [f"**{block.heading}**", ""] if block.heading else []
            lines += [f"- {item}" for item in block.items]
        else:
            # cells are formatted text, printed as written: "+0.05" keeps its sign, "0.0350" its zero
            lines.append(tabulate(block.frame, headers="keys", tablefmt="github", showindex=False,
                                  disable_numparse=True))
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text)))


def verdict_html(text: str) -> str:
    """A verdict cell with each verdict in a coloured span."""
    parts = []
    for part in str(text).split("; "):
        verdict = part.rsplit(": ", 1)[-1]
        css = VERDICT_CLASSES.get(verdict)
        parts.append(f'<span class="verdict {css}">{html.escape(part)}</span>' if css else html.escape(part))
    return "; ".join(parts)


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.frame.columns)
    rows = []
    for i, values in enumerate(table.frame.itertuples(index=False)):
        css = table.row_classes[i] if i < len(table.row_classes) else ""
        cells = "".join(
            f"<td>{verdict_html(v) if column in table.verdict_columns else _inline(v)}</td>"
            for column, v in zip(table.frame.columns, values)
        )
        rows.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return f'<table class="{table.kind}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def to_html_section(doc: Document) -> str:
    """The document as one ``<section id=NAME>``, for the index page."""
    parts = [f'<section id="{html.escape(doc.name)}"><h2>{html.escape(doc.title)}</h2>']
    if doc.note:
        parts.append(f'<p class="note">{_inline(doc.note)}</p>')
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Heading):
            parts.append(f"<h3>{_inline(block.text)}</h3>")
        elif isinstance(block, Bullets):
            heading = f"<p><strong>{_inline(block.heading)}</strong></p>" if block.heading else ""
            parts.append(heading + "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        else:
            parts.append(html_table(block))
    return "\n".join(parts) + "\n</section>"


def html_page(title: str, body: str) -> str:
    """A standalone HTML page with the reports' style."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def section_of(page: str) -> str:
    """The ``<section>`` of a page written by :func:`write_document`."""
    start, end = page.find("<section"), page.rfind("</section>")
    if start < 0 or end < 0:
        raise ValueError("no <section> in this page: not written by srrepro.reporting.documents.write_document")
    return page[start : end + len("</section>")]


def write_document(doc: Document, md: str | Path, html_path: str | Path | None = None) -> None:
    """Write ``doc`` as Markdown and (when given) as a standalone HTML page, atomically."""
    write_text(md, to_markdown(doc))
    if html_path is not None:
        write_text(html_path, html_page(doc.title, to_html_section(doc)))
