"""The ``srrepro`` command line: the workflow's rules and users call the library through it."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

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

    names = prepare_dataset(args.dataset, args.out_dir, args.scale, mirror=args.mirror)
    print(f"prepared {args.dataset}: {len(names)} images in {args.out_dir}")


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
    print(f"upscaled {len(paths)} images with {args.model} in {elapsed:.1f} s ({elapsed / max(1, len(paths)):.3f} s/image)")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srrepro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="prepare a dataset: mod-cropped HR and MATLAB-bicubic LR")
    p.add_argument("dataset", help="demo_train, demo_test, Set5, Set14, BSD100, Urban100, ...")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--mirror", help="folder laid out like SelfExSR (<Set>/image_SRF_4/img_NNN_SRF_4_HR.png)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("degrade", help="MATLAB-compatible bicubic downscaling of every image in HR_DIR")
    p.add_argument("hr_dir")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=int, default=4)
    p.set_defaults(func=cmd_degrade)

    p = sub.add_parser("upscale", help="super-resolve every image in LR_DIR")
    p.add_argument("lr_dir")
    p.add_argument("out_dir")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--model", default="bicubic", help="'bicubic' or a checkpoint (ours or an official ESRGAN-style file)")
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
