# Reports: the overview table, every paper table with the published values beside ours, figures, index.html.
# Every table (as a standalone HTML page) and figure is also a captioned output of Snakemake's own report:
# `snakemake --report reports/report.html` after a run.

from srrepro.reporting.table_specs import PAPER_NAMES, TABLES


report: "../report/workflow.rst"


rule overview_table:
    input:
        expand(f"{RESULTS}/metrics/{{model}}.csv", model=evaluated_models()),
    output:
        md=f"{REPORTS}/tables/overview.md",
        csv=f"{REPORTS}/tables/overview.csv",
        html=report(f"{REPORTS}/tables/overview.html", caption="../report/overview.rst", category="Tables",
                    subcategory="This run"),
    log:
        "logs/report/overview.log",
    benchmark:
        "logs/benchmarks/report/overview.tsv",
    params:
        cli=SRREPRO,
        labels=json.dumps(labels()),
        note=SCALE_NOTE,
    shell:
        "{params.cli} overview {input} --title 'All models on every test set' --labels {params.labels:q}"
        " --scale-note {params.note:q} --md {output.md} --csv {output.csv} --html {output.html} > {log} 2>&1"


rule training_effects:
    input:
        expand(f"{RESULTS}/metrics/{{model}}.csv", model=["bicubic"] + trained_models()),
    output:
        md=f"{REPORTS}/tables/training_effects.md",
        csv=f"{REPORTS}/tables/training_effects.csv",
        html=report(f"{REPORTS}/tables/training_effects.html", caption="../report/training_effects.rst",
                    category="Tables", subcategory="This run"),
    log:
        "logs/report/training_effects.log",
    benchmark:
        "logs/benchmarks/report/training_effects.tsv",
    params:
        cli=SRREPRO,
        variants=json.dumps({v: {"procedure": s["procedure"], "init_from": s.get("init_from")} for v, s in VARIANTS.items()}),
        manifests=" ".join(f"--manifest {m}={manifest_file(m)}" for m in trained_models()),
        labels=json.dumps(labels()),
        note=SCALE_NOTE,
    shell:
        "{params.cli} training-effects {input} --variants {params.variants:q} {params.manifests}"
        " --labels {params.labels:q} --scale-note {params.note:q} --md {output.md} --csv {output.csv}"
        " --html {output.html} > {log} 2>&1"


rule recognition:
    input:
        models=recognition_model_files(),
    output:
        f"{RESULTS}/recognition.csv",
    log:
        "logs/recognition.log",
    benchmark:
        "logs/benchmarks/recognition.tsv",
    threads: threads_per_job()
    params:
        cli=SRREPRO,
        scale=SCALE,
        models=" ".join(f"--model {name}={spec}" for name, spec in recognition_specs().items()),
        imagenet=f"--imagenet {config['data']['imagenet']}" if config["data"].get("imagenet") else "",
        limit=config["evaluation"].get("recognition_limit", 1000),
        assets=asset_options(),
    shell:
        "{params.cli} recognition {params.models} {params.imagenet} --limit {params.limit} --scale {params.scale}"
        " --threads {threads} {params.assets} --out {output} > {log} 2>&1"


rule summary:
    input:
        expand(f"{RESULTS}/metrics/{{model}}.csv", model=evaluated_models()),
        f"{RESULTS}/recognition.csv",
    output:
        csv=f"{RESULTS}/summary.csv",
        json=f"{REPORTS}/metrics.json",
    log:
        "logs/report/summary.log",
    benchmark:
        "logs/benchmarks/report/summary.tsv",
    params:
        cli=SRREPRO,
    shell:
        "{params.cli} summarise {input} --out {output.csv} --json {output.json} > {log} 2>&1"


rule paper_table:
    input:
        summary=rules.summary.output.csv,
        metrics=expand(f"{RESULTS}/metrics/{{model}}.csv", model=evaluated_models()),
        recognition=f"{RESULTS}/recognition.csv",
    output:
        md=f"{REPORTS}/tables/{{table}}.md",
        csv=f"{REPORTS}/tables/{{table}}.csv",
        html=report(f"{REPORTS}/tables/{{table}}.html", caption="../report/paper_table.rst",
                    category="Paper tables", subcategory=lambda w: PAPER_NAMES[TABLES[w.table].paper],
                    labels=lambda w: {"table": w.table, "title": TABLES[w.table].title}),
    log:
        "logs/report/{table}.log",
    benchmark:
        "logs/benchmarks/report/{table}.tsv",
    wildcard_constraints:
        table="|".join(paper_tables()),
    params:
        cli=SRREPRO,
        datasets=json.dumps(config["reports"]["datasets"]),
        note=SCALE_NOTE,
        title=lambda w: TABLES[w.table].title,
        interval=config["reports"].get("claim_interval", "anova"),
    shell:
        "{params.cli} paper-table {wildcards.table} {input.metrics} {input.recognition} --summary {input.summary}"
        " --interval {params.interval} --datasets {params.datasets:q}"
        " --scale-note {params.note:q} --md {output.md} --csv {output.csv} --html {output.html} > {log} 2>&1"


rule model_analysis_table:
    input:
        models=[f"{RESULTS}/models/{v}/seed{s}/model.pt" for v in analysed().values() for s in SEEDS],
        sr=[f"{RESULTS}/sr/{v}-s{s}" for v in analysed().values() for s in SEEDS],
    output:
        md=f"{REPORTS}/tables/model_analysis.md",
        csv=f"{REPORTS}/tables/model_analysis.csv",
        html=report(f"{REPORTS}/tables/model_analysis.html", caption="../report/model_analysis.rst",
                    category="Tables", subcategory="This run"),
    log:
        "logs/report/model_analysis.log",
    benchmark:
        "logs/benchmarks/report/model_analysis.tsv",
    params:
        cli=SRREPRO,
        spec=model_analysis_spec(),
        note=SCALE_NOTE,
        timing=TIMING_SET,
    shell:
        "{params.cli} model-analysis --spec {params.spec:q} --timing-dataset {params.timing}"
        " --scale-note {params.note:q} --md {output.md} --csv {output.csv} --html {output.html} > {log} 2>&1"


rule figure:
    input:
        figure_inputs,
    output:
        report(f"{REPORTS}/figures/{{figure}}.png", caption="../report/figure.rst", category="Figures",
               labels={"figure": "{figure}"}),
    log:
        "logs/report/{figure}.log",
    benchmark:
        "logs/benchmarks/report/{figure}.tsv",
    wildcard_constraints:
        figure="|".join(figures()),
    params:
        cli=SRREPRO,
        spec=lambda w: figure_spec(w.figure),
        note=SCALE_NOTE,
        caption=lambda w: FIGURE_CAPTIONS[w.figure],
    shell:
        "{params.cli} figure {wildcards.figure} --spec {params.spec:q} --scale-note {params.note:q}"
        " --png {output} > {log} 2>&1"


INDEX = index_spec()


rule index:
    input:
        INDEX["paper_tables"] + INDEX["tables"] + [png for _, png, _ in INDEX["figures"]],
    output:
        report(f"{REPORTS}/index.html", caption="../report/index.rst", category="Summary page"),
    log:
        "logs/report/index.log",
    benchmark:
        "logs/benchmarks/report/index.tsv",
    params:
        cli=SRREPRO,
        spec=json.dumps(INDEX),
        note=SCALE_NOTE,
    shell:
        "{params.cli} index --spec {params.spec:q} --scale-note {params.note:q} --out {output} > {log} 2>&1"


rule results_page:
    input:
        INDEX["paper_tables"] + INDEX["tables"] + [png for _, png, _ in INDEX["figures"]],
    output:
        f"{REPORTS}/results.md",
    log:
        "logs/report/results_page.log",
    params:
        cli=SRREPRO,
        spec=json.dumps({"paper_tables": INDEX["paper_tables"], "figures": INDEX["figures"], "tables": {
            "Training effects": f"{REPORTS}/tables/training_effects.md",
            "Every model on every test set": f"{REPORTS}/tables/overview.md"}}),
        note=SCALE_NOTE,
    shell:
        "{params.cli} results-page --spec {params.spec:q} --scale-note {params.note:q} --benchmarks logs/benchmarks"
        " --out {output} > {log} 2>&1"


# Named targets, one per artefact of the papers.
for _table in paper_tables():

    rule:
        name:
            _table
        input:
            f"{REPORTS}/tables/{_table}.md",


for _figure in figures():

    rule:
        name:
            _figure
        input:
            f"{REPORTS}/figures/{_figure}.png",


rule model_analysis:
    input:
        rules.model_analysis_table.output,


rule all_tables:
    input:
        [f"{REPORTS}/tables/{t}.md" for t in paper_tables()],
        rules.overview_table.output,
        rules.training_effects.output,
        rules.model_analysis_table.output,


rule all_figures:
    input:
        [f"{REPORTS}/figures/{f}.png" for f in figures()],
