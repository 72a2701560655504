# Reports: tables (Markdown + CSV) from the metric CSVs.


rule report_demo:
    input:
        expand(f"{RESULTS}/metrics/{{model}}/{{dataset}}.csv", model=MODELS, dataset=TEST_SETS),
    output:
        md=f"{REPORTS}/tables/demo.md",
        csv=f"{REPORTS}/tables/demo.csv",
    log:
        "logs/report/demo.log",
    conda:
        "../../environment.yml"
    params:
        cli=SRREPRO,
        labels=json.dumps({f"{v}-s{s}": VARIANTS[v]["label"] for v in VARIANTS for s in SEEDS}),
    shell:
        "{params.cli} report-table {input} --labels {params.labels:q} --md {output.md} --csv {output.csv} > {log} 2>&1"
