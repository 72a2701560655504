"""What each paper table compares: its rows (paper method → our variant), datasets, metrics and claims.

These are facts about the papers; which variant plays which role is fixed by name (the demo and paper
configurations use the same variant names). A row whose method we do not train (e.g. EnhanceNet) keeps the
published value and shows ``not replicated`` with the reason on our side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srrepro.metrics.registry import metric_spec

NOT_TRAINED = "not replicated: the paper compares against the authors' published outputs of this method"

# The authors' released generators, evaluated by the `released` target as models `released_<name>` (variant = that
# name, no seed): display label of each.
RELEASED_MODELS = {
    "released_esrgan": "ESRGAN (released weights)",
    "released_rrdb_psnr": "RRDB_PSNR (released weights)",
    "released_fasrgan": "FASRGAN (released weights)",
    "released_fs_srgan": "Fs-SRGAN (released weights)",
    "released_fa_fs_srgan": "FA+Fs-SRGAN (released weights)",
    "released_srresnet": "SRResNet (released weights)",
}
# The table rows (method, setting) those weights are: the published methods themselves, not ablations or fine-tuned
# versions. RRDB_PSNR (FASRGAN's initialisation) is in no table.
RELEASED_ROWS = {
    ("ESRGAN", ""): "released_esrgan",
    ("FASRGAN", ""): "released_fasrgan",
    ("FASRGAN", "with FA"): "released_fasrgan",
    ("Fs-SRGAN", ""): "released_fs_srgan",
    ("Fs-SRGAN", "with Fs"): "released_fs_srgan",
    ("FA+Fs-SRGAN", ""): "released_fa_fs_srgan",
}
NO_RELEASE = ""  # Row.released: no released model is this row's method (not even where RELEASED_ROWS has its name)


@dataclass(frozen=True)
class Row:
    """One compared method: its label in the paper, the published setting, our variant (None: not ours) and the
    authors' released model (default: :data:`RELEASED_ROWS` of (method, setting); :data:`NO_RELEASE` where nothing
    released is the paper's model)."""

    method: str
    variant: str | None
    setting: str = ""
    reason: str = NOT_TRAINED
    released: str | None = None

    def __post_init__(self):
        if self.released is None:
            object.__setattr__(self, "released", RELEASED_ROWS.get((self.method, self.setting)))


@dataclass(frozen=True)
class Claim:
    """A statement of the paper: ``better`` beats ``worse`` on ``metric`` on ``dataset`` (method labels).

    ``sentences``: the ids of the paper's sentences it comes from, listed with their text in
    ``reporting/published/claims.csv`` (a "best of all" sentence becomes one claim per other row)."""

    text: str
    metric: str
    dataset: str
    better: str
    worse: str
    sentences: tuple[str, ...] = ()

    def on(self, dataset: str) -> str:
        """The claim's text about ``dataset`` (the set evaluated in place of the paper's)."""
        if self.dataset in self.text:
            return self.text.replace(self.dataset, dataset)
        return self.text if dataset == self.dataset else f"{self.text} on {dataset}"


@dataclass(frozen=True)
class TableSpec:
    name: str  # also the table's id in the published values
    paper: str
    title: str
    rows: tuple[Row, ...]
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    claims: tuple[Claim, ...] = field(default_factory=tuple)
    unreplicable: dict[str, str] = field(default_factory=dict)  # metric -> why no value of ours can exist
    notes: tuple[str, ...] = ()  # how our variants are set up where a paper is ambiguous or differs from its code
    # The evaluation protocol: paper metric → the registry metric that measures it (default: the lowercase name, e.g.
    # PSNR → psnr, on Y with the scale shaved, the main paper's protocol).
    protocol: dict[str, str] = field(default_factory=dict)

    def measured_as(self, metric: str) -> str:
        """The registry metric that measures the paper's ``metric`` in this table."""
        return self.protocol.get(metric, metric.lower())


def _pairwise(metrics, datasets, better, worse, text, sentence) -> tuple[Claim, ...]:
    return tuple(
        Claim(text.format(metric=m, dataset=d), m, d, better, worse, (sentence,)) for d in datasets for m in metrics
    )


def _beats(sentence, metrics, datasets, better, others) -> tuple[Claim, ...]:
    """``better`` beats each row of ``others`` on each metric and dataset: "X has lower PI than Y on Set5"."""
    def text(m, w, d):
        word = "lower" if metric_spec(m).lower_is_better else "higher"
        return f"{better.replace('|', ' ')} has {word} {m} than {w.replace('|', ' ')} on {d}"
    return tuple(Claim(text(m, w, d), m, d, better, w, (sentence,))
                 for d in datasets for m in metrics for w in others if w != better)


def _claims(*groups: tuple[Claim, ...]) -> tuple[Claim, ...]:
    """The groups' claims, each (metric, dataset, better, worse) once with the sentences of all that make it."""
    merged: dict[tuple, Claim] = {}
    for claim in (c for group in groups for c in group):
        key = (claim.metric, claim.dataset, claim.better, claim.worse)
        first = merged.setdefault(key, claim)
        if first is not claim:
            merged[key] = Claim(first.text, first.metric, first.dataset, first.better, first.worse,
                                first.sentences + tuple(s for s in claim.sentences if s not in first.sentences))
    return tuple(merged.values())


_T1_SETS = ("Set5", "Urban100", "BSD100", "DIV2K val", "PIRM val")
_T1_ROWS = ("EnhanceNet", "SRGAN", "ESRGAN", "RankSRGAN", "FASRGAN", "Fs-SRGAN", "FA+Fs-SRGAN")
_FASRGAN_L2_NOTE = ("FASRGAN is trained with λ2 = 0.01: the paper says 0.01 \"is used in our FASRGAN\", and Table V's "
                    "λ2 = 0.01 column equals Table I's FASRGAN Urban100 row; the released configuration's 0.05 is "
                    "Table V's variant fasrgan_l2_0p05.")
_RELEASED_SETTINGS_NOTE = ("Paper scale trains the FASRGAN family with the released configurations' HR 128 patches "
                           "(Fs-SRGAN: 192), Fs-SRGAN's batch 32, FA+Fs-SRGAN's batch 12 and lr 2.5e-5, and their "
                           "MultiStepLR, where §IV-A says 48x48 LR patches, batch 16 and lr 1e-4 halved every 2e4 "
                           "iterations; each is one key in config/paper.yaml (_gan_hr, _fs_batch, _fa_fs_batch, "
                           "_fa_fs_lr, _gan_schedule).")
_SPSAGAN_NOTE = ("SPSAGAN's GAN phase draws OST training images and DIV2K 10:1 as the paper says (SFTGAN's loader, "
                 "which it follows, gives 9:1); its PSNR pre-training uses DIV2K + Flickr2K; the RRSB network is "
                 "pruned from the segmentation-attention run, PSNR pre-trained from scratch, then GAN-trained.")
_T6_SETS = ("Set5", "Set14", "Urban100", "BSD100")
_S1_PSNR_ORIENTED = ("SRCNN", "SRResNet", "SAN")  # SPSAGAN Sec. 4.2's two groups of compared methods
_S1_PERCEPTUAL = ("SRGAN", "NatSR", "SFTGAN", "ESRGAN", "SPSAGAN")
_S1_METHODS = ("Bicubic", *_S1_PSNR_ORIENTED, *_S1_PERCEPTUAL)  # "best" among the methods: HR is no method
_FIG11 = "OST Fig. 11"  # the four OST images of SPSAGAN's ablation figure (srrepro.data.dataset_sources.SUBSETS)
_FIG11_METRICS = ("PSNR", "SSIM", "PI")  # printed under each image of Fig. 11
_SPSAGAN_ESRGAN_NOTE = ("ESRGAN is spsa_esrgan, ESRGAN trained in SPSAGAN's setting (OST + DIV2K, HR 96; the ablation "
                        "ladder's first rung), so SPSAGAN's claims over it compare models trained on the same data. "
                        "The paper's ESRGAN column is the cited ESRGAN [37], most likely its official release (the "
                        "paper retrains none of the compared methods): that model is the released-weights row.")
_SRGAN_OBJECTIVE_NOTE = ("SRGAN's objective is Ledig et al.'s, as the paper's text implies (\"SRGAN [8]\"): MSE on "
                         "post-ReLU VGG19 φ5,4 features / 12.75 + 1e-3 BCE adversarial, no pixel term (the demo: "
                         "VGG16 relu5_3 in place of φ5,4). The authors' repository's train_SRGAN.json (L1 pixel 1e-2, "
                         "L1 pre-ReLU conv5_4 1, BCE 5e-3, 500k iterations) is the other setting: config/paper.yaml "
                         "_srgan_objective. SRGAN_FA adds FASRGAN's terms with the paper's λ2 = 0.01 and G's map "
                         "term at the adversarial weight (Eq. 9's λ1).")
_SPSAGAN_SRRESNET_NOTE = ("The paper's SRResNet numbers are Ledig et al.'s (BSD100 27.58 / 0.7620); our SRResNet is "
                          "srresnet_psnr (Ledig's network with BatchNorm, MSE). The authors' released SRResNet "
                          "(BasicSR's MSRResNet: no BatchNorm, DIV2K) is another network, so it is not shown as this "
                          "row's released model (the overview table lists it).")
_SPSAGAN_TILE_NOTE = ("SPSAGAN's attention is global over the image (Eqs. 2, 4, 6): generators with global context "
                      "(attention, GroupNorm, global pooling) are run on the whole image, never in the "
                      "evaluation.tile pieces the other models use (srrepro.inference).")

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "table1",
            "fasrgan",
            "Table I — perceptual SR methods, bicubic degradation, x4",
            (
                Row("EnhanceNet", None),
                Row("SRGAN", "srgan"),
                Row("ESRGAN", "esrgan"),
                Row("RankSRGAN", None),
                Row("FASRGAN", "fasrgan"),
                Row("Fs-SRGAN", "fs_srgan"),
                Row("FA+Fs-SRGAN", "fa_fs_srgan"),
            ),
            _T1_SETS,
            ("PSNR", "SSIM", "PI", "LPIPS"),
            _claims(
                _beats("t1_fasrgan_esrgan", ("LPIPS", "PI"), _T1_SETS, "FASRGAN", ("ESRGAN",)),
                _beats("t1_fasrgan_lpips", ("LPIPS",), _T1_SETS, "FASRGAN", _T1_ROWS),
                _beats("t1_ranksrgan_pi", ("PI",), _T1_SETS, "RankSRGAN", _T1_ROWS),
                _beats("t1_fs_ssim", ("SSIM",), _T1_SETS, "Fs-SRGAN", _T1_ROWS),
                _beats("t1_fs_lpips", ("LPIPS",), _T1_SETS, "Fs-SRGAN", ("ESRGAN", "FASRGAN")),
                _beats("t1_fafs_psnr", ("PSNR",), _T1_SETS[1:], "FA+Fs-SRGAN", _T1_ROWS),
            ),
            notes=(_FASRGAN_L2_NOTE, _RELEASED_SETTINGS_NOTE),
        ),
        TableSpec(
            "table2",
            "fasrgan",
            "Table II — user study (MOS, lower is better) and LPIPS on PIRM val",
            (
                Row("SRGAN", "srgan"),
                Row("ESRGAN", "esrgan"),
                Row("RankSRGAN", None),
                Row("FASRGAN", "fasrgan"),
                Row("Fs-SRGAN", "fs_srgan"),
            ),
            ("PIRM val",),
            ("MOS", "LPIPS"),
            _claims(_beats("t2_ours_better", ("LPIPS",), ("PIRM val",), "FASRGAN", ("SRGAN", "ESRGAN", "RankSRGAN")),
                    _beats("t2_ours_better", ("LPIPS",), ("PIRM val",), "Fs-SRGAN", ("SRGAN", "ESRGAN", "RankSRGAN"))),
            unreplicable={"MOS": "user study with human raters: not replicable by a pipeline"},
        ),
        TableSpec(
            "table3",
            "fasrgan",
            "Table III — ResNet-50 recognition error on super-resolved ImageNet validation images",
            (
                Row("Bicubic", "bicubic"),
                Row("SRCNN", None),
                Row("FSRCNN", None),
                Row("SRGAN", "srgan"),
                Row("EnhanceNet", None),
                Row("ESRGAN", "esrgan"),
                Row("RankSRGAN", None),
                Row("Fs-SRGAN", "fs_srgan"),
                Row("FA+Fs-SRGAN", "fa_fs_srgan"),
                Row("FASRGAN", "fasrgan"),
                Row("Baseline", "hr"),
            ),
            ("ImageNet CLS-LOC val (first 1000)",),
            ("top1_error", "top5_error"),
            _beats("t3_fasrgan_lowest", ("top1_error", "top5_error"), ("ImageNet CLS-LOC val (first 1000)",), "FASRGAN",
                   ("Fs-SRGAN", "FA+Fs-SRGAN")),
        ),
        TableSpec(
            "table4",
            "fasrgan",
            "Table IV — ablation of fine-grained attention (FA) and feature sharing (Fs), PIRM test",
            (
                Row("FASRGAN", "fasrgan_wo_fa", "w/o FA"),
                Row("FASRGAN", "fasrgan", "with FA"),
                Row("Fs-SRGAN", "fs_wo_fs", "w/o Fs"),
                Row("Fs-SRGAN", "fs_srgan", "with Fs"),
            ),
            ("PIRM test",),
            ("PSNR", "SSIM", "PI", "LPIPS"),
            _pairwise(("PSNR", "SSIM", "PI", "LPIPS"), ("PIRM test",), "FASRGAN|with FA", "FASRGAN|w/o FA",
                      "FA improves {metric} on {dataset}", "t4_fa_all")
            + _pairwise(("PSNR", "SSIM", "LPIPS"), ("PIRM test",), "Fs-SRGAN|with Fs", "Fs-SRGAN|w/o Fs",
                        "Fs improves {metric} on {dataset}", "t4_fs"),
            notes=("w/o FA keeps FASRGAN's UNet discriminator and every setting; the fine-grained losses of G and D "
                   "and the attention loss are off (§IV-G: λ2 = 0, \"L_M^D and L_fine^G are also removed\").",
                   "w/o Fs gives the generator and the discriminator each their own extractor of E's architecture, "
                   "sharing nothing; the loss and every other setting are Fs-SRGAN's.", _FASRGAN_L2_NOTE,
                   _RELEASED_SETTINGS_NOTE),
        ),
        TableSpec(
            "table5",
            "fasrgan",
            "Table V — coefficient λ2 of the fine-grained attention loss",
            (
                Row("FASRGAN", "fasrgan_l2_0p05", "lambda2=0.05"),  # the released configuration's w_att
                Row("FASRGAN", "fasrgan", "lambda2=0.01"),  # the paper's λ2, our FASRGAN (Table I)
                Row("FASRGAN", "fasrgan_l2_0p005", "lambda2=0.005"),
            ),
            ("Urban100", "DIV2K val"),
            ("PSNR", "SSIM", "PI", "LPIPS"),
            tuple(
                Claim(f"λ2 = 0.01 beats λ2 = {other} in {m} on {d}", m, d, "FASRGAN|lambda2=0.01", f"FASRGAN|lambda2={other}",
                      ("t5_best",))
                for d in ("Urban100", "DIV2K val")
                for m in ("SSIM", "LPIPS")
                for other in ("0.05", "0.005")
            ),
            notes=(_FASRGAN_L2_NOTE, _RELEASED_SETTINGS_NOTE),
        ),
        TableSpec(
            "table6",
            "fasrgan",
            "Table VI — FA and Fs in SRGAN",
            (Row("SRGAN", "srgan"), Row("SRGAN_FA", "srgan_fa"), Row("SRGAN_Fs", "srgan_fs")),
            _T6_SETS,
            ("PSNR", "SSIM", "PI", "LPIPS"),
            _claims(_beats("t6_fa_best", ("PI", "LPIPS"), _T6_SETS, "SRGAN_FA", ("SRGAN", "SRGAN_Fs")),
                    _beats("t6_fs", ("SSIM", "LPIPS"), _T6_SETS, "SRGAN_Fs", ("SRGAN",))),
            notes=("SRGAN, SRGAN_FA and SRGAN_Fs train on the same HR patch (paper scale: 128, the UNet "
                   "discriminator's input in the authors' code), schedule and objective, so only the mechanism "
                   "differs.", _SRGAN_OBJECTIVE_NOTE),
        ),
        TableSpec(
            "table7",
            "fasrgan",
            "Table VII — real-world SR on RealSR (V3) test",
            (
                Row("SRCNN", None),
                Row("RCAN", None),
                Row("ESRGAN", "esrgan"),
                Row("RankSRGAN", None),
                Row("FASRGAN", "fasrgan"),
                Row("Fs-SRGAN", "fs_srgan"),
                Row("ZSSR", None),
                Row("FSSR", None),
                Row("ESRGAN", None, "FT", "fine-tuning on RealSR training images is not part of this pipeline"),
                Row("FASRGAN", None, "FT", "fine-tuning on RealSR training images is not part of this pipeline"),
                Row("Fs-SRGAN", None, "FT", "fine-tuning on RealSR training images is not part of this pipeline"),
            ),
            ("RealSR V3 test",),
            ("PSNR", "SSIM", "PI", "LPIPS"),
            _claims(_beats("t7_top", ("PI", "LPIPS"), ("RealSR V3 test",), "FASRGAN", ("ESRGAN",)),
                    _beats("t7_top", ("PI", "LPIPS"), ("RealSR V3 test",), "Fs-SRGAN", ("ESRGAN",)),
                    _beats("t7_bottom", ("LPIPS",), ("RealSR V3 test",), "FASRGAN|FT", ("ZSSR", "FSSR", "ESRGAN|FT")),
                    _beats("t7_bottom", ("LPIPS",), ("RealSR V3 test",), "Fs-SRGAN|FT", ("ZSSR", "FSSR", "ESRGAN|FT"))),
        ),
        TableSpec(
            "wu_table1",
            "wu",
            "Wu, Table 1 — attention SRGAN (\"New model\") against SRGAN (PSNR / SSIM)",
            (Row("SRGAN", "wu_srgan"), Row("New model", "wu_attention")),
            _T6_SETS,
            ("PSNR", "SSIM"),
            _pairwise(("PSNR",), _T6_SETS, "SRGAN", "New model", "SRGAN has higher {metric} than the attention model on {dataset}", "wu_psnr"),
            protocol={"PSNR": "psnr_rgb", "SSIM": "ssim_rgb"},  # leftthomas/SRGAN's test_benchmark.py
            notes=("SRGAN is trained with the four-term loss of the leftthomas/SRGAN code that Wu simplifies: MSE + "
                   "1e-3 adversarial + 6e-3 MSE of VGG16 features through pool5 + 2e-8 TV; the new model with Wu's "
                   "L1 + 1e-3 adversarial. Both: batch 16, HR 128, DIV2K, that code's Adam defaults (lr 1e-3, no "
                   "schedule), 100 epochs.",
                   "Wu's numbers come from the leftthomas/SRGAN test code, so this table measures as it does: PSNR "
                   "and SSIM on RGB in [0, 1] without a border shave (psnr_rgb, ssim_rgb), not the FASRGAN tables' Y "
                   "channel with 4 pixels shaved; on our 8-bit SR images (that code measures the unrounded output)."),
        ),
        TableSpec(
            "spsagan_table1",
            "spsagan",
            "SPSAGAN, Table 1 — PSNR, SSIM and PI on BSD100 and OST300",
            (
                Row("Bicubic", "bicubic"),
                Row("SRCNN", None),
                Row("SRResNet", "srresnet_psnr", released=NO_RELEASE),  # the paper's numbers are Ledig et al.'s
                Row("SAN", None),
                Row("SRGAN", "srgan"),
                Row("ESRGAN", "spsa_esrgan"),  # trained in SPSAGAN's setting; the cited release: released_esrgan
                Row("NatSR", None),
                Row("SFTGAN", None),
                Row("SPSAGAN", "spsagan"),
                Row("HR", "hr"),
            ),
            ("BSD100", "OST"),
            ("PSNR", "SSIM", "PI"),
            _claims(
                _beats("s1_abstract", ("PI",), ("BSD100", "OST"), "SPSAGAN", ("ESRGAN", "SFTGAN")),
                _beats("s1_spsagan_best_pi", ("PI",), ("BSD100",), "SPSAGAN", _S1_METHODS),
                _beats("s1_sftgan_best_pi", ("PI",), ("OST",), "SFTGAN", _S1_METHODS),
                _beats("s1_sftgan_hr", ("PI",), ("OST",), "SFTGAN", ("HR",)),
                *(_beats("s1_psnr_oriented", ("PSNR", "SSIM"), ("BSD100", "OST"), p, _S1_PERCEPTUAL)
                  for p in _S1_PSNR_ORIENTED),
                *(_beats("s1_psnr_oriented", ("PI",), ("BSD100", "OST"), p, _S1_PSNR_ORIENTED)
                  for p in _S1_PERCEPTUAL),
            ),
            notes=(_SPSAGAN_NOTE, _SPSAGAN_ESRGAN_NOTE, _SPSAGAN_SRRESNET_NOTE, _SPSAGAN_TILE_NOTE),
        ),
        TableSpec(
            "spsagan_ablation",
            "spsagan",
            "SPSAGAN ablation ladder (Fig. 11): ESRGAN → + feature attention → + segmentation attention → + RRSB",
            (
                Row("ESRGAN", "spsa_esrgan"),
                Row("+ feature attention", "spsa_fattn"),
                Row("+ segmentation attention", "spsa_seg"),
                Row("+ RRSB (SPSAGAN)", "spsagan"),
            ),
            (_FIG11, "OST", "BSD100"),
            ("PSNR", "SSIM", "PI", "LPIPS"),
            _pairwise(_FIG11_METRICS, (_FIG11,), "+ feature attention", "ESRGAN",
                      "feature attention improves {metric} over ESRGAN on {dataset}", "a_fattn")
            + _pairwise(_FIG11_METRICS, (_FIG11,), "+ segmentation attention", "+ feature attention",
                        "segmentation attention improves {metric} over feature attention alone on {dataset}", "a_seg")
            + _pairwise(_FIG11_METRICS, (_FIG11,), "+ RRSB (SPSAGAN)", "+ segmentation attention",
                        "RRSB pruning improves {metric} on {dataset}", "a_rrsb"),
            notes=("Every rung, ESRGAN included, is trained in SPSAGAN's setting (HR 96, its learning rates and "
                   "data), so each adds one mechanism.",
                   f"The paper shows its ablation on four OST images (Fig. 11: OST_012, OST_020, OST_033, OST_095) "
                   f"with their PSNR, SSIM and PI, and says each rung improves the visual quality; each claim is "
                   f"judged on those images ({_FIG11}, reports.datasets) and those three metrics. Fig. 11's numbers "
                   f"are not in the paper's text, so the paper's verdicts read n/a. LPIPS, and the whole OST and "
                   f"BSD100, are extra columns, never a claim.", _SPSAGAN_NOTE, _SPSAGAN_TILE_NOTE),
        ),
    )
}


# Sec. IV-E: the generators whose size and speed the paper reports, at the paper's widths (counted exactly).
PAPER_GENERATORS: dict[str, dict] = {
    "ESRGAN": {"arch": "rrdbnet", "nf": 64, "nb": 23, "gc": 32},
    "FASRGAN": {"arch": "rrdbnet", "nf": 64, "nb": 23, "gc": 32},
    "Fs-SRGAN": {"arch": "fs_rrdbnet_vgg", "split": "E1G16", "nf": 64, "gc": 32},
    "FA+Fs-SRGAN": {"arch": "fs_rrdbnet_unet", "split": "E2G15", "nf": 64, "gc": 32},
}
# Our variant playing each of those methods.
ANALYSED_VARIANTS = {"ESRGAN": "esrgan", "FASRGAN": "fasrgan", "Fs-SRGAN": "fs_srgan", "FA+Fs-SRGAN": "fa_fs_srgan"}

PAPER_TABLES = tuple(TABLES)


def protocol_metrics() -> list[str]:
    """Registry metrics that a table's protocol measures besides the usual names (Wu's psnr_rgb, ssim_rgb): the
    workflow evaluates them for every model, whatever ``evaluation.metrics`` lists."""
    return list(dict.fromkeys(m for spec in TABLES.values() for m in spec.protocol.values()))
PAPER_NAMES = {"fasrgan": "FASRGAN / Fs-SRGAN", "wu": "Wu (attention SRGAN)", "spsagan": "SPSAGAN"}
# FASRGAN Figs. 5, 9, 13 and the crops of Figs. 4/6/7: what each shows.
FIGURE_CAPTIONS = {
    "fig5": "FASRGAN Fig. 5: RMSE against LPIPS of every model on one test set (lower-left is better).",
    "fig9": "FASRGAN Fig. 9: the validation PI of the FASRGAN-family runs during training (NIQE or PSNR where PI "
            "cannot be computed).",
    "fig13": "FASRGAN Fig. 13: PSNR and LPIPS of Fs-SRGAN against how its RRDBs are split between the shared "
             "extractor E and the generator trunk G.",
    "qualitative": "FASRGAN Figs. 6-8: for each image the paper shows (reports.qualitative.images), the same crop "
                   "from the HR image and from every model, side by side.",
}
# The images FASRGAN's Figs. 6-8 show (Sec. IV-D), as (figure, dataset, file stem of our prepared copy): the default
# of reports.qualitative.images. The crops' positions are not in the text.
PAPER_CROPS = (
    ("Fig. 6", "DIV2K_valid", "0828"),
    ("Fig. 6", "Urban100", "img_093"),
    ("Fig. 7", "Set14", "img_001"),  # 'baboon' (SelfExSR's numbering)
    ("Fig. 7", "DIV2K_valid", "0812"),
    ("Fig. 8", "PIRM_val", "57"),  # '57': PIRM's images are numbered; the text does not say val or test
    ("Fig. 8", "Manga109", "OhWareraRettouSeitokai"),
)
FIGURES = tuple(FIGURE_CAPTIONS)
# Table III rows we compute: the variants whose SR images ResNet-50 classifies (besides 'hr' and 'bicubic').
RECOGNITION_VARIANTS = tuple(r.variant for r in TABLES["table3"].rows if r.variant not in (None, "hr", "bicubic"))


def recognition_models(variants, seeds) -> list[str]:
    """Models of Table III in a configuration: 'hr', 'bicubic' and ``<variant>-s<seed>`` of each configured row."""
    return ["hr", "bicubic"] + [f"{v}-s{s}" for v in RECOGNITION_VARIANTS if v in variants for s in seeds]


def analysed_variants(variants) -> dict[str, str]:
    """Sec. IV-E methods whose variant is configured: method → variant."""
    return {method: v for method, v in ANALYSED_VARIANTS.items() if v in variants}
