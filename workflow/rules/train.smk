# Training: one job per (variant, seed). Checkpoints live beside the final model and are not declared as outputs,
# so Snakemake never deletes them and an interrupted job resumes from the last one.

from srrepro.config import workflow_asset_files


def training_data(wildcards):
    return [f"{DATA}/{name}" for name in training_datasets(wildcards.variant)]


def training_data_option(variant):
    """--data per dataset, and --data-ratio for a mixture (e.g. SPSAGAN's OST_train:DIV2K_train = 10:1)."""
    datasets = training_datasets(variant)
    option = " ".join(f"--data {DATA}/{name}" for name in datasets)
    ratios = list(datasets.values())
    return option + (f" --data-ratio {':'.join(f'{r:g}' for r in ratios)}" if ratios[0] is not None else "")


# assets.local plus the assets without a download source found in the data mirror (SFTGAN's segmentation weights)
TRAIN_ASSETS = " ".join(f"--asset {name}={path}" for name, path in workflow_asset_files(config).items())


rule train:
    input:
        data=training_data,
        val=validation_data,
        init=init_checkpoint,
    output:
        f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
    log:
        f"logs/train/{{variant}}-s{{seed}}.log",
    threads: threads_per_job()
    resources:
        gpu=0,
    params:
        cli=SRREPRO,
        variant=lambda w: training_spec(w.variant),
        data=lambda w: training_data_option(w.variant),
        run_dir=lambda w: f"{RESULTS}/train/{w.variant}/seed{w.seed}",
        val=lambda w, input: f"--val {input.val[0]}" if input.val else "",
        init=lambda w, input: f"--init {input.init[0]}" if input.init else "",
        assets=f"--asset-cache {ASSETS} {TRAIN_ASSETS}".strip(),
    shell:
        "{params.cli} train --variant-json {params.variant:q} {params.data} --run-dir {params.run_dir}"
        " --out {output} --seed {wildcards.seed} --threads {threads} {params.val} {params.init} {params.assets}"
        " > {log} 2>&1"
