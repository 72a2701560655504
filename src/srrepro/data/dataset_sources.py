"""Every dataset the papers use, declared once: what it is, its licence, and where it comes from.

Resolution order (implemented in :mod:`srrepro.datasets`): a folder in the local mirror (config key ``data.mirror``,
one of :attr:`DatasetSource.mirror_names`), then the download cache ``<cache>/datasets/<Name>/``, then, when
downloading is allowed, the declared :class:`Download` sources in priority order. A dataset with no download
source is *user-supplied*: its error message names the config key under which to supply it.

Checksums. Each download may carry

* ``sha256`` / ``md5`` of the downloaded bytes (the archive), as published by a third party — the source of each
  published value is named in ``checksum_source``; when both are known both are checked;
* ``content_sha256`` of the files kept after extraction: the sha256 of the sorted lines ``"<file name> <sha256>\\n"``
  over the kept HR (and provided LR) files. It does not depend on how an archive is compressed, so it also
  verifies per-file downloads and GitHub archives (whose bytes GitHub does not guarantee).

``None`` everywhere means *no checksum is published or could be established here*: the first download is accepted
and the sha256 of the archive and of every kept file is recorded in ``<cache>/datasets/<Name>/provenance.json``;
the cached copy is verified against that record thereafter (file names and sizes on every use, full sha256 with
``verify=True``).

Values established here (not published upstream): the ``content_sha256`` of the SelfExSR sets were computed from
the git snapshot of ``jbhuang0604/SelfExSR`` at commit 8f6dd8c1 (the files are identical byte for byte to the
``shared/data/SelfExSR`` reference copy for Set5, Set14 and BSD100); those of T91 and BSD200 from the git snapshot
of ``jiny2001/dcscn-super-resolution`` at commit d382bc30 (T91 identical byte for byte in ``tegg89/SRCNN-Tensorflow``
at commit 78be1a24, and both sets to the ``shared/data/T91`` and ``shared/data/BSD200`` reference copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIRROR_CONFIG_KEY = "data.mirror"
DOWNLOAD_CONFIG_KEY = "data.download"
IMAGENET_CONFIG_KEY = "data.imagenet"

#: How a dataset's checksums stand; shown by :func:`available_datasets`.
CHECKSUM_PUBLISHED = "published"
CHECKSUM_ESTABLISHED = "established here"
CHECKSUM_TOFU = "none known: recorded on first download, verified thereafter"
CHECKSUM_USER = "user-supplied: not checked"


@dataclass(frozen=True)
class Download:
    """One downloadable source of a dataset.

    ``kind`` is ``"archive"`` (a zip or tar file at ``url``; the HR images are the members matching ``hr_glob``,
    provided LR images those matching ``lr_glob``) or ``"files"`` (``url`` is a template with ``{name}``, fetched
    once per entry of ``members``; entries matching ``lr_glob`` are kept as LR images).
    ``url`` may be ``https://``, ``http://`` or ``file://``.
    """

    url: str
    kind: str = "archive"
    hr_glob: str = "*.png"
    lr_glob: str | None = None
    members: tuple[str, ...] = ()
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    content_sha256: str | None = None
    checksum_source: str = ""
    note: str = ""

    @property
    def checksum_status(self) -> str:
        if self.sha256 or self.md5:
            return CHECKSUM_PUBLISHED
        if self.content_sha256:
            return CHECKSUM_ESTABLISHED
        return CHECKSUM_TOFU


@dataclass(frozen=True)
class DatasetSource:
    """A dataset: description, licence / terms, mirror folder names and download sources in priority order.

    ``real_lr`` marks sets that ship their own LR images (real degradation): those are read, never re-made by
    bicubic. ``recursive`` marks sets whose mirror folder holds images in sub-folders (category folders).
    """

    name: str
    description: str
    licence: str
    homepage: str
    mirror_names: tuple[str, ...]
    downloads: tuple[Download, ...] = ()
    images: int | None = None
    real_lr: bool = False
    recursive: bool = False
    config_key: str = ""
    layout: str = ""
    note: str = ""
    papers: tuple[str, ...] = field(default=())

    @property
    def user_supplied(self) -> bool:
        return not self.downloads

    @property
    def key(self) -> str:
        """The config key under which a user supplies this dataset."""
        return self.config_key or f"{MIRROR_CONFIG_KEY}/{self.name}"

    @property
    def checksum_status(self) -> str:
        if not self.downloads:
            return CHECKSUM_USER
        return "; ".join(dict.fromkeys(d.checksum_status for d in self.downloads))


# ---------------------------------------------------------------------------------------------- SelfExSR

SELFEXSR_REPO = "jbhuang0604/SelfExSR"
SELFEXSR_COMMIT = "8f6dd8c1d20cb7e8792a7177b4f6fd677633f598"
_SELFEXSR_RAW = f"https://raw.githubusercontent.com/{SELFEXSR_REPO}/{SELFEXSR_COMMIT}/data/"
_SELFEXSR_ZIP = f"https://github.com/{SELFEXSR_REPO}/archive/{SELFEXSR_COMMIT}.zip"
_SELFEXSR_TOP = f"SelfExSR-{SELFEXSR_COMMIT}"
_SELFEXSR_SHA = "sha256 of the kept *_HR.png files, computed here from the git snapshot of the repository"

#: content_sha256 of ``image_SRF_4/*_HR.png`` at SELFEXSR_COMMIT (established here, see module docstring).
_SELFEXSR_CONTENT = {
    "Set5": (5, "a4692f1cd0c534d0dc0359db34d731cd11d641ae3e24d538cf59dc1ca2f15bee"),
    "Set14": (14, "d315bc5ad56703955ac013e21ff2f8f15fb8c8f1494d4b3bd534371d4923d281"),
    "BSD100": (100, "9005e0686c8d022c41400dd5bc7c910e9d10891c813909fa1fda3e78508e274a"),
    "Urban100": (100, "0d366df6a4066acc1eb8bb716a6ba298130f49b6541c4281027c0511a1146329"),
}


def _selfexsr_downloads(name: str) -> tuple[Download, ...]:
    count, content = _SELFEXSR_CONTENT[name]
    members = tuple(f"img_{i:03d}_SRF_4_HR.png" for i in range(1, count + 1))
    return (
        Download(_SELFEXSR_RAW + f"{name}/image_SRF_4/{{name}}", kind="files", members=members,
                 content_sha256=content, checksum_source=_SELFEXSR_SHA,
                 note=f"raw files of the GitHub repository, pinned to commit {SELFEXSR_COMMIT[:8]}"),
        Download(_SELFEXSR_ZIP, hr_glob=f"{_SELFEXSR_TOP}/data/{name}/image_SRF_4/*_HR.png",
                 content_sha256=content, checksum_source=_SELFEXSR_SHA,
                 note="whole-repository archive (~300 MB); GitHub does not guarantee its bytes, so only the "
                      "extracted files are checked"),
    )


_SELFEXSR_LAYOUT = "SelfExSR: <Set>/image_SRF_4/img_NNN_SRF_4_HR.png (HR cropped to a multiple of 4)"
_RESEARCH_SELFEXSR = ("research use; no licence file in the SelfExSR repository; images from their original "
                      "publishers: {}")

# ---------------------------------------------------------------------------------------------- DIV2K

_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
_DIV2K_LICENCE = ("academic research only (DIV2K terms: images collected from the internet, copyright stays with "
                  "the owners; use for academic research purposes only)")
_DIV2K_CHECKSUMS = ("sha256 and size: tensorflow/datasets url_checksums/div2k.txt; md5: Coloquinte/torchSR "
                    "torchsr/datasets/div2k.py")

# ---------------------------------------------------------------------------------------------- OutdoorScene

_OST_HOME = "https://github.com/xinntao/SFTGAN#ost-dataset"
_OST_TERMS = ("no licence or terms stated (the dataset README asks to cite SFTGAN; images collected from search "
              "engines): research use only; distributed via Google Drive / Baidu folders only: user-supplied")
_OST_NOTE = ("Google Drive https://drive.google.com/drive/folders/1LIb631GU3bOyQVTeuALesD8_eoApNniB (SFTGAN README; "
             "BasicSR's docs/DatasetPreparation.md links folder 1iZfzAxAwOpeutz27HC56_y5RNqnsPPKr); no checksums "
             "published")

# ---------------------------------------------------------------------------------------------- the 291 set

DCSCN_REPO = "jiny2001/dcscn-super-resolution"
DCSCN_COMMIT = "d382bc30d41c94ac72f8cb148d61cc4864b3b380"
SRCNN_TF_REPO = "tegg89/SRCNN-Tensorflow"
SRCNN_TF_COMMIT = "78be1a24697935fc39a3a8cf59a6632264afade7"
_DCSCN_RAW = f"https://raw.githubusercontent.com/{DCSCN_REPO}/{DCSCN_COMMIT}/data/"
_291_SHA = ("sha256 of the kept files, computed here from the git snapshot of the repository (identical byte for "
            "byte in both repositories named for T91)")
#: The 91 file names of T91 as published: t1..t66 without t41, tt1..tt27 without tt11.
_T91_MEMBERS = tuple([f"t{i}.bmp" for i in range(1, 67) if i != 41] + [f"tt{i}.bmp" for i in range(1, 28) if i != 11])
#: The 200 training images of BSDS300 (image ids), as laid out in the DCSCN repository's data/bsd200/.
_BSD200_IDS = """
100075 100080 100098 103041 104022 105019 105053 106020 106025 108041 108073 109034 112082 113009 113016 113044
117054 118020 118035 12003 12074 122048 124084 126039 130034 134008 134052 135037 135069 138032 138078 140055 140075
144067 145014 145053 147021 147062 15004 15088 151087 153077 153093 155060 156079 157036 159029 159045 159091 16052
161062 163014 163062 164074 166081 169012 170054 172032 173036 176019 176035 176039 178054 181018 181079 181091
183055 183087 187003 187029 187039 187071 187083 188005 188063 188091 189003 189011 196015 198004 198023 198054
20008 202012 207056 209070 2092 216041 216053 216066 22013 22090 22093 225017 227040 227046 23025 23080 23084 231015
232038 236017 238011 239007 239096 24004 24063 242078 245051 246016 246053 247085 249061 249087 25098 253036 254033
254054 260081 26031 268002 27059 271008 271031 274007 277095 28075 28096 285036 286092 292066 293029 299091 301007
302003 309004 310007 311068 311081 314016 317080 323016 326038 33066 35008 35010 35058 35070 35091 353013 361084
365025 365073 368016 368078 370036 372047 374020 374067 376001 376020 385028 388016 41004 41025 42044 42078 43070
43083 45077 46076 48055 54005 55067 55075 56028 59078 60079 61060 61086 65010 65019 65074 65132 66039 66075 67079
68077 71046 76002 78019 80099 8049 8143 87065 90076 92059 94079 95006 97017
""".split()
_BSD200_MEMBERS = tuple(f"{i}.png" for i in _BSD200_IDS)
_T91_CONTENT = "b2c8a8cfb72bfae1d3245a340e3dd21e8025f0ab3b8257cdded70e80ee3f88ee"
_BSD200_CONTENT = "ca01aff9fad8110f31cf19ea6ae2e68ab44fe91b144dc76a18c01407eb0e867d"

# ---------------------------------------------------------------------------------------------- the table

DATASET_SOURCES: dict[str, DatasetSource] = {
    s.name: s
    for s in (
        DatasetSource(
            "Set5", "Set5 (Bevilacqua et al. 2012), 5 test images, x4 crop of SelfExSR",
            _RESEARCH_SELFEXSR.format("Bevilacqua et al."), "https://github.com/jbhuang0604/SelfExSR",
            ("Set5",), _selfexsr_downloads("Set5"), images=5, layout=_SELFEXSR_LAYOUT,
            papers=("FASRGAN", "Attention-SRGAN", "SPSAGAN")),
        DatasetSource(
            "Set14", "Set14 (Zeyde et al. 2010), 14 test images (two grayscale), x4 crop of SelfExSR",
            _RESEARCH_SELFEXSR.format("Zeyde et al."), "https://github.com/jbhuang0604/SelfExSR",
            ("Set14",), _selfexsr_downloads("Set14"), images=14, layout=_SELFEXSR_LAYOUT,
            papers=("FASRGAN", "Attention-SRGAN", "SPSAGAN")),
        DatasetSource(
            "BSD100", "BSD100 (Martin et al. 2001), 100 test images of BSDS300, x4 crop of SelfExSR",
            _RESEARCH_SELFEXSR.format("Berkeley Segmentation Dataset, non-commercial research and education"),
            "https://github.com/jbhuang0604/SelfExSR", ("BSD100", "B100", "BSDS100"), _selfexsr_downloads("BSD100"),
            images=100, layout=_SELFEXSR_LAYOUT, papers=("FASRGAN", "Attention-SRGAN", "SPSAGAN")),
        DatasetSource(
            "Urban100", "Urban100 (Huang et al. 2015), 100 urban photographs, x4 crop of SelfExSR",
            _RESEARCH_SELFEXSR.format("Flickr photographs under their owners' licences (Huang et al.)"),
            "https://github.com/jbhuang0604/SelfExSR", ("Urban100",), _selfexsr_downloads("Urban100"),
            images=100, layout=_SELFEXSR_LAYOUT, papers=("FASRGAN", "Attention-SRGAN")),
        DatasetSource(
            "Manga109", "Manga109 (Matsui et al. 2017), 109 manga volumes' covers/pages used as an SR test set",
            "user-supplied only: the Manga109 licence (academic use, by application) forbids redistribution",
            "http://www.manga109.org/", ("Manga109",), (), images=109,
            layout="<mirror>/Manga109/ with plain HR images, or HR/, or image_SRF_4/*_HR.png",
            papers=("FASRGAN",)),
        DatasetSource(
            "DIV2K_train", "DIV2K training set (Agustsson and Timofte 2017), 800 2K HR images 0001-0800",
            _DIV2K_LICENCE, _DIV2K, ("DIV2K_train", "DIV2K_train_HR", "DIV2K/DIV2K_train_HR"),
            (Download(_DIV2K + "DIV2K_train_HR.zip", hr_glob="DIV2K_train_HR/*.png",
                      sha256="9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
                      md5="bdc2d9338d4e574fe81bf7d158758658", size=3530603713, checksum_source=_DIV2K_CHECKSUMS),),
            images=800, layout="DIV2K_train_HR.zip: DIV2K_train_HR/0001.png ... 0800.png",
            papers=("FASRGAN", "Attention-SRGAN", "SPSAGAN")),
        DatasetSource(
            "DIV2K_valid", "DIV2K validation set, 100 2K HR images 0801-0900", _DIV2K_LICENCE, _DIV2K,
            ("DIV2K_valid", "DIV2K_valid_HR", "DIV2K/DIV2K_valid_HR"),
            (Download(_DIV2K + "DIV2K_valid_HR.zip", hr_glob="DIV2K_valid_HR/*.png",
                      sha256="20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
                      md5="9fcdda83005c5e5997799b69f955ff88", size=448993893, checksum_source=_DIV2K_CHECKSUMS),),
            images=100, layout="DIV2K_valid_HR.zip: DIV2K_valid_HR/0801.png ... 0900.png", papers=("FASRGAN",)),
        DatasetSource(
            "PIRM_val", "PIRM 2018 perceptual SR challenge self-validation set, 100 HR images",
            "research use (PIRM 2018 challenge data); distributed by the organisers via their site (Google Drive), "
            "no direct download URL: user-supplied", "https://www.pirm2018.org/PIRM-SR.html",
            ("PIRM_val", "PIRM_Val", "PIRM_self_validation"), (), images=100,
            layout="<mirror>/PIRM_val/ with HR images (or HR/)", papers=("FASRGAN",)),
        DatasetSource(
            "PIRM_test", "PIRM 2018 perceptual SR challenge test set, 100 HR images",
            "research use (PIRM 2018 challenge data); distributed by the organisers via their site (Google Drive), "
            "no direct download URL: user-supplied", "https://www.pirm2018.org/PIRM-SR.html",
            ("PIRM_test", "PIRM_Test"), (), images=100,
            layout="<mirror>/PIRM_test/ with HR images (or HR/)", papers=("FASRGAN",)),
        DatasetSource(
            "RealSR_V3", "RealSR version 3 (Cai et al. 2019), Canon + Nikon test pairs at x4 with real LR images",
            "research use (csjcai/RealSR; no explicit licence)", "https://github.com/csjcai/RealSR",
            ("RealSR_V3", "RealSR(V3)", "RealSR"),
            (Download("https://drive.google.com/uc?export=download&id=17ZMjo-zwFouxnm_aFM6CUHBwgRrLZqIM",
                      hr_glob="RealSR(V3)/*/Test/4/*_HR.png", lr_glob="RealSR(V3)/*/Test/4/*_LR4.png",
                      md5="83e946bf4b5c22b30d1663231bb2e53e",
                      checksum_source="md5 of RealSR(V3).tar.gz: Coloquinte/torchSR torchsr/datasets/realsr.py",
                      note="Google Drive: large files need a confirmation page that a plain download does not "
                           "pass, so this usually fails and the set must be supplied in the mirror"),),
            real_lr=True,
            layout="RealSR(V3)/{Canon,Nikon}/Test/4/<stem>_HR.png with <stem>_LR4.png (the provided real LR is "
                   "used, never a bicubic one); the mirror may hold <Name>/Test/4/ or <Name>/{Canon,Nikon}/Test/4/",
            papers=("FASRGAN",)),
        DatasetSource(
            "OST300", "OutdoorSceneTest300 (Wang et al., SFTGAN 2018), 300 outdoor test images",
            _OST_TERMS, _OST_HOME, ("OST300", "OutdoorSceneTest300"), (), images=300,
            layout="<mirror>/OST300/ with HR images (OST300_img.zip extracted), or HR/", note=_OST_NOTE,
            papers=("SPSAGAN",)),
        DatasetSource(
            "OST_train", "OutdoorSceneTrain v2 (SFTGAN), 7 category folders, 10,324 outdoor images of variable size "
            "(sky 1,727, water 857, building 2,285, grass 1,140, plant 1,036, animal 2,187, mountain 1,092)",
            _OST_TERMS, _OST_HOME, ("OST_train", "OutdoorSceneTrain_v2", "OutdoorSceneTrain"),
            (), images=10324, recursive=True,
            layout="<mirror>/OST_train/<category>/*.png (animal, building, grass, mountain, plant, sky, water); "
                   "images are named <category>_<stem>", note=_OST_NOTE, papers=("SPSAGAN",)),
        DatasetSource(
            "Flickr2K", "Flickr2K (Lim et al., EDSR / NTIRE 2017), 2,650 2K-resolution HR images 000001-002650",
            "no licence published by the EDSR authors; collected with the Flickr API, copyright stays with the "
            "Flickr owners: research use", "https://github.com/LimBee/NTIRE2017",
            ("Flickr2K", "Flickr2K_HR", "Flickr2K/Flickr2K_HR"),
            (Download("https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar", hr_glob="Flickr2K/Flickr2K_HR/*.png",
                      md5="5d3f39443d5e9489bff8963f8f26cb03",
                      checksum_source="md5 of Flickr2K.tar: Coloquinte/torchSR torchsr/datasets/flickr2k.py "
                                      "(commit 99674a44)",
                      note="the official tar also holds Flickr2K_LR_bicubic/X{2,3,4} and Flickr2K_LR_unknown; only "
                           "the HR images are kept (LR is made here with MATLAB bicubic)"),),
            images=2650, layout="Flickr2K.tar: Flickr2K/Flickr2K_HR/000001.png ... 002650.png",
            papers=("SPSAGAN",)),
        DatasetSource(
            "T91", "T91 (Yang et al. 2010), the 91 training images of SRCNN; with BSD200 the classic '291' training "
            "set of VDSR and its successors; small images (the smallest is 78x78)",
            "research use; no licence published with the images (Yang et al., 'Image super-resolution via sparse "
            "representation', IEEE TIP 2010); redistributed in public SR repositories",
            "https://github.com/jiny2001/dcscn-super-resolution", ("T91", "yang91", "91-image"),
            (Download(_DCSCN_RAW + "yang91/{name}", kind="files", members=_T91_MEMBERS,
                      content_sha256=_T91_CONTENT, checksum_source=_291_SHA,
                      note=f"raw files of {DCSCN_REPO}, pinned to commit {DCSCN_COMMIT[:8]}"),
             Download(f"https://raw.githubusercontent.com/{SRCNN_TF_REPO}/{SRCNN_TF_COMMIT}/Train/{{name}}",
                      kind="files", members=_T91_MEMBERS, content_sha256=_T91_CONTENT,
                      checksum_source=_291_SHA,
                      note=f"raw files of {SRCNN_TF_REPO}, pinned to commit {SRCNN_TF_COMMIT[:8]}")),
            images=91, layout="<mirror>/T91/t1.bmp ... tt27.bmp (or HR/)", papers=("workstation scale",)),
        DatasetSource(
            "BSD200", "BSD200: the 200 training images of BSDS300 (Martin et al. 2001); with T91 the '291' set",
            "Berkeley Segmentation Dataset: non-commercial research and educational use",
            "https://github.com/jiny2001/dcscn-super-resolution", ("BSD200", "bsd200"),
            (Download(_DCSCN_RAW + "bsd200/{name}", kind="files", members=_BSD200_MEMBERS,
                      content_sha256=_BSD200_CONTENT, checksum_source=_291_SHA,
                      note=f"raw files of {DCSCN_REPO}, pinned to commit {DCSCN_COMMIT[:8]}"),),
            images=200, layout="<mirror>/BSD200/<id>.png (or HR/)", papers=("workstation scale",)),
        DatasetSource(
            "ImageNet_val", "ILSVRC2012 validation images with ground-truth labels (Table III recognition test)",
            "user-supplied: ImageNet terms of access (non-commercial research and education); never downloaded",
            "https://image-net.org/", ("ImageNet_val",), (), images=50000, config_key=IMAGENET_CONFIG_KEY,
            layout="<data.imagenet>/labels.txt ('<file>, <class index>' lines) and the images (images/ or flat)",
            papers=("FASRGAN",)),
    )
}

#: Datasets that are super-resolution sets (HR images, optionally real LR); the rest are used otherwise.
SR_DATASETS = tuple(name for name in DATASET_SOURCES if name != "ImageNet_val")


@dataclass(frozen=True)
class DatasetSubset:
    """Named images of a declared dataset that a paper reports on their own (by file stem). The summary gives each
    model evaluated on ``parent`` its mean over these images as dataset ``name``, which ``reports.datasets`` may
    map a paper dataset to."""

    name: str
    parent: str
    images: tuple[str, ...]
    source: str


#: Every subset, by name.
SUBSETS = {s.name: s for s in (
    DatasetSubset("OST300_fig11", "OST300", ("OST_012", "OST_020", "OST_033", "OST_095"),
                  "SPSAGAN Fig. 11 / Sec. 4.4: the OST test images of the ablation, with PSNR, SSIM and PI"),
)}


def get_source(name: str) -> DatasetSource:
    """The :class:`DatasetSource` called ``name`` (KeyError listing the known names otherwise)."""
    if name not in DATASET_SOURCES:
        raise KeyError(f"unknown dataset '{name}'; declared datasets: {', '.join(DATASET_SOURCES)}")
    return DATASET_SOURCES[name]


def available_datasets() -> list[dict]:
    """One row per declared dataset: name, description, licence, sources in priority order, checksum status,
    config key and layout. For a ``srrepro datasets`` listing."""
    rows = []
    for s in DATASET_SOURCES.values():
        sources = [f"mirror: <{MIRROR_CONFIG_KEY}>/{m}" for m in s.mirror_names]
        if s.config_key:
            sources = [f"folder given by {s.config_key}"]
        sources += [d.url for d in s.downloads]
        rows.append({
            "name": s.name, "description": s.description, "licence": s.licence, "homepage": s.homepage,
            "images": s.images, "sources": sources, "checksum": s.checksum_status,
            "user_supplied": s.user_supplied, "config_key": s.key, "real_lr": s.real_lr, "layout": s.layout,
            "papers": list(s.papers),
        })
    return rows


def format_table(rows: list[dict] | None = None) -> str:
    """``available_datasets()`` as a plain-text table (name, images, checksum, licence, sources)."""
    rows = available_datasets() if rows is None else rows
    lines = []
    for r in rows:
        lines.append(f"{r['name']} ({r['images'] or '?'} images) — {r['description']}")
        lines.append(f"    licence:  {r['licence']}")
        lines.append(f"    checksum: {r['checksum']}")
        lines.append(f"    supply:   {r['config_key']}" + ("  (user-supplied only)" if r["user_supplied"] else ""))
        for source in r["sources"]:
            lines.append(f"    source:   {source}")
    return "\n".join(lines) + "\n"
