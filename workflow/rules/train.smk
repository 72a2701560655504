# Training: one job per (variant, seed). Checkpoints live in the run folder and are not declared as outputs, so
# Snakemake never deletes them and an interrupted job resumes from the last one. Editing a variant changes
# params.variant, and Snakemake's params rerun trigger (on by default) reruns the job and what depends on it; the
# trainer continues the run when only train.iterations grew and otherwise moves the old run aside
# (<run_dir>.superseded-<time>). One trainer at a time owns a run folder (run.lock). A variant trains on its
# train_data (one dataset, a pool of several, or a mixture drawn by ratio), else on data.train. A pruning variant
# (generator.prune) measures its RRSB pruning on the training data of the run it prunes (its init_from's).
# resources.gpu: the GPUs of a job (0 here; the profiles set it). With more than one, the job is data-parallel:
# torchrun starts one training process per GPU, train.batch_size stays the global batch (srrepro.training.distributed).
# threads: torch threads of each process.
# The job's log (logs/train/<variant>-s<seed>.log) is not a `log:` of the rule: Snakemake deletes a rule's log files
# before the job starts, even while another job (a second `snakemake --nolock`) still trains into that run folder.
# The trainer empties and writes its log only once it owns the run folder (`--log-file`); one refused because the
# folder is busy says so on the job's stderr (Snakemake's output) and leaves the owner's log alone. Under torchrun the
# log holds rank 0's output; torchrun's own and the other ranks' go to the job's stderr.

from srrepro.config import pruning_datasets, training_data_arguments, training_datasets


rule train:
    input:
        data=lambda w: [f"{DATA}/{name}" for name in training_datasets(config, w.variant)],
        prune_data=lambda w: [f"{DATA}/{name}" for name in pruning_datasets(config, w.variant)],
        val=validation_data,
        init=init_checkpoint,
    output:
        f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
    benchmark:
        f"logs/benchmarks/train/{{variant}}-s{{seed}}.tsv",
    threads: threads_per_job()
    resources:
        gpu=0,
    params:
        python=PYTHON,
        variant=lambda w: training_spec(w.variant),
        data=lambda w: training_data_arguments(config, w.variant, DATA),
        run_dir=lambda w: f"{RESULTS}/train/{w.variant}/seed{w.seed}",
        val=lambda w, input: f"--val {input.val[0]}" if input.val else "",
        init=lambda w, input: f"--init {input.init[0]}" if input.init else "",
        assets=asset_options(),
    shell:
        f"{LAUNCH_CLI} train --variant-json {{params.variant:q}} {{params.data}} --run-dir {{params.run_dir}}"
        " --out {output} --seed {wildcards.seed} --threads {threads} {params.val} {params.init} {params.assets}"
        " --log-file logs/train/{wildcards.variant}-s{wildcards.seed}.log"


# The authors' released weights as the model file a variant starts from (init_from: released:<name>), fetched and
# verified once (the asset cache), written in our model format.
rule released_init:
    output:
        f"{RESULTS}/released/{{name}}.pt",
    log:
        "logs/released_init/{name}.log",
    benchmark:
        "logs/benchmarks/released_init/{name}.tsv",
    params:
        cli=SRREPRO,
        assets=asset_options(),
    shell:
        "{params.cli} released-init {wildcards.name} --out {output} {params.assets} > {log} 2>&1"
