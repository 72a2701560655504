# Training: one job per (variant, seed). Checkpoints live beside the final model and are not declared as outputs,
# so Snakemake never deletes them and an interrupted job resumes from the last one. A variant trains on its
# train_data (one dataset, a pool of several, or a mixture drawn by ratio), else on data.train.

from srrepro.config import training_data_arguments, training_datasets, workflow_asset_files

# assets.local plus the assets without a download source found in the data mirror (SFTGAN's segmentation weights)
TRAIN_ASSETS = " ".join(f"--asset {name}={path}" for name, path in workflow_asset_files(config).items())


rule train:
    input:
        data=lambda w: [f"{DATA}/{name}" for name in training_datasets(config, w.variant)],
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
        data=lambda w: training_data_arguments(config, w.variant, DATA),
        run_dir=lambda w: f"{RESULTS}/train/{w.variant}/seed{w.seed}",
        val=lambda w, input: f"--val {input.val[0]}" if input.val else "",
        init=lambda w, input: f"--init {input.init[0]}" if input.init else "",
        assets=f"--asset-cache {ASSETS} {TRAIN_ASSETS}".strip(),
    shell:
        "{params.cli} train --variant-json {params.variant:q} {params.data} --run-dir {params.run_dir}"
        " --out {output} --seed {wildcards.seed} --threads {threads} {params.val} {params.init} {params.assets}"
        " > {log} 2>&1"
