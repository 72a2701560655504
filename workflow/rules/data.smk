# Datasets: the embedded demo photographs or benchmark sets from the mirror, HR mod-cropped, LR by MATLAB bicubic.

from srrepro.config import workflow_datasets


rule prepare_dataset:
    output:
        directory(f"{DATA}/{{dataset}}"),
    log:
        f"logs/prepare/{{dataset}}.log",
    benchmark:
        f"logs/benchmarks/prepare/{{dataset}}.tsv",
    params:
        cli=SRREPRO,
        scale=SCALE,
        mirror=mirror_option(),
        smoke=lambda w: prepare_options(w.dataset),
    shell:
        "{params.cli} prepare {wildcards.dataset} {output} --scale {params.scale} {params.mirror} {params.smoke}"
        " > {log} 2>&1"


rule prepare_data:
    input:
        expand(f"{DATA}/{{dataset}}", dataset=workflow_datasets(config)),
