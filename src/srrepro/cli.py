"""The ``srrepro`` command line: parses arguments and calls one library function per command.

The workflow's rules call the library through it; users can too. An error the library raises on purpose
(:class:`~srrepro.errors.SrreproError`) is printed as one line naming the file, key or asset, without a traceback
(exit status 1), and so is a full disk; Ctrl-C prints how to continue (exit status 130). Output locations are
checked writable before the work starts. Malformed arguments (a scale outside 2..8, ``--tile 0``, an unknown metric,
an output file that is a folder) are refused by argparse with one line naming the argument (exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from srrepro.errors import Interrupted, SrreproError


# Every command's --scale lies in 2..8. Below 2 nothing is super-resolved (and scale 0 would silently drop the
# evaluation's border shave); 8 is the largest factor of the SR benchmarks (x2, x3, x4, x8) and of our generators'
# upsampling (2, 4, 8); beyond it a 256-px test image leaves an LR image of under 32 px.
MIN_SCALE, MAX_SCALE = 2, 8


def _int_in(low: int, high: int | None = None, why: str = ""):
    """An argparse type: an integer in low..high (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if high is None and value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}{why}")
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}{why}")
        return value

    return parse


_scale = _int_in(MIN_SCALE, MAX_SCALE, " (the benchmarks' SR factors are x2, x3, x4 and x8)")


def _metric_names(text: str) -> list[str]:
    from srrepro.metrics import image_metrics

    names, known = [m.strip() for m in text.split(",") if m.strip()], image_metrics()
    unknown = [m for m in names if m not in known]
    if unknown or not names:
        problem = f"unknown metric '{unknown[0]}'" if unknown else "no metric given"
        raise argparse.ArgumentTypeError(f"{problem}; known metrics: {','.join(known)}")
    return names


def _output_file(text: str) -> str:
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name a file (a path inside it, for instance)")
    return text


def _name_value(form: str):
    """An argparse type for ``form`` arguments such as NAME=PATH (assets, test sets, recognition models)."""

    def parse(text: str) -> tuple[str, str]:
        name, sep, value = text.partition("=")
        if not (name and sep and value):
            raise argparse.ArgumentTypeError(f"'{text}' is not {form}")
        return name, value

    return parse


def _asset_options(args) -> dict:
    local = dict(args.asset or [])
    if args.asset_stand_ins:
        from srrepro.stand_in_weights import stand_in_paths

        local.update(stand_in_paths(args.asset_stand_ins))
    return {"cache_dir": args.asset_cache, "local_paths": local, "mirror": args.asset_mirror}


def _add_table_outputs(parser: argparse.ArgumentParser) -> None:
    """The scale note and the Markdown, CSV and (optional) HTML files every table command writes."""
    parser.add_argument("--scale-note", default="")
    parser.add_argument("--md", type=_output_file, required=True)
    parser.add_argument("--csv", type=_output_file, required=True)
    parser.add_argument("--html", type=_output_file, help="also write the table as a standalone HTML page")


def _add_asset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--asset-cache", help="folder of fetched weights (default: $SRREPRO_ASSET_CACHE, else "
                        ".cache/assets)")
    parser.add_argument("--asset", action="append", type=_name_value("NAME=PATH"), metavar="NAME=PATH",
                        help="use a local file for an asset")
    parser.add_argument("--asset-mirror", help="folder holding asset files (the released weights laid out like the "
                        "authors' pretrianed_models/ folder, or flat); tried after --asset, before downloading")
    parser.add_argument("--asset-stand-ins", metavar="DIR",
                        help="smoke runs: seeded random stand-ins (written to DIR, not the cache) replace the weights "
                             "that can only be downloaded (srrepro.stand_in_weights.STAND_IN_ASSETS)")


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def cmd_prepare(args) -> None:
    from srrepro.data.datasets import prepare_dataset

    names = prepare_dataset(args.dataset, args.out_dir, args.scale, mirror=args.mirror, cache_dir=args.cache,
                            download=args.download, centre_crop_lr=args.centre_crop_lr, max_images=args.max_images)
    print(f"prepared {args.dataset}: {len(names)} images in {args.out_dir}")


def cmd_datasets(args) -> None:
    from srrepro.data.dataset_sources import format_table

    print(format_table())


def cmd_assets(args) -> int:
    from srrepro.data.assets import ASSETS, fetch_assets, write_asset_manifest

    results = fetch_assets(args.names or sorted(ASSETS), **_asset_options(args))
    for name, result in results.items():
        print(f"{name}: {result}" if isinstance(result, Path) else f"{name}: n/a ({result})")
    if args.manifest:
        write_asset_manifest(args.manifest, args.asset_cache)
    missing = [name for name, result in results.items() if not isinstance(result, Path)]
    return 0 if args.allow_missing or not missing else 1


def cmd_released_init(args) -> None:
    from srrepro.models.released import released_init_file

    path = released_init_file(args.name, _asset_options(args), args.out)
    print(f"released model {args.name} written as {path}")


def cmd_degrade(args) -> None:
    from srrepro.data.prepared import degrade_folder

    count = degrade_folder(args.hr_dir, args.out_dir, args.scale)
    print(f"wrote {count} LR images (MATLAB bicubic x1/{args.scale}) to {args.out_dir}")


def cmd_upscale(args) -> None:
    from srrepro.inference import upscale_folder

    _set_threads(args.threads)
    timing = upscale_folder(args.lr_dir, args.out_dir, args.model, scale=args.scale, tile=args.tile,
                            asset_options=_asset_options(args), amp=args.amp, overwrite=args.overwrite)
    print(f"upscaled {timing['images']} images with {args.model} in {timing['seconds']:.1f} s "
          f"({timing['seconds_per_image']:.3f} s/image)")


def cmd_evaluate(args) -> None:
    from srrepro.evaluation.paired_folders import evaluate_to_csv

    _set_threads(args.threads)
    print(evaluate_to_csv(args.sr_dir, args.hr_dir, args.metrics, scale=args.scale, model=args.model,
                          dataset=args.dataset, out=args.out, asset_options=_asset_options(args)))


def cmd_evaluate_model(args) -> None:
    from srrepro.errors import ConfigError
    from srrepro.evaluation.test_sets import ModelRun, evaluate_models

    counts = {option: len(values) for option, values in
              (("--model", args.model), ("--name", args.name), ("--sr-root", args.sr_root), ("--out", args.out))}
    if len(set(counts.values())) > 1:
        raise ConfigError("give --model, --name, --sr-root and --out once per model, in the same "
                          "order; got " + ", ".join(f"{n} {option}" for option, n in counts.items()))
    _set_threads(args.threads)
    runs = [ModelRun(*run) for run in zip(args.model, args.name, args.sr_root, args.out)]
    results = evaluate_models(runs, dict(args.dataset), args.metrics, scale=args.scale, tile=args.tile,
                              asset_options=_asset_options(args), amp=args.amp)
    for run, rows in zip(runs, results):
        print(f"{run.name}: {len(rows)} metric values on {len(args.dataset)} test sets -> {run.out_csv}")


def _training_data(args, option: str = "data"):
    """One --data folder; several: one pool, or a mixture with --data-ratio (e.g. 10:1). ``option`` 'prune_data':
    the same for --prune-data (None when not given)."""
    from srrepro.errors import ConfigError

    folders, ratio, flag = getattr(args, option), getattr(args, f"{option}_ratio"), "--" + option.replace("_", "-")
    if not folders:
        return None
    if ratio is None:
        return folders[0] if len(folders) == 1 else list(folders)
    try:
        ratios = [float(r) for r in ratio.split(":")]
    except ValueError:
        ratios = []
    if len(ratios) != len(folders):
        raise ConfigError(f"{flag}-ratio {ratio!r} must be {len(folders)} numbers separated by ':', "
                          f"one per {flag} folder")
    return dict(zip(folders, ratios))


def _output_to(log: str) -> None:
    """From now on, this process's stdout and stderr (Python's and native libraries') go to ``log``, emptied first."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    os.dup2(fd, sys.stdout.fileno())
    os.dup2(fd, sys.stderr.fileno())
    os.close(fd)


def cmd_train(args) -> None:
    from srrepro.training import run_state, train_variant

    main_rank = os.environ.get("RANK", "0") == "0"  # every rank of a torchrun job runs this; rank 0 owns the folder
    data, prune_data = _training_data(args), _training_data(args, "prune_data")  # refused before the folder is made
    with contextlib.ExitStack() as owner:
        if main_rank:  # the run folder first, then its log: a trainer refused here leaves the owner's log alone
            open_log = (lambda: _output_to(args.log_file)) if args.log_file else None
            owner.enter_context(run_state.claim(Path(args.run_dir), then=open_log))
        final = train_variant(json.loads(args.variant_json), data, args.run_dir, seed=args.seed,
                              threads=args.threads, val_dir=args.val, init_checkpoint=args.init,
                              asset_options=_asset_options(args), publish_to=args.out, prune_data=prune_data)
    if main_rank:
        print(f"final model: {final}")


def cmd_plan(args) -> None:
    from srrepro.planning import plan_configfile

    print(plan_configfile(args.configfile, args.device, args.results))


def cmd_overview(args) -> None:
    from srrepro.reporting.summary import write_overview

    write_overview(args.metric_files, json.loads(args.labels or "{}"), args.title, args.md, args.csv, args.html,
                   args.scale_note)
    print(Path(args.md).read_text())


def cmd_training_effects(args) -> None:
    from srrepro.reporting.training_effects import write_training_effects

    write_training_effects(args.metric_files, json.loads(args.variants), dict(args.run_manifests or []),
                           json.loads(args.labels or "{}"), args.md, args.csv, args.html, args.scale_note)
    print(Path(args.md).read_text())


def cmd_recognition(args) -> None:
    from srrepro.evaluation.recognition import write_recognition

    _set_threads(args.threads)
    print(write_recognition(dict(args.model), args.imagenet, args.out, limit=args.limit, scale=args.scale,
                            asset_options=_asset_options(args)))


def cmd_summarise(args) -> None:
    from srrepro.reporting.summary import write_summary

    summary = write_summary(args.metric_files, args.out, args.json)
    print(f"summary of {len(args.metric_files)} metric files: {len(summary)} rows -> {args.out}")


def cmd_paper_table(args) -> None:
    from srrepro.reporting.claim_intervals import METHODS
    from srrepro.reporting.paper_tables import build_paper_table

    if args.interval not in METHODS:
        raise SrreproError(f"--interval {args.interval}: unknown method; known: {', '.join(METHODS)}")
    claims = build_paper_table(args.table, args.summary, json.loads(args.datasets), args.md, args.csv, args.scale_note,
                               args.html, args.metric_files, args.interval)
    print(Path(args.md).read_text())
    print(f"{len(claims)} claims judged")


def cmd_model_analysis(args) -> None:
    from srrepro.reporting.model_analysis import model_analysis

    model_analysis(json.loads(args.spec), args.timing_dataset, args.md, args.csv, args.scale_note, args.html)
    print(Path(args.md).read_text())


def cmd_figure(args) -> None:
    from srrepro.reporting.figures import build_figure

    build_figure(args.figure, json.loads(args.spec), args.png, args.scale_note)
    print(f"wrote {args.png}")


def cmd_index(args) -> None:
    from srrepro.reporting.site import build_index

    claims = build_index(json.loads(args.spec), args.scale_note, args.out)
    print(f"wrote {args.out} ({claims} claims)")


def cmd_results_page(args) -> None:
    from srrepro.reporting.results_page import git_commit, write_results_page

    spec = json.loads(args.spec)
    decided, computable = write_results_page(
        args.out, title="Results of this run", scale_note=args.scale_note, paper_tables=spec["paper_tables"],
        tables=spec["tables"], figures=[tuple(f) for f in spec["figures"]], benchmarks=args.benchmarks,
        commit=git_commit())
    print(f"wrote {args.out}: {decided} of {computable} computable FASRGAN claims decided")


def build_parser() -> argparse.ArgumentParser:
    from srrepro.reporting.table_specs import FIGURES

    parser = argparse.ArgumentParser(prog="srrepro", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="prepare a dataset: mod-cropped HR and MATLAB-bicubic LR")
    p.add_argument("dataset", help="demo_train, demo_test, Set5, Set14, BSD100, Urban100, ...")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=_scale, default=4)
    p.add_argument("--mirror", help="folder laid out like SelfExSR (<Set>/image_SRF_4/img_NNN_SRF_4_HR.png)")
    p.add_argument("--cache", help="download cache (<cache>/datasets/<name>); consulted after the mirror")
    p.add_argument("--download", action="store_true", help="download (with checksums) what the mirror lacks")
    p.add_argument("--centre-crop-lr", type=int, default=0, metavar="N",
                   help="keep the central crop of at most NxN LR pixels (and the matching HR) of each image (smoke runs)")
    p.add_argument("--max-images", type=int, default=0, metavar="N", help="keep the first N images only (smoke runs)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("datasets", help="list every dataset the papers use: sources, checksums, licences")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("assets", help="fetch and verify external weights ahead of time (default: all declared)")
    p.add_argument("names", nargs="*", help="assets to fetch")
    p.add_argument("--allow-missing", action="store_true", help="exit 0 even when an asset is unavailable")
    p.add_argument("--manifest", type=_output_file, help="write the provenance of all cached assets to this JSON file")
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_assets)

    p = sub.add_parser("released-init", help="the authors' released weights of NAME as one of our model files, "
                       "to start training from (init_from: released:NAME)")
    p.add_argument("name", help="fasrgan, fs_srgan, fa_fs_srgan, esrgan, rrdb_psnr or srresnet")
    p.add_argument("--out", type=_output_file, required=True)
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_released_init)

    p = sub.add_parser("degrade", help="MATLAB-compatible bicubic downscaling of every image in HR_DIR")
    p.add_argument("hr_dir")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=_scale, default=4)
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("upscale", help="super-resolve every image in LR_DIR")
    p.add_argument("lr_dir")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=_scale, default=4)
    p.add_argument("--model", default="bicubic", help="'bicubic', a checkpoint (ours or an official ESRGAN-style file: "
                   "RRDB_ESRGAN_x4.pth, RRDB_PSNR_x4.pth, FASRGAN_G.pth), an official Fs pair EXTRACTOR+TRUNK "
                   "(FsSRGAN_E.pth+FsSRGAN_G.pth; an existing file is a file even with '+' in its path) or released:NAME "
                   "(the authors' released weights, fetched and verified: fasrgan, fs_srgan, fa_fs_srgan, esrgan, "
                   "rrdb_psnr, srresnet)")
    p.add_argument("--tile", type=_int_in(1), help="tile size for large images (default: whole image)")
    p.add_argument("--amp", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: run the generator under bf16 autocast (opt-in; published comparisons use fp32)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--overwrite", action="store_true", help="replace an output folder that holds files (it is "
                   "replaced whole once every image is written; without this flag such a folder is refused)")
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("evaluate", help="compare SR_DIR with HR_DIR (files paired by name)")
    p.add_argument("sr_dir")
    p.add_argument("hr_dir")
    p.add_argument("--scale", type=_scale, default=4)
    p.add_argument("--metrics", type=_metric_names, default="psnr,ssim",
                   help="comma-separated: psnr,ssim,rmse,lpips,niqe,ma,pi")
    p.add_argument("--out", type=_output_file, help="per-image tidy CSV (model, dataset, image, metric, value, note)")
    p.add_argument("--model", default="", help="model name written into the CSV")
    p.add_argument("--dataset", default="", help="dataset name written into the CSV")
    p.add_argument("--threads", type=int, default=1)
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("evaluate-model", help="super-resolve and evaluate models on several prepared test sets (the "
                                              "metric networks loaded once); repeat --model/--name/--sr-root/--out "
                                              "per model")
    p.add_argument("--model", action="append", required=True, help="'bicubic' or a model spec, as for upscale")
    p.add_argument("--name", action="append", required=True, help="model name written into the CSV")
    p.add_argument("--dataset", action="append", required=True, type=_name_value("NAME=DIR"), metavar="NAME=DIR",
                   help="a prepared test set (repeat)")
    p.add_argument("--sr-root", action="append", required=True, help="the model's SR images go to SR_ROOT/<NAME>/")
    p.add_argument("--metrics", type=_metric_names, default="psnr,ssim",
                   help="comma-separated: psnr,ssim,rmse,lpips,niqe,ma,pi")
    p.add_argument("--out", action="append", type=_output_file, required=True,
                   help="the model's per-image tidy CSV of all sets")
    p.add_argument("--scale", type=_scale, default=4)
    p.add_argument("--tile", type=_int_in(1), help="tile size for large images (default: whole image)")
    p.add_argument("--amp", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: run the generator under bf16 autocast (opt-in; published comparisons use fp32)")
    p.add_argument("--threads", type=int, default=1)
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_evaluate_model)

    p = sub.add_parser("train", help="train one variant (resumes from the run folder's last checkpoint)")
    p.add_argument("--variant-json", required=True, help="the variant's configuration as JSON")
    p.add_argument("--data", required=True, action="append",
                   help="prepared training dataset folder (HR/, LR_x4/); repeat for several (one pool of images)")
    p.add_argument("--data-ratio", help="sample the --data folders by this ratio, e.g. 10:1 (the folder is drawn "
                   "first, then an image)")
    p.add_argument("--prune-data", action="append", help="a pruning variant (generator.prune): the training data of "
                   "the run it prunes (--init), on which the RRSB dissimilarities are measured; repeat as --data")
    p.add_argument("--prune-data-ratio", help="the --prune-data folders' ratio, as --data-ratio")
    p.add_argument("--run-dir", required=True, help="folder for checkpoints, logs and the manifest")
    p.add_argument("--out", type=_output_file, required=True, help="where to copy the final model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--val", help="prepared validation dataset folder")
    p.add_argument("--init", help="checkpoint initialising the generator (e.g. the PSNR-oriented model)")
    p.add_argument("--log-file", type=_output_file, help="write stdout and stderr to this file, emptied once the run "
                   "folder is owned (a trainer refused a busy folder says so on stderr and leaves the file alone); not "
                   "--log, which torchrun would take for an abbreviation of its own --log-dir")
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("plan", help="GPU-hours of every training job of a configuration, before launching it")
    p.add_argument("--configfile", required=True, help="workflow configuration, e.g. config/paper.yaml")
    p.add_argument("--device", default="h100-sxm", help="h100-sxm (default), h200 or a100-sxm")
    p.add_argument("--results", default="bench/results",
                   help="bench/bench_gpu.py results whose measured s/it replace the estimates (default %(default)s)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("overview", help="every model on every test set, as a Markdown and CSV table")
    p.add_argument("metric_files", nargs="+")
    p.add_argument("--labels", help="JSON object: variant name -> display label")
    p.add_argument("--title", default="Results")
    _add_table_outputs(p)
    p.set_defaults(func=cmd_overview)

    p = sub.add_parser("training-effects", help="each trained model against bicubic or its start, per seed")
    p.add_argument("metric_files", nargs="+", help="per-image metric CSVs of bicubic and the trained models")
    p.add_argument("--variants", required=True, help="JSON object: variant -> {procedure, init_from}")
    p.add_argument("--manifest", dest="run_manifests", action="append", type=_name_value("MODEL=PATH"),
                   metavar="MODEL=PATH",
                   help="a run's manifest.json (repeat), MODEL as '<variant>-s<seed>'")
    p.add_argument("--labels", help="JSON object: variant name -> display label")
    _add_table_outputs(p)
    p.set_defaults(func=cmd_training_effects)

    p = sub.add_parser("recognition", help="Table III: ResNet-50 top-1/top-5 error on super-resolved ImageNet images")
    p.add_argument("--model", action="append", required=True, type=_name_value("NAME=SPEC"), metavar="NAME=SPEC",
                   help="a model to test (repeat): SPEC is 'hr' (baseline), 'bicubic' or a model spec")
    p.add_argument("--imagenet", help="folder with labels.txt and the validation images")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--scale", type=_scale, default=4)
    p.add_argument("--out", type=_output_file, required=True)
    p.add_argument("--threads", type=int, default=1)
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_recognition)

    p = sub.add_parser("summarise", help="mean ± std over seeds of every (variant, dataset, metric)")
    p.add_argument("metric_files", nargs="+")
    p.add_argument("--out", type=_output_file, required=True)
    p.add_argument("--json", type=_output_file, help="also write the means as nested JSON (for dvc metrics)")
    p.set_defaults(func=cmd_summarise)

    p = sub.add_parser("paper-table", help="a paper table with the published values beside ours")
    p.add_argument("table", help="table1 ... table7, wu_table1, spsagan_table1, spsagan_ablation")
    p.add_argument("--summary", required=True)
    p.add_argument("--datasets", required=True, help="JSON: paper dataset -> our dataset or null")
    p.add_argument("metric_files", nargs="*", help="per-image metric CSVs (and recognition.csv) the claims are judged on")
    p.add_argument("--interval", default="anova",
                   help="how a claim's 95 %% interval is computed: anova (default) or bootstrap "
                        "(see srrepro.reporting.claim_intervals)")
    _add_table_outputs(p)
    p.set_defaults(func=cmd_paper_table)

    p = sub.add_parser("results-page", help="the run's results as one Markdown page (for docs/results/)")
    p.add_argument("--spec", required=True, help="JSON: {paper_tables: [CSV], tables: {heading: MD}, figures: "
                                                 "[[name, PNG, caption]]}")
    p.add_argument("--scale-note", default="")
    p.add_argument("--benchmarks", default="logs/benchmarks", help="the run's Snakemake benchmark files")
    p.add_argument("--out", type=_output_file, required=True)
    p.set_defaults(func=cmd_results_page)

    p = sub.add_parser("model-analysis", help="Sec. IV-E: parameters and inference time")
    p.add_argument("--spec", required=True, help="JSON: {method: {variant, files: [model.pt], sr_dirs: [SR folder]}}")
    p.add_argument("--timing-dataset", required=True)
    _add_table_outputs(p)
    p.set_defaults(func=cmd_model_analysis)

    p = sub.add_parser("figure", help="one of the papers' figures as PNG")
    p.add_argument("figure", choices=FIGURES)
    p.add_argument("--spec", required=True, help="JSON with the figure's inputs")
    p.add_argument("--scale-note", default="")
    p.add_argument("--png", type=_output_file, required=True)
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("index", help="reports/index.html: every table and figure on one page")
    p.add_argument("--spec", required=True,
                   help="JSON: {data_notes, substitutions, paper_tables: [CSV], tables: [HTML], figures: [[name, PNG, caption]]}")
    p.add_argument("--scale-note", default="")
    p.add_argument("--out", type=_output_file, required=True)
    p.set_defaults(func=cmd_index)
    return parser


# Arguments naming what a command writes: files (written beside, then renamed) and folders (filled; an out_dir is
# staged beside itself). Checked writable before the work starts, so that a long job does not end in a
# PermissionError after its last image.
_OUTPUT_FILES = ("out", "md", "csv", "html", "png", "json", "manifest", "log_file")
_OUTPUT_FOLDERS = ("out_dir", "run_dir", "sr_root")


def _check_outputs(args) -> None:
    from srrepro.atomic import check_writable

    for dest in _OUTPUT_FILES + _OUTPUT_FOLDERS:
        value = getattr(args, dest, None)
        for path in map(Path, value if isinstance(value, list) else [value] if value else []):
            check_writable(path)
            if dest == "out_dir":
                check_writable(path.parent)


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors the library raises on purpose, a full disk and Ctrl-C end in one line."""
    from srrepro.atomic import disk_full

    args = build_parser().parse_args(argv)

    def say(text: str) -> None:
        if os.environ.get("RANK", "0") == "0":  # the ranks of a torchrun job stop together; rank 0 says why
            print(f"srrepro {args.command}: {text}", file=sys.stderr)

    try:
        _check_outputs(args)
        return args.func(args) or 0
    except Interrupted as err:
        say(str(err))
        return err.exit_status
    except KeyboardInterrupt:
        say(f"interrupted; run the same command to {'resume' if args.command == 'train' else 'start again'}")
        return Interrupted.exit_status
    except SrreproError as err:
        say(f"error: {err}")
        return 1
    except Exception as err:
        if not disk_full(err):
            raise
        where = f" writing {err.filename}" if getattr(err, "filename", None) else ""
        say(f"error: no space left on the device{where}; free some space and run the same command again")
        return 1


if __name__ == "__main__":
    sys.exit(main())
