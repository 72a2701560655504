# srrepro workflow: data -> training -> SR inference -> metrics -> reports.
# Rules are thin shell calls into the `srrepro` command line (src/srrepro/cli.py); all logic lives in the library.
# Run: `snakemake --cores all` (embedded demo) or `snakemake --cores all --configfile config/paper.yaml` (paper scale).

import json
import os
import sys

from srrepro.config import validate_config

# config.yaml (the demo) is the default; a --configfile replaces it entirely (config/paper.yaml is complete on its own),
# so no demo setting leaks into another configuration. --config KEY=VALUE overrides still apply on top.
if not workflow.config_settings.configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


validate_config(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))

PY = sys.executable
SRREPRO = f"{PY} -m srrepro.cli"
DATA = config["paths"]["data"]
RESULTS = config["paths"]["results"]
REPORTS = config["paths"]["reports"]
ASSETS = config["paths"]["assets"]
SCALE = config["scale"]
SEEDS = config["seeds"]
VARIANTS = config["variants"]
TEST_SETS = config["data"]["test"]
TRAINED_MODELS = [f"{v}-s{s}" for v in VARIANTS for s in SEEDS]
MODELS = ["bicubic"] + TRAINED_MODELS
REPORT = config["reports"]
SCALE_NOTE = REPORT["scale_note"]
PAPER_TABLES = ["table1", "table2", "table3", "table4", "table5", "table6", "table7", "wu_table1", "spsagan_table1", "spsagan_ablation"]
FIGURES = ["fig5", "fig9", "fig13", "qualitative"]
RECOGNITION_MODELS = ["hr", "bicubic"] + [
    f"{v}-s{s}" for v in ("srgan", "esrgan", "fasrgan", "fs_srgan", "fa_fs_srgan") if v in VARIANTS for s in SEEDS
]
ANALYSED = [v for v in ("esrgan", "fasrgan", "fs_srgan", "fa_fs_srgan") if v in VARIANTS]
TIMING_SET = REPORT.get("timing_dataset", TEST_SETS[0])

wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    variant=r"[a-z0-9_]+",
    seed=r"\d+",
    model=r"hr|bicubic|[a-z0-9_]+-s\d+",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        f"{REPORTS}/index.html",
