# Reports: the overview table, every paper table with the published values beside ours, figures, index.html.


rule overview_table:
    input:
        expand(f"{RESULTS}/metrics/{{model}}.csv", model=evaluated_models()),
    output:
        md=f"{REPORTS}/tables/overview.md",
        csv=f"{REPORTS}/tables/overview.csv",
    log:
        "logs/report/overview.log",
    params:
        cli=SRREPRO,
        labels=json.dumps({v: VARIANTS[v]["label"] for v in VARIANTS}),
        note=SCALE_NOTE,
    shell:
        "{params.cli} overview {input} --title 'All models on every test set' --labels {params.labels:q}"
        " --scale-note {params.note:q} --md {output.md} --csv {output.csv} > {log} 2>&1"


rule recognition:
    input:
        models=recognition_model_files(),
    output:
        f"{RESULTS}/recognition.csv",
    log:
        "logs/recognition.log",
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
    params:
        cli=SRREPRO,
    shell:
        "{params.cli} summarise {input} --out {output.csv} --json {output.json} > {log} 2>&1"


rule paper_table:
    input:
        rules.summary.output.csv,
    output:
        md=f"{REPORTS}/tables/{{table}}.md",
        csv=f"{REPORTS}/tables/{{table}}.csv",
    log:
        "logs/report/{table}.log",
    wildcard_constraints:
        table="|".join(paper_tables()),
    params:
        cli=SRREPRO,
        datasets=json.dumps(config["reports"]["datasets"]),
        note=SCALE_NOTE,
    shell:
        "{params.cli} paper-table {wildcards.table} --summary {input} --datasets {params.datasets:q}"
        " --scale-note {params.note:q} --md {output.md} --csv {output.csv} > {log} 2>&1"


rule model_analysis_table:
    input:
        models=[f"{RESULTS}/models/{v}/seed{s}/model.pt" for v in analysed().values() for s in SEEDS],
        sr=[f"{RESULTS}/sr/{v}-s{s}" for v in analysed().values() for s in SEEDS],
    output:
        md=f"{REPORTS}/tables/model_analysis.md",
        csv=f"{REPORTS}/tables/model_analysis.csv",
    log:
        "logs/report/model_analysis.log",
    params:
        cli=SRREPRO,
        spec=model_analysis_spec(),
        note=SCALE_NOTE,
        timing=TIMING_SET,
    shell:
        "{params.cli} model-analysis --spec {params.spec:q} --timing-dataset {params.timing}"
        " --scale-note {params.note:q} --md {output.md} --csv {output.csv} > {log} 2>&1"


rule figure:
    input:
        figure_inputs,
    output:
        f"{REPORTS}/figures/{{figure}}.png",
    log:
        "logs/report/{figure}.log",
    wildcard_constraints:
        figure="|".join(figures()),
    params:
        cli=SRREPRO,
        spec=lambda w: figure_spec(w.figure),
        note=SCALE_NOTE,
    shell:
        "{params.cli} figure {wildcards.figure} --spec {params.spec:q} --scale-note {params.note:q}"
        " --png {output} > {log} 2>&1"


rule index:
    input:
        tables=expand(f"{REPORTS}/tables/{{table}}.csv", table=paper_tables()),
        others=[f"{REPORTS}/tables/overview.md", f"{REPORTS}/tables/model_analysis.md"]
        + expand(f"{REPORTS}/figures/{{figure}}.png", figure=figures()),
    output:
        f"{REPORTS}/index.html",
    log:
        "logs/report/index.log",
    params:
        cli=SRREPRO,
        spec=index_spec(),
        note=SCALE_NOTE,
    shell:
        "{params.cli} index {input.tables} --spec {params.spec:q} --scale-note {params.note:q} --out {output}"
        " > {log} 2>&1"


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
