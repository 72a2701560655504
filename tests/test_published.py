"""Published values: the CSV against the papers' own text.

The paper-text tests re-derive each cell from the plain-text paper (``SRREPRO_PAPERS``, default
``../shared/papers``) with a parser written here, independently of the CSV; they never compare against a
second hard-coded copy of the numbers.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import skip_unless_ci

from srrepro.reporting.published_values import KEY_COLUMNS, load_published, published_value

REPO = Path(__file__).resolve().parents[1]
FASRGAN_TXT = "fasrgan_fs-srgan_tmm2022.txt"
WU_TXT = "attention_srgan_wu.txt"
SPSAGAN_TXT = "spsagan_zhang.txt"
PAPER_FILES = {"fasrgan": FASRGAN_TXT, "wu": WU_TXT, "spsagan": SPSAGAN_TXT}

EXPECTED_TABLES = {
    "fasrgan": {"table1", "table2", "table3", "table4", "table5", "table6", "table7", "model_analysis",
                "table6_text"},
    "wu": {"wu_table1"},
    "spsagan": {"spsagan_table1", "spsagan_ablation"},
}
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


@pytest.fixture(scope="module")
def df():
    return load_published()


@pytest.fixture(scope="module")
def papers_dir() -> Path:
    path = Path(os.environ.get("SRREPRO_PAPERS", REPO.parent / "shared" / "papers")).resolve()
    missing = [name for name in PAPER_FILES.values() if not (path / name).is_file()]
    if missing:
        skip_unless_ci(f"paper texts {missing} not found in {path}; set SRREPRO_PAPERS to the papers folder")
    return path


# ----------------------------------------------------------------------------------------------------------
# Independent parsers of the paper text. Each returns cells in text order as dicts with the printed labels.


def _strip_u(text: str) -> tuple[str, bool]:
    underlined = "<u>" in text
    return re.sub(r"</?u>", "", text).strip(), underlined


def _tsv_block(lines: list[str], heading: str) -> list[list[str]]:
    """Tab-separated lines of the table whose heading line is exactly ``heading``."""
    start = lines.index(heading)
    k = start + 1
    while "\t" not in lines[k]:  # caption
        k += 1
    block = []
    while k < len(lines) and "\t" in lines[k]:
        block.append(lines[k].split("\t"))
        k += 1
    return block


def _cell(dataset, metric, method, raw):
    text, underlined = _strip_u(raw)
    return {"dataset_label": dataset, "metric_label": metric, "method_label": method, "value_text": text,
            "underlined": underlined}


def parse_fasrgan_table(text: str, number: int) -> list[dict]:
    roman = {v: k for k, v in ROMAN.items()}[number]
    rows = _tsv_block(text.splitlines(), f"TABLE {roman}")
    cells = []
    if number in (1, 4, 5, 6):
        # method columns after (dataset, metric); Table IV has a group-header row above the method row
        header_index = 1 if number == 4 else 0
        methods = rows[header_index][2:]
        dataset = None
        for row in rows[header_index + 1:]:
            dataset = row[0] or dataset
            for method, raw in zip(methods, row[2:]):
                cells.append(_cell(dataset, row[1], method, raw))
    elif number in (2, 7):
        # header row 0: "<row title>\t<dataset>", row 1: metrics; one method per data row
        dataset = rows[0][1].strip()
        metrics = rows[1][1:]
        for row in rows[2:]:
            for metric, raw in zip(metrics, row[1:]):
                cells.append(_cell(dataset, metric, row[0], raw))
    elif number == 3:
        metrics = rows[0][1:]
        for row in rows[1:]:
            for metric, raw in zip(metrics, row[1:]):
                cells.append(_cell("", metric, row[0], raw))
    else:
        raise ValueError(number)
    return cells


def parse_wu_table1(text: str) -> list[dict]:
    lines = text.splitlines()
    k = lines.index("Table 1. Relevant data")
    while not lines[k].startswith("MODEL"):
        k += 1
    order = re.search(r"\(([^)]*)\)", lines[k]).group(1).split("/")  # "Dataset (PSNR/SSIM)"
    datasets = lines[k + 1].split("\t")[1:]
    cells = []
    for line in lines[k + 2:]:
        if "\t" not in line:
            break
        fields = line.split("\t")
        for dataset, raw in zip(datasets, fields[1:]):
            for metric, part in zip(order, raw.split("/")):
                cells.append({"dataset_label": dataset, "metric": metric, "method_label": fields[0],
                              "value_text": part.strip(), "underlined": False})
    return cells


_NUMBER = re.compile(r"^(∞|\d+\.\d+)$")


def parse_spsagan_table1(text: str) -> list[dict]:
    """The OCR-garbled Table 1: the k-th tab field of a data line belongs to the k-th method of the OST header."""
    lines = text.splitlines()
    ost = next(i for i, line in enumerate(lines) if line.startswith("\\mathbf{OST}"))
    bsd = next(i for i, line in enumerate(lines) if line.startswith("BSD100)"))
    methods = [re.sub(r"[${}^]|\\mathrm", "", m).strip() for m in lines[ost].split("\t")[1:]]
    cells = []
    for dataset, header in (("BSD100", bsd), ("OST", ost)):
        fields = lines[header + 1].split("\t")
        metrics = fields[0].split()
        assert len(fields) - 1 == len(methods)
        for method, raw in zip(methods, fields[1:]):
            underlined = set(re.findall(r"\\underline\{([^}]*)\}", raw))
            plain = re.sub(r"\\underline\{([^}]*)\}", r"\1", raw)
            plain = re.sub(r"\\begin\{array\}\{c\}|\\end\{array\}|\\\\|\$", " ", plain)
            tokens = [t for t in plain.split() if _NUMBER.match(t)]  # drops stray fragments such as "6"
            if len(tokens) == len(metrics):
                found = dict(zip(metrics, tokens))
            elif len(tokens) == 1 and 0 < float(tokens[0]) < 1:
                found = {"SSIM": tokens[0]}  # a lone 0.xxxx can only be SSIM
            elif not tokens:
                found = {}
            else:
                raise AssertionError(f"unexpected cell {raw!r}")
            for metric in metrics:
                cells.append({"dataset_label": dataset, "metric": metric, "method_label": method,
                              "value_text": found.get(metric, ""),
                              "underlined": found.get(metric) in underlined})
    return cells


def parse_table(papers: Path, table: str) -> tuple[list[dict], tuple[str, ...]]:
    """Parsed cells of ``table`` and the CSV columns that identify a cell by its printed labels."""
    if table.startswith("table") and table[5:].isdigit():
        text = (papers / FASRGAN_TXT).read_text(encoding="utf-8")
        return parse_fasrgan_table(text, int(table[5:])), ("dataset_label", "metric_label", "method_label")
    if table == "wu_table1":
        text = (papers / WU_TXT).read_text(encoding="utf-8")
        return parse_wu_table1(text), ("dataset_label", "metric", "method_label")
    if table == "spsagan_table1":
        text = (papers / SPSAGAN_TXT).read_text(encoding="utf-8")
        return parse_spsagan_table1(text), ("dataset_label", "metric", "method_label")
    raise KeyError(table)


GRID_TABLES = [("fasrgan", f"table{n}") for n in range(1, 8)] + [("wu", "wu_table1"),
                                                                  ("spsagan", "spsagan_table1")]
PROSE_TABLES = [("fasrgan", "model_analysis"), ("fasrgan", "table6_text"), ("spsagan", "spsagan_ablation")]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# ----------------------------------------------------------------------------------------------------------
# A sample of cells spread over every table, addressed by key only; the value comes from the paper text.

SAMPLE = [
    # (paper, table, dataset, metric, method, setting)
    ("fasrgan", "table1", "Set5", "PSNR", "ESRGAN", ""),
    ("fasrgan", "table1", "Set5", "SSIM", "Fs-SRGAN", ""),
    ("fasrgan", "table1", "Urban100", "PI", "EnhanceNet", ""),
    ("fasrgan", "table1", "BSD100", "LPIPS", "FA+Fs-SRGAN", ""),
    ("fasrgan", "table1", "DIV2K val", "PI", "FASRGAN", ""),
    ("fasrgan", "table1", "PIRM val", "PSNR", "FA+Fs-SRGAN", ""),
    ("fasrgan", "table2", "PIRM val", "MOS", "FASRGAN", ""),
    ("fasrgan", "table2", "PIRM val", "LPIPS", "RankSRGAN", ""),
    ("fasrgan", "table3", "ImageNet CLS-LOC val (first 1000)", "top1_error", "Bicubic", ""),
    ("fasrgan", "table3", "ImageNet CLS-LOC val (first 1000)", "top5_error", "Baseline", ""),
    ("fasrgan", "table3", "ImageNet CLS-LOC val (first 1000)", "top5_error", "SRCNN", ""),
    ("fasrgan", "table4", "PIRM test", "PI", "FASRGAN", "with FA"),
    ("fasrgan", "table4", "PIRM test", "LPIPS", "Fs-SRGAN", "w/o Fs"),
    ("fasrgan", "table5", "Urban100", "PSNR", "FASRGAN", "lambda2=0.05"),
    ("fasrgan", "table5", "DIV2K val", "SSIM", "FASRGAN", "lambda2=0.005"),
    ("fasrgan", "table6", "Set5", "PSNR", "SRGAN", ""),
    ("fasrgan", "table6", "Urban100", "LPIPS", "SRGAN_Fs", ""),
    ("fasrgan", "table6", "Set14", "PI", "SRGAN_FA", ""),
    ("fasrgan", "table7", "RealSR V3 test", "PI", "FASRGAN", "FT"),
    ("fasrgan", "table7", "RealSR V3 test", "LPIPS", "FASRGAN", ""),
    ("fasrgan", "table7", "RealSR V3 test", "PSNR", "ZSSR", ""),
    ("fasrgan", "model_analysis", "", "params_M", "Fs-SRGAN", ""),
    ("fasrgan", "model_analysis", "Urban100", "time_s", "FASRGAN", ""),
    ("fasrgan", "model_analysis", "Urban100", "time_s", "ESRGAN", ""),
    ("fasrgan", "table6_text", "", "params_K", "SRGAN_Fs", ""),
    ("wu", "wu_table1", "Set5", "PSNR", "SRGAN", ""),
    ("wu", "wu_table1", "Urban100", "SSIM", "New model", ""),
    ("wu", "wu_table1", "BSD100", "PSNR", "New model", ""),
    ("spsagan", "spsagan_table1", "BSD100", "PI", "SPSAGAN", ""),
    ("spsagan", "spsagan_table1", "BSD100", "PSNR", "SRGAN", ""),
    ("spsagan", "spsagan_table1", "OST", "PSNR", "NatSR", ""),
    ("spsagan", "spsagan_table1", "OST", "SSIM", "SPSAGAN", ""),
    ("spsagan", "spsagan_table1", "BSD100", "SSIM", "HR", ""),
    ("spsagan", "spsagan_ablation", "OST", "time_s", "SPSAGAN", "RRSB (after pruning)"),
]


def _row(df, key):
    mask = True
    for column, value in zip(KEY_COLUMNS, key):
        mask = mask & (df[column] == value)
    hit = df[mask]
    assert len(hit) == 1, f"{key}: {len(hit)} rows"
    return hit.index[0], hit.iloc[0]


def test_sample_spans_every_table():
    covered = {(paper, table) for paper, table, *_ in SAMPLE}
    expected = {(paper, table) for paper, tables in EXPECTED_TABLES.items() for table in tables}
    assert covered == expected
    assert len(SAMPLE) >= 25


@pytest.mark.parametrize("key", SAMPLE, ids=lambda k: "/".join(x for x in k if x))
def test_sample_cell_matches_paper_text(df, papers_dir, key):
    index, row = _row(df, key)
    paper, table = key[0], key[1]
    if (paper, table) in PROSE_TABLES:
        quote = re.search(r'"(.+)"', row["source"]).group(1)
        text = _squash((papers_dir / PAPER_FILES[paper]).read_text(encoding="utf-8"))
        assert quote in text
        assert re.search(rf"(?<![\d.]){re.escape(row['value_text'])}(?![\d])", quote)
        return
    cells, label_columns = parse_table(papers_dir, table)
    labels = tuple(row[c] for c in label_columns)
    # the n-th CSV row with these printed labels is the n-th such cell in the text (Table VI repeats a label)
    same = df[(df.paper == paper) & (df.table == table)]
    same = same[[tuple(r) == labels for r in same[list(label_columns)].itertuples(index=False)]]
    occurrence = list(same.index).index(index)
    printed = [c for c in cells if tuple(c[k] for k in label_columns) == labels]
    assert printed, f"labels {labels} not found in the text of {table}"
    cell = printed[occurrence]
    assert row["value_text"] == cell["value_text"]
    if cell["value_text"]:
        assert row["value"] == pytest.approx(float(cell["value_text"].replace("∞", "inf")))
    assert (row["highlight"] == "second") == cell["underlined"]
    assert published_value(*key[:2], key[4], key[3], dataset=key[2], setting=key[5]) == row["value"]


# ----------------------------------------------------------------------------------------------------------
# Whole tables: every printed cell is in the CSV, and nothing else is.


@pytest.mark.parametrize("paper,table", GRID_TABLES, ids=lambda x: x)
def test_every_cell_of_table_matches_text(df, papers_dir, paper, table):
    cells, label_columns = parse_table(papers_dir, table)
    rows = df[(df.paper == paper) & (df.table == table)]
    from_text = defaultdict(list)
    for cell in cells:
        from_text[tuple(cell[c] for c in label_columns)].append((cell["value_text"], cell["underlined"]))
    from_csv = defaultdict(list)
    for _, row in rows.iterrows():
        from_csv[tuple(row[c] for c in label_columns)].append((row["value_text"], row["highlight"] == "second"))
    assert from_csv == dict(from_text)
    assert len(rows) == len(cells)


@pytest.mark.parametrize("paper,table", PROSE_TABLES, ids=lambda x: x)
def test_prose_values_are_quoted_from_text(df, papers_dir, paper, table):
    text = _squash((papers_dir / PAPER_FILES[paper]).read_text(encoding="utf-8"))
    rows = df[(df.paper == paper) & (df.table == table)]
    assert len(rows)
    for _, row in rows.iterrows():
        quote = re.search(r'"(.+)"', row["source"]).group(1)
        assert quote in text, quote
        assert row["value_text"] in quote
        if row["metric"] == "params_M":
            assert f"{row['value_text']}M parameters" in quote
        if row["metric"] == "params_K":
            assert f"{row['value_text']}K" in quote
        if row["metric"] == "num_rrdb":
            assert f"{row['value_text']} RRDBs" in quote


def test_every_table_in_text_is_transcribed(df, papers_dir):
    present = {(p, t) for p, t in df[["paper", "table"]].drop_duplicates().itertuples(index=False)}
    fas = (papers_dir / FASRGAN_TXT).read_text(encoding="utf-8")
    for roman in re.findall(r"^TABLE ([IVX]+)\s*$", fas, flags=re.M):
        assert ("fasrgan", f"table{ROMAN[roman]}") in present
    wu = (papers_dir / WU_TXT).read_text(encoding="utf-8")
    for number in re.findall(r"^Table (\d+)\.", wu, flags=re.M):
        assert ("wu", f"wu_table{number}") in present
    sps = (papers_dir / SPSAGAN_TXT).read_text(encoding="utf-8")
    for number in re.findall(r"^Table (\d+):", sps, flags=re.M):
        assert ("spsagan", f"spsagan_table{number}") in present


# ----------------------------------------------------------------------------------------------------------
# Structure of the data file (no paper text needed).


def test_tables_present(df):
    for paper, tables in EXPECTED_TABLES.items():
        assert set(df[df.paper == paper].table) == tables
    assert set(df.paper) == set(EXPECTED_TABLES)


def test_keys_unique(df):
    duplicated = df[df.duplicated(list(KEY_COLUMNS), keep=False)]
    assert duplicated.empty, duplicated[list(KEY_COLUMNS)]


def test_value_parses_from_value_text(df):
    for _, row in df.iterrows():
        text = row["value_text"]
        assert re.fullmatch(r"\d+(\.\d+)?|∞|", text), text
        if text == "":
            assert math.isnan(row["value"]) and row["highlight"] == "unknown" and "MISSING" in row["note"]
        elif text == "∞":
            assert row["value"] == math.inf
        else:
            assert row["value"] == float(text)
        assert row["highlight"] in {"second", "none", "unknown"}
        assert row["source"]


def test_published_value_lookup_and_errors():
    assert published_value("fasrgan", "model_analysis", "Fs-SRGAN", "params_M") == 12.46
    with pytest.raises(KeyError, match="close matches: 'FASRGAN'"):
        published_value("fasrgan", "table1", "FASRGN", "PSNR", dataset="Set5")
    with pytest.raises(KeyError, match="give dataset/setting"):
        published_value("fasrgan", "table1", "FASRGAN", "PSNR")
    with pytest.raises(KeyError, match="not legible"):
        published_value("spsagan", "spsagan_table1", "NatSR", "PSNR", dataset="BSD100")
