# SR inference and per-image metrics: one job per model for all test sets (the model and the metric networks are
# loaded once), writing results/sr/<model>/<dataset>/ and the tidy results/metrics/<model>.csv.


rule evaluate_model:
    input:
        data=expand(f"{DATA}/{{dataset}}", dataset=TEST_SETS),
        model=model_file,
    output:
        sr=directory(f"{RESULTS}/sr/{{model}}"),
        metrics=f"{RESULTS}/metrics/{{model}}.csv",
    log:
        f"logs/evaluate/{{model}}.log",
    benchmark:
        f"logs/benchmarks/evaluate/{{model}}.tsv",
    threads: threads_per_job()
    params:
        cli=SRREPRO,
        scale=SCALE,
        model=lambda w: model_spec(w.model),
        datasets=" ".join(f"--dataset {d}={DATA}/{d}" for d in TEST_SETS),
        metrics=",".join(config["evaluation"]["metrics"]),
        tile=f"--tile {config['evaluation']['tile']}" if config["evaluation"].get("tile") else "",
        amp=f"--amp {config['evaluation'].get('amp', 'fp32')}",
        assets=asset_options(),
    shell:
        "{params.cli} evaluate-model --model {params.model} --name {wildcards.model} {params.datasets}"
        " --sr-root {output.sr} --metrics {params.metrics} --out {output.metrics} --scale {params.scale}"
        " --threads {threads} {params.tile} {params.amp} {params.assets} > {log} 2>&1"


# The authors' released weights through the same inference and metrics (config key released.models).
rule released:
    input:
        [f"{RESULTS}/metrics/{m}.csv" for m in released_models()],
