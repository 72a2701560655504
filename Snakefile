# srrepro workflow: data -> training -> SR inference -> metrics -> reports.
# Rules are thin shell calls into the `srrepro` command line (src/srrepro/cli.py); all logic lives in the library.
# Run: `snakemake --cores all` (embedded demo) or `snakemake --cores all --configfile config/paper.yaml` (paper scale).

import json
import os
import sys

from srrepro.config import validate_config

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

wildcard_constraints:
    dataset=r"[A-Za-z0-9_]+",
    variant=r"[a-z0-9_]+",
    seed=r"\d+",
    model=r"bicubic|[a-z0-9_]+-s\d+",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.report_demo.output,
