"""The ``srrepro`` command line: the workflow's rules and users call the library through it."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from srrepro.atomic import write_text
from srrepro.errors import SrreproError


def _asset_options(args) -> dict:
    local = dict(item.split("=", 1) for item in (args.asset or []))
    return {"cache_dir": args.asset_cache, "local_paths": local}


def _add_asset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--asset-cache", default=".cache/assets", help="folder of fetched weights (default %(default)s)")
    parser.add_argument("--asset", action="append", metavar="NAME=PATH", help="use a local file for an asset")


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def cmd_prepare(args) -> None:
    from srrepro.datasets import prepare_dataset

    names = prepare_dataset(args.dataset, args.out_dir, args.scale, mirror=args.mirror, cache_dir=args.cache,
                            download=args.download)
    print(f"prepared {args.dataset}: {len(names)} images in {args.out_dir}")


def cmd_datasets(args) -> None:
    from srrepro.dataset_sources import format_table

    print(format_table())


def cmd_degrade(args) -> None:
    from srrepro.bicubic import imresize, mod_crop
    from srrepro.images import list_images, read_image, write_image

    paths = list_images(args.hr_dir)
    for path in paths:
        hr = mod_crop(read_image(path), args.scale)
        write_image(Path(args.out_dir) / f"{path.stem}.png", imresize(hr, 1 / args.scale))
    print(f"wrote {len(paths)} LR images (MATLAB bicubic x1/{args.scale}) to {args.out_dir}")


def cmd_upscale(args) -> None:
    from srrepro.upscalers import load_upscaler
    from srrepro.images import list_images, read_image, write_image

    _set_threads(args.threads)
    upscaler = load_upscaler(args.model, scale=args.scale, tile=args.tile)
    paths = list_images(args.lr_dir)
    out_dir = Path(args.out_dir)
    start = time.perf_counter()
    for index, path in enumerate(paths, 1):
        write_image(out_dir / f"{path.stem}.png", upscaler(read_image(path)))
        print(f"[{index}/{len(paths)}] {path.name}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    per_image = elapsed / max(1, len(paths))
    timing = {"images": len(paths), "seconds": elapsed, "seconds_per_image": per_image, "threads": args.threads}
    write_text(out_dir / "timing.json", json.dumps(timing, indent=1))
    print(f"upscaled {len(paths)} images with {args.model} in {elapsed:.1f} s ({per_image:.3f} s/image)")


def cmd_evaluate(args) -> None:
    from tabulate import tabulate

    from srrepro.atomic import atomic_path
    from srrepro.evaluation import dataset_means, evaluate_folder

    _set_threads(args.threads)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    options = {name: _asset_options(args) for name in ("lpips", "niqe", "ma", "pi")}
    rows = evaluate_folder(
        args.sr_dir, args.hr_dir, metrics, scale=args.scale, model=args.model, dataset=args.dataset, metric_options=options
    )
    if args.out:
        with atomic_path(args.out) as tmp:
            rows.to_csv(tmp, index=False)
    means = dataset_means(rows)
    table = means.pivot(index=["model", "dataset"], columns="metric", values="value")[metrics]
    print(tabulate(table.reset_index(), headers="keys", tablefmt="github", showindex=False, floatfmt=".4f"))
    notes = {n for n in means["note"] if isinstance(n, str) and n}
    for note in sorted(notes):
        print(f"n/a: {note}")


def cmd_train(args) -> None:
    from srrepro.training import train_variant

    variant = json.loads(args.variant_json)
    final = train_variant(
        variant,
        args.data,
        args.run_dir,
        seed=args.seed,
        threads=args.threads,
        val_dir=args.val,
        init_checkpoint=args.init,
        asset_options=_asset_options(args),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.copyfile(final, tmp)
    tmp.replace(out)
    print(f"final model: {out}")


def cmd_report_table(args) -> None:
    from srrepro.reports import model_labels, read_metric_files, summarise, wide_table, write_table

    rows = read_metric_files(args.metric_files)
    labels = model_labels(list(rows["model"].unique()), json.loads(args.labels or "{}"))
    table = wide_table(summarise(rows), labels)
    notes = ["Cells: mean over the images of a dataset; mean ± std over seeds where several seeds were trained."]
    write_table(table, args.md, args.csv, args.title, notes)
    print(Path(args.md).read_text())


def cmd_recognition(args) -> None:
    import pandas as pd

    from srrepro.atomic import atomic_path
    from srrepro.errors import AssetUnavailable
    from srrepro.recognition import load_classifier, recognition_errors
    from srrepro.report_builder import RECOGNITION_DATASET

    _set_threads(args.threads)
    values, note = {"top1_error": float("nan"), "top5_error": float("nan")}, ""
    if not args.imagenet:
        note = "ImageNet validation images not configured (data.imagenet)"
    else:
        try:
            classifier = load_classifier(**_asset_options(args))
            upscaler = None
            if args.model != "hr":
                from srrepro.upscalers import load_upscaler

                upscaler = load_upscaler(args.model, scale=args.scale, tile=None)
            result = recognition_errors(args.imagenet, classifier, upscaler, limit=args.limit, scale=args.scale)
            values = {k: result[k] for k in values}
        except AssetUnavailable as err:
            note = err.reason
    rows = [{"model": args.name, "dataset": RECOGNITION_DATASET, "image": "all", "metric": k, "value": v, "note": note}
            for k, v in values.items()]
    with atomic_path(args.out) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    print(pd.DataFrame(rows).to_string(index=False))


def cmd_summarise(args) -> None:
    from srrepro.report_builder import write_summary

    summary = write_summary(args.metric_files, args.out, args.json)
    print(f"summary of {len(args.metric_files)} metric files: {len(summary)} rows -> {args.out}")


def cmd_paper_table(args) -> None:
    from srrepro.report_builder import build_paper_table

    claims = build_paper_table(args.table, args.summary, json.loads(args.datasets), args.md, args.csv, args.scale_note)
    print(Path(args.md).read_text())
    print(f"{len(claims)} claims judged")


def cmd_model_analysis(args) -> None:
    from srrepro.report_builder import model_analysis

    model_analysis(json.loads(args.spec), args.timing_dataset, args.md, args.csv, args.scale_note)
    print(Path(args.md).read_text())


def cmd_figure(args) -> None:
    from srrepro import report_builder as rb

    builders = {
        "fig5": lambda spec: rb.figure_tradeoff(spec["summary"], spec["dataset"], spec["labels"], args.png, args.scale_note),
        "fig9": lambda spec: rb.figure_curves(spec["val_logs"], args.png, args.scale_note),
        "fig13": lambda spec: rb.figure_split(spec["summary"], spec["dataset"], spec["splits"], args.png, args.scale_note),
        "qualitative": lambda spec: rb.figure_crops(spec["hr_dir"], spec["sr_dirs"], spec["crop"], args.png, args.scale_note),
    }
    builders[args.figure](json.loads(args.spec))
    print(f"wrote {args.png}")


def cmd_index(args) -> None:
    import pandas as pd

    from srrepro.report_site import write_index

    spec = json.loads(args.spec)
    claims = []
    for path in args.table_csvs:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for row in frame[frame["metric"] == "claim"].itertuples():
            claims.append((row.table, row.claim, row.paper, row.ours))
    write_index(args.out, scale_note=args.scale_note, data_notes=spec["data_notes"],
                substitutions=spec["substitutions"], artefacts=[tuple(a) for a in spec["artefacts"]], claims=claims)
    print(f"wrote {args.out} ({len(claims)} claims)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srrepro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="prepare a dataset: mod-cropped HR and MATLAB-bicubic LR")
    p.add_argument("dataset", help="demo_train, demo_test, Set5, Set14, BSD100, Urban100, ...")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--mirror", help="folder laid out like SelfExSR (<Set>/image_SRF_4/img_NNN_SRF_4_HR.png)")
    p.add_argument("--cache", help="download cache (<cache>/datasets/<name>); consulted after the mirror")
    p.add_argument("--download", action="store_true", help="download (with checksums) what the mirror lacks")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("datasets", help="list every dataset the papers use: sources, checksums, licences")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("degrade", help="MATLAB-compatible bicubic downscaling of every image in HR_DIR")
    p.add_argument("hr_dir")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=int, default=4)
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("upscale", help="super-resolve every image in LR_DIR")
    p.add_argument("lr_dir")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--model", default="bicubic", help="'bicubic', a checkpoint (ours or an official ESRGAN-style file: RRDB_ESRGAN_x4.pth, "
        "RRDB_PSNR_x4.pth, FASRGAN_G.pth) or an official Fs pair FsSRGAN_E.pth+FsSRGAN_G.pth")
    p.add_argument("--tile", type=int, help="tile size for large images (default: whole image)")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("evaluate", help="compare SR_DIR with HR_DIR (files paired by name)")
    p.add_argument("sr_dir")
    p.add_argument("hr_dir")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--metrics", default="psnr,ssim", help="comma-separated: psnr,ssim,rmse,lpips,niqe,ma,pi")
    p.add_argument("--out", help="per-image tidy CSV (model, dataset, image, metric, value, note)")
    p.add_argument("--model", default="", help="model name written into the CSV")
    p.add_argument("--dataset", default="", help="dataset name written into the CSV")
    p.add_argument("--threads", type=int, default=1)
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="train one variant (resumes from the run folder's last checkpoint)")
    p.add_argument("--variant-json", required=True, help="the variant's configuration as JSON")
    p.add_argument("--data", required=True, help="prepared training dataset folder (HR/, LR_x4/)")
    p.add_argument("--run-dir", required=True, help="folder for checkpoints, logs and the manifest")
    p.add_argument("--out", required=True, help="where to copy the final model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--val", help="prepared validation dataset folder")
    p.add_argument("--init", help="checkpoint initialising the generator (e.g. the PSNR-oriented model)")
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("report-table", help="render metric CSVs as a Markdown and CSV table")
    p.add_argument("metric_files", nargs="+")
    p.add_argument("--labels", help="JSON object: variant name -> display label")
    p.add_argument("--title", default="Results")
    p.add_argument("--md", required=True)
    p.add_argument("--csv", required=True)
    p.set_defaults(func=cmd_report_table)

    p = sub.add_parser("recognition", help="Table III: ResNet-50 top-1/top-5 error on super-resolved ImageNet images")
    p.add_argument("--model", required=True, help="'hr' (baseline), 'bicubic' or a checkpoint")
    p.add_argument("--name", required=True, help="model name written into the CSV")
    p.add_argument("--imagenet", help="folder with labels.txt and the validation images")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    _add_asset_arguments(p)
    p.set_defaults(func=cmd_recognition)

    p = sub.add_parser("summarise", help="mean ± std over seeds of every (variant, dataset, metric)")
    p.add_argument("metric_files", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--json", help="also write the means as nested JSON (for dvc metrics)")
    p.set_defaults(func=cmd_summarise)

    p = sub.add_parser("paper-table", help="a paper table with the published values beside ours")
    p.add_argument("table", help="table1 ... table7, wu_table1, spsagan_table1")
    p.add_argument("--summary", required=True)
    p.add_argument("--datasets", required=True, help="JSON: paper dataset -> our dataset or null")
    p.add_argument("--scale-note", default="")
    p.add_argument("--md", required=True)
    p.add_argument("--csv", required=True)
    p.set_defaults(func=cmd_paper_table)

    p = sub.add_parser("model-analysis", help="Sec. IV-E: parameters and inference time")
    p.add_argument("--spec", required=True, help="JSON: {method: {variant, files: [model.pt], sr_dirs: [SR folder]}}")
    p.add_argument("--timing-dataset", required=True)
    p.add_argument("--scale-note", default="")
    p.add_argument("--md", required=True)
    p.add_argument("--csv", required=True)
    p.set_defaults(func=cmd_model_analysis)

    p = sub.add_parser("figure", help="fig5, fig9, fig13 or qualitative as PNG")
    p.add_argument("figure", choices=["fig5", "fig9", "fig13", "qualitative"])
    p.add_argument("--spec", required=True, help="JSON with the figure's inputs")
    p.add_argument("--scale-note", default="")
    p.add_argument("--png", required=True)
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("index", help="reports/index.html linking every artefact")
    p.add_argument("table_csvs", nargs="*")
    p.add_argument("--spec", required=True, help="JSON: {data_notes, substitutions, artefacts}")
    p.add_argument("--scale-note", default="")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_index)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SrreproError as err:
        print(f"srrepro {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
