# SR inference of every model on every test set, then per-image metrics as tidy CSV.


rule upscale:
    input:
        data=f"{DATA}/{{dataset}}",
        model=model_file,
    output:
        directory(f"{RESULTS}/sr/{{model}}/{{dataset}}"),
    log:
        f"logs/upscale/{{model}}/{{dataset}}.log",
    threads: threads_per_job()
    params:
        cli=SRREPRO,
        scale=SCALE,
        model=lambda w, input: input.model[0] if input.model else "bicubic",
        tile=f"--tile {config['evaluation']['tile']}" if config["evaluation"].get("tile") else "",
    shell:
        "{params.cli} upscale {input.data}/LR_x{params.scale} {output} --scale {params.scale} --model {params.model}"
        " --threads {threads} {params.tile} > {log} 2>&1"


rule evaluate:
    input:
        sr=f"{RESULTS}/sr/{{model}}/{{dataset}}",
        data=f"{DATA}/{{dataset}}",
    output:
        f"{RESULTS}/metrics/{{model}}/{{dataset}}.csv",
    log:
        f"logs/evaluate/{{model}}/{{dataset}}.log",
    threads: threads_per_job()
    params:
        cli=SRREPRO,
        scale=SCALE,
        metrics=",".join(config["evaluation"]["metrics"]),
        assets=asset_options(),
    shell:
        "{params.cli} evaluate {input.sr} {input.data}/HR --scale {params.scale} --metrics {params.metrics}"
        " --model {wildcards.model} --dataset {wildcards.dataset} --out {output} --threads {threads}"
        " {params.assets} > {log} 2>&1"
