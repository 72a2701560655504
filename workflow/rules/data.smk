# Datasets: the embedded demo photographs or benchmark sets from the mirror, HR mod-cropped, LR by MATLAB bicubic.


def training_datasets(variant):
    """Dataset name -> sampling ratio (None: one pool) of a variant's training data: its `train_data` (a name, a
    list = one pool of their images, or {name: ratio}), else data.train."""
    spec = VARIANTS[variant].get("train_data", config["data"]["train"])
    if isinstance(spec, str):
        return {spec: None}
    if isinstance(spec, list):
        return dict.fromkeys(spec)
    return dict(spec)


rule prepare_dataset:
    output:
        directory(f"{DATA}/{{dataset}}"),
    log:
        f"logs/prepare/{{dataset}}.log",
    params:
        cli=SRREPRO,
        scale=SCALE,
        mirror=mirror_option(),
    shell:
        "{params.cli} prepare {wildcards.dataset} {output} --scale {params.scale} {params.mirror} > {log} 2>&1"


rule prepare_data:
    input:
        expand(
            f"{DATA}/{{dataset}}",
            dataset=sorted({config["data"]["train"], *TEST_SETS, *(d for v in VARIANTS for d in training_datasets(v))}),
        ),
