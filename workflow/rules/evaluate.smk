# SR inference and per-image metrics on all test sets, writing results/sr/<model>/<dataset>/ and the tidy
# results/metrics/<model>.csv: one job per trained variant for all its seeds (an edited variant retrains every seed,
# and one process loads the metric networks once for them), one per other model (bicubic, the released ones).


rule evaluate_variant:
    input:
        data=expand(f"{DATA}/{{dataset}}", dataset=TEST_SETS),
        models=lambda w: [trained_model_file(m) for m in seed_models(w.variant)],
    output:
        sr=[directory(f"{RESULTS}/sr/{{variant}}-s{s}") for s in SEEDS],
        metrics=[f"{RESULTS}/metrics/{{variant}}-s{s}.csv" for s in SEEDS],
    log:
        f"logs/evaluate/{{variant}}.log",
    benchmark:
        f"logs/benchmarks/evaluate/{{variant}}.tsv",
    wildcard_constraints:
        variant="|".join(VARIANTS),
    threads: threads_per_job()
    params:
        cli=SRREPRO,
        models=lambda w: " ".join(
            f"--model {trained_model_file(m)} --name {m} --sr-root {RESULTS}/sr/{m} --out {RESULTS}/metrics/{m}.csv"
            for m in seed_models(w.variant)),
        options=evaluate_options(),
    shell:
        "{params.cli} evaluate-model {params.models} {params.options} --threads {threads} > {log} 2>&1"


rule evaluate_model:
    input:
        data=expand(f"{DATA}/{{dataset}}", dataset=TEST_SETS),
    output:
        sr=directory(f"{RESULTS}/sr/{{model}}"),
        metrics=f"{RESULTS}/metrics/{{model}}.csv",
    log:
        f"logs/evaluate/{{model}}.log",
    benchmark:
        f"logs/benchmarks/evaluate/{{model}}.tsv",
    wildcard_constraints:
        model=r"bicubic|released_[a-z0-9_]+",
    threads: threads_per_job()
    params:
        cli=SRREPRO,
        model=lambda w: model_spec(w.model),
        options=evaluate_options(),
    shell:
        "{params.cli} evaluate-model --model {params.model} --name {wildcards.model}"
        " --sr-root {output.sr} --out {output.metrics} {params.options} --threads {threads} > {log} 2>&1"


# The authors' released weights through the same inference and metrics (config key released.models).
rule released:
    input:
        [f"{RESULTS}/metrics/{m}.csv" for m in released_models()],
