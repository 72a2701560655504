"""Ma et al. NRQM: each feature group on small deterministic inputs, the forest on a hand-made model file in the
layout of sr-metric's model.mat, the metric's plumbing, and Ma against published values when the model exists."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import scipy.io
from PIL import Image

from srrepro.data.assets import fetch_asset
from srrepro.imaging.matlab import imresize, imresize_to, rgb2gray_uint8
from srrepro.errors import ConfigError, MetricUnavailable
from srrepro.metrics import get_metric
from srrepro.metrics import nrqm_features as nf
from srrepro.metrics.ma import MaMetric, make_ma

# pyiqa calibration (MATLAB sr-metric originals) on its distorted images
PUBLISHED_MA = {"I03": 1.3894, "I04": 8.9394, "I06": 8.9735, "I08": 6.829, "I19": 6.312}


def _image(shape, seed=0):
    """A smooth-plus-texture deterministic test image on 0..255 (no flat blocks)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = 128 + 60 * np.sin(xx / 7.0) * np.cos(yy / 11.0) + 20 * np.sin((xx + 2 * yy) / 3.0)
    return np.clip(base + rng.normal(0, 8, shape), 0, 255)


# --------------------------------------------------------------------------- input conversion and scale space


def test_rgb2gray_rounds_like_matlab_and_keeps_gray_levels():
    levels = np.arange(256, dtype=np.uint8)
    rgb = np.stack([levels, levels, levels], axis=-1)[None]
    assert np.array_equal(rgb2gray_uint8(rgb)[0], levels.astype(float))  # weights sum to 1
    pixel = np.array([[[200, 10, 30]]], dtype=np.uint8)
    expected = math.floor(0.298936021293775 * 200 + 0.587043074451121 * 10 + 0.114020904255103 * 30 + 0.5)
    assert rgb2gray_uint8(pixel)[0, 0] == expected
    with pytest.raises(TypeError):
        rgb2gray_uint8(rgb.astype(np.float32))


def test_gaussian_pyramid_sizes_and_sampling_positions():
    im = _image((97, 64)) / 255
    pyr = nf.gaussian_pyramid(im)
    assert [p.shape for p in pyr] == [(97, 64), (48, 32), (24, 16)]
    # fspecial('gaussian', 3) (sigma 0.5), imfilter with zero padding, then rows/cols 2, 4, ... (1-based)
    w = np.exp(-np.add.outer(np.arange(-1, 2) ** 2, np.arange(-1, 2) ** 2) / 0.5)
    w /= w.sum()
    padded = np.pad(im, 1)
    for i, j in [(0, 0), (5, 7), (47, 31), (20, 3)]:
        r, c = 2 * i + 1, 2 * j + 1
        assert pyr[1][i, j] == pytest.approx((padded[r : r + 3, c : c + 3] * w).sum(), abs=1e-12)
    const = nf.gaussian_pyramid(np.full((40, 40), 0.5))
    assert np.allclose(const[1][:-1, :-1], 0.5)  # interior: the kernel sums to one
    assert const[1][-1, -1] < 0.5  # the last sample touches the zero padding


# --------------------------------------------------------------------------- f1: block DCT


def test_blkproc_windows_pad_with_zeros_to_whole_blocks():
    im = np.arange(1, 81, dtype=float).reshape(10, 8)
    win = nf.blkproc_windows(im)
    assert win.shape == (4, 3, 7, 7)  # ceil(10/3) x ceil(8/3) blocks of 3x3 plus a 2-pixel border
    assert np.array_equal(win[1, 1, 2:5, 2:5], im[3:6, 3:6])
    assert np.all(win[0, 0, :2] == 0) and np.all(win[0, 0, :, :2] == 0)
    assert np.array_equal(win[0, 0, 2:, 2:], im[:5, :5])
    assert np.array_equal(win[3, 2, 2:3, 2:4], im[9:10, 6:8])  # the last partial block
    assert np.all(win[3, 2, 3:] == 0) and np.all(win[3, 2, :, 4:] == 0)


def test_dct_matrix_is_matlab_dct2():
    x = np.random.default_rng(1).normal(size=(7, 7))
    d = nf.dct_matrix(7)
    assert np.allclose(d @ d.T, np.eye(7))
    assert np.allclose(d @ x @ d.T, scipy.fft.dctn(x, type=2, norm="ortho"))


def test_ggd_shape_nearest_grid_point():
    rng = np.random.default_rng(2)
    rho = np.concatenate([nf.RHO_TABLE[::97], rng.uniform(1.0, 50.0, 500), [0.0, 1e9],
                          (nf.RHO_TABLE[:-1:131] + nf.RHO_TABLE[1::131]) / 2])
    brute = nf.GAMMA_GRID[np.argmin(np.abs(nf.RHO_TABLE[None, :] - rho[:, None]), axis=1)]
    assert np.array_equal(nf.ggd_shape_from_ratio(rho), brute)
    assert len(nf.GAMMA_GRID) == 9971 and nf.GAMMA_GRID[-1] == pytest.approx(10.0)
    # moment matching recovers Gaussian (2) and Laplacian (1) shapes
    assert float(nf.ggd_shape(rng.normal(size=200_000))) == pytest.approx(2.0, abs=0.05)
    assert float(nf.ggd_shape(rng.laplace(size=200_000))) == pytest.approx(1.0, abs=0.05)


def _matlab_block_dct(im):
    """block_dct.m written out block by block with MATLAB's 1-based coefficient lists."""
    h, w = im.shape
    hp, wp = -(-h // 3) * 3, -(-w // 3) * 3
    aa = np.zeros((hp + 4, wp + 4))
    aa[2 : 2 + h, 2 : 2 + w] = im
    groups = (
        [(1, c) for c in range(2, 8)] + [(2, c) for c in range(3, 8)] + [(3, c) for c in range(5, 8)]
        + [(4, c) for c in range(6, 8)],
        [(2, 2), (3, 3), (3, 4), (4, 3), (4, 4), (4, 5)] + [(5, c) for c in range(4, 8)]
        + [(6, c) for c in range(5, 8)] + [(7, c) for c in range(5, 8)],
        [(r, 1) for r in range(2, 8)] + [(r, 2) for r in range(3, 8)] + [(r, 3) for r in range(5, 8)]
        + [(r, 4) for r in range(6, 8)],
    )
    gam, cv, ori = [], [], []
    for r in range(0, hp, 3):
        for c in range(0, wp, 3):
            t = scipy.fft.dctn(aa[r : r + 7, c : c + 7], norm="ortho")
            ac = t.flatten(order="F")[1:]
            rho = np.var(ac, ddof=1) / (np.mean(np.abs(ac - ac.mean())) ** 2 + 1e-7)
            gam.append(nf.GAMMA_GRID[np.argmin(np.abs(nf.RHO_TABLE - rho))])
            cv.append(np.std(np.abs(ac), ddof=1) / (np.mean(np.abs(ac)) + 1e-7))
            g = [np.std(np.abs(v), ddof=1) / (np.mean(np.abs(v)) + 1e-8)
                 for v in ([t[i - 1, j - 1] for i, j in grp] for grp in groups)]
            ori.append(np.var(g, ddof=1))
    gam, cv, ori = np.sort(gam), np.sort(cv), np.sort(ori)
    n = len(gam)
    lo, hi = math.ceil(n * 0.1), math.floor(n * 0.9)  # MATLAB 1:ceil(0.1n) and fix(0.9n):end
    return np.array([gam[:lo].mean(), gam.mean(), cv[hi - 1 :].mean(), cv.mean(), ori[hi - 1 :].mean(), ori.mean()])


def test_block_dct_features_match_blockwise_definition():
    for shape in [(20, 17), (31, 40)]:
        im = _image(shape, seed=3) / 255
        assert np.allclose(nf.block_dct_features(im), _matlab_block_dct(im), rtol=1e-10, atol=1e-12)
    counts = [len(m.nonzero()[0]) for m in nf.ORIENTATION_MASKS]
    assert counts == [16, 16, 16]
    assert np.array_equal(nf.ORIENTATION_MASKS[0], nf.ORIENTATION_MASKS[2].T)


def test_dct_features_transpose_and_contrast_invariance():
    im = _image((60, 75), seed=4) / 255
    f = nf.dct_features(nf.gaussian_pyramid(im))
    assert f.shape == (nf.N_DCT,)
    # the oriented groups 1 and 3 are transposes of each other, and blkproc pads both axes alike
    assert np.allclose(nf.dct_features(nf.gaussian_pyramid(im.T)), f, rtol=1e-9)
    # shape, coefficient-of-variation and their spreads do not depend on the contrast (up to the eps terms)
    f2 = nf.dct_features(nf.gaussian_pyramid(0.5 * im))
    assert np.allclose(f2, f, rtol=1e-3, atol=2e-3)


# --------------------------------------------------------------------------- f3: SVD


def test_svd_features_are_singular_values_of_im2col_distinct():
    im = _image((23, 31), seed=5)
    cols = []  # im2col(im, [5 5], 'distinct'): zero padded, blocks column by column, each flattened column-major
    padded = np.zeros((25, 35))
    padded[:23, :31] = im
    for c in range(0, 35, 5):
        for r in range(0, 25, 5):
            cols.append(padded[r : r + 5, c : c + 5].flatten(order="F"))
    expected = np.linalg.svd(np.array(cols).T, compute_uv=False)
    assert np.allclose(np.linalg.svd(nf.distinct_patches(im), compute_uv=False), expected)
    pyr = nf.gaussian_pyramid(_image((100, 120), seed=6) / 255)
    f3 = nf.svd_features(pyr)
    assert f3.shape == (nf.N_SVD,)
    for k in range(3):
        part = f3[25 * k : 25 * (k + 1)]
        assert np.all(np.diff(part) <= 1e-12) and part[-1] >= 0
    assert np.allclose(nf.svd_features([p.T for p in pyr]), f3)  # a fixed permutation of each patch
    with pytest.raises(ValueError, match="too small"):
        nf.svd_features(nf.gaussian_pyramid(np.ones((60, 60))))


# --------------------------------------------------------------------------- f2: steerable pyramid and GSM


def test_point_op_interpolates_and_extrapolates_linearly():
    lut = np.array([0.0, 1.0, 4.0, 9.0])
    x = np.array([-1.0, 0.0, 0.25, 1.5, 3.0, 4.0])
    got = nf.point_op(x, lut, origin=0.0, increment=1.0)
    assert np.allclose(got, [-1.0, 0.0, 0.25, 2.5, 9.0, 14.0])


def test_imresize_to_is_matlab_bicubic():
    a = np.random.default_rng(7).normal(size=(13, 17))
    assert np.allclose(imresize_to(a, (26, 34)), imresize(a, 2.0))
    assert np.array_equal(imresize_to(a, a.shape), a)
    out = imresize_to(np.full((7, 9), 3.0), (13, 17))  # non-integer scales: weights still sum to one
    assert out.shape == (13, 17) and np.allclose(out, 3.0)


def test_steerable_pyramid_shapes_and_tight_frame():
    x = np.random.default_rng(8).normal(size=(64, 80))
    pyr = nf.steerable_pyramid(x)
    assert pyr.highpass.shape == (64, 80)
    assert [b.shape for b in pyr.bands[0]] == [(64, 80)] * 6
    assert [b.shape for b in pyr.bands[1]] == [(32, 40)] * 6
    assert pyr.lowpass.shape == (16, 20)
    # squared radial and angular masks tile the spectrum: energy is preserved (Parseval, per-level sampling)
    energy = ((pyr.highpass**2).sum() + sum((b**2).sum() for b in pyr.bands[0])
              + sum((b**2).sum() for b in pyr.bands[1]) / 4 + (pyr.lowpass**2).sum() / 16)
    assert energy == pytest.approx((x**2).sum(), rel=1e-4)
    odd = nf.steerable_pyramid(np.random.default_rng(9).normal(size=(65, 77)))
    assert [b.shape for b in odd.bands[1]] == [(33, 39)] * 6 and odd.lowpass.shape == (17, 20)


def test_orientation_bands_select_orientation():
    _yy, xx = np.mgrid[:64, :64]
    stripes = np.cos(2 * np.pi * xx / 6.0)  # frequency along x only: angle 0, the first orientation
    energy = [float((b**2).sum()) for b in nf.steerable_pyramid(stripes).bands[0]]
    assert int(np.argmax(energy)) == 0
    assert energy[3] < 1e-10 * energy[0]  # cos^5 of 90 degrees


def test_gsm_neighbourhoods_follow_matlab_parent_rule():
    pyr = nf.steerable_pyramid(_image((64, 72), seed=10))
    for scale, orient, cols, n in [(0, 0, 15, 10), (0, 4, 15, 10), (0, 5, 14, 9), (1, 0, 14, 9), (1, 5, 14, 9)]:
        y, size, centre = nf.neighbourhood(pyr.bands, scale, orient)
        assert y.shape[1] == cols and size == n
        assert np.array_equal(y[:, 4], centre.ravel())  # the centre of the 3x3 neighbourhood


def test_normalized_subbands_shapes_and_scale_equivariance():
    img = _image((64, 72), seed=11)
    pyr = nf.steerable_pyramid(img)
    subs = nf.normalized_subbands(pyr.bands)
    assert [s.shape for s in subs] == [(64 - 2 - 32, 72 - 2 - 32)] * 6 + [(32 - 2 - 16, 36 - 2 - 16)] * 6
    assert all(abs(s.mean()) < 1e-12 for s in subs)
    # the GSM normaliser z is scale invariant, so normalised bands scale with the image
    subs3 = nf.normalized_subbands(nf.steerable_pyramid(3 * img).bands)
    for a, b in zip(subs, subs3):
        assert np.allclose(b, 3 * a, rtol=1e-6, atol=1e-9)


def test_ssim_cs_against_direct_window_sums():
    rng = np.random.default_rng(12)
    a, b = rng.normal(50, 20, (15, 14)), rng.normal(50, 20, (15, 14))
    w = np.exp(-np.add.outer(np.arange(-5, 6) ** 2, np.arange(-5, 6) ** 2) / (2 * 1.5**2))
    w /= w.sum()
    c2 = (0.03 * 255) ** 2
    vals = []
    for i in range(15 - 10):
        for j in range(14 - 10):
            pa, pb = a[i : i + 11, j : j + 11], b[i : i + 11, j : j + 11]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * pa * pa).sum() - ma**2, (w * pb * pb).sum() - mb**2
            cov = (w * pa * pb).sum() - ma * mb
            vals.append((2 * cov + c2) / (va + vb + c2))
    assert nf.ssim_cs(a, b) == pytest.approx(np.mean(vals), rel=1e-10)
    assert nf.ssim_cs(a, a) == pytest.approx(1.0)
    assert nf.ssim_cs(a, b + 17.0) == pytest.approx(nf.ssim_cs(a, b), rel=1e-9)  # means do not enter cs


def test_gsm_features_count_and_contrast_invariant_shapes():
    img = _image((64, 72), seed=13)
    f = nf.gsm_features(img)
    assert f.shape == (nf.N_GSM,)
    assert np.all(f[18:] <= 1.0 + 1e-12)  # contrast-structure terms
    assert np.all((f[:18] >= 0.03) & (f[:18] <= 10.0))  # GGD shapes on the grid
    assert np.allclose(nf.gsm_features(2 * img)[:18], f[:18], atol=2.5e-3)


def test_nrqm_features_reject_tiny_images():
    with pytest.raises(ValueError, match="at least"):
        nf.nrqm_features(np.zeros((40, 100)))


def test_size_check_agrees_with_the_svd_features_and_makes_ma_unavailable():
    """size_problem says in advance what svd_features would find; Ma of a too-small image is n/a with that reason
    (a 48x64 SR image used to stop a whole evaluation job with a ValueError)."""
    for shape in [(48, 64), (48, 200), (80, 80), (84, 84), (84, 48), (100, 60), (120, 100)]:
        try:
            nf.svd_features(nf.gaussian_pyramid(np.ones(shape)))
            fits = True
        except ValueError:
            fits = False
        assert (nf.size_problem(shape) == "") == fits, shape
    with pytest.raises(MetricUnavailable, match="too small") as err:
        MaMetric(None)(np.zeros((48, 64, 3), np.uint8))
    assert err.value.metric == "ma"


# --------------------------------------------------------------------------- the regression model


def _forest(left, right, status, upper, avnode, mbest, coef=(0.0, 0.0)):
    arrays = [np.asarray(a, dtype=float if name in ("upper", "avnode") else np.int32).T
              for name, a in zip(("lDau", "rDau", "nodestatus", "upper", "avnode", "mbest"),
                                 (left, right, status, upper, avnode, mbest))]
    nrnodes, ntree = arrays[0].shape
    struct = dict(zip(("lDau", "rDau", "nodestatus", "upper", "avnode", "mbest"), arrays))
    struct.update(nrnodes=np.int32(nrnodes), ndtree=np.full((ntree, 1), nrnodes, np.int32), ntree=np.int32(ntree),
                  mse=np.zeros((ntree, 1)), coef=np.asarray(coef, float).reshape(2, 1))
    return struct


def _constant_forest(value):
    return _forest([[0]], [[0]], [[-1]], [[0.0]], [[value]], [[0]])


def _save_model(path, forests, linear):
    rf = np.empty((1, 3), dtype=object)
    for i, f in enumerate(forests):
        rf[0, i] = f
    scipy.io.savemat(path, {"model": {"rf": rf, "linear": np.asarray(linear, float).reshape(4, 1)}})
    return path


# two trees, one per row (MATLAB keeps one column per tree): tree 1 splits on x2 <= 0.5, then x1 <= -1
_TREE_FOREST = {
    "left": [[2, 0, 4, 0, 0], [0, 0, 0, 0, 0]], "right": [[3, 0, 5, 0, 0], [0, 0, 0, 0, 0]],
    "status": [[-3, -1, -3, -1, -1], [-1, 0, 0, 0, 0]], "upper": [[0.5, 0, -1.0, 0, 0], [0, 0, 0, 0, 0]],
    "avnode": [[2.0, 1.0, 2.5, 2.0, 3.0], [10.0, 0, 0, 0, 0]], "mbest": [[2, 0, 1, 0, 0], [0, 0, 0, 0, 0]],
}


def test_forest_evaluation_on_hand_made_model(tmp_path):
    path = _save_model(tmp_path / "m.mat", [_forest(**_TREE_FOREST), _constant_forest(4.0),
                                            _forest(**_TREE_FOREST, coef=(1.0, 2.0))], [0.5, 1.0, -1.0, 0.25])
    model = nf.load_nrqm_model(path)
    forest = model.forests[0]
    assert forest.left.shape == (5, 2) and forest.n_trees == 2 and forest.max_feature() == 2
    x = np.array([[0.0, 0.2], [-2.0, 0.7], [0.0, 0.7], [5.0, 0.5], [-1.0, 9.0]])
    assert np.allclose(forest.predict(x), [5.5, 6.0, 6.5, 5.5, 6.0])  # (tree 1 + 10) / 2; '<=' goes left
    assert forest.predict(x[1]) == pytest.approx(6.0)
    assert model.forests[2].predict(x[2]) == pytest.approx(1.0 + 2.0 * 6.5)  # regRF_predict's bias correction
    assert model.forests[1].predict(np.zeros(45)) == pytest.approx(4.0)
    assert model.predict(np.array([0.0, 0.2]), np.zeros(45), np.array([0.0, 0.7])) == pytest.approx(
        0.5 + 1.0 * 5.5 - 1.0 * 4.0 + 0.25 * 14.0)


def test_model_loader_rejects_wrong_layouts(tmp_path):
    with pytest.raises(ValueError, match="4 coefficients"):
        nf.load_nrqm_model(_save_bad_linear(tmp_path / "b.mat"))
    bad = _forest(**{**_TREE_FOREST, "mbest": [[19, 0, 1, 0, 0], [0, 0, 0, 0, 0]]})
    with pytest.raises(ValueError, match="DCT forest splits on feature 19"):
        nf.load_nrqm_model(_save_model(tmp_path / "c.mat", [bad, _constant_forest(1.0), _constant_forest(1.0)],
                                       [0, 1, 1, 1]))
    scipy.io.savemat(tmp_path / "d.mat", {"other": np.zeros(3)})
    with pytest.raises(KeyError):
        nf.load_nrqm_model(tmp_path / "d.mat")


def _save_bad_linear(path):
    rf = np.empty((1, 3), dtype=object)
    for i in range(3):
        rf[0, i] = _constant_forest(1.0)
    scipy.io.savemat(path, {"model": {"rf": rf, "linear": np.ones((3, 1))}})
    return path


# --------------------------------------------------------------------------- the metric


def test_ma_uses_each_feature_group_with_matlab_indices(tmp_path):
    """Forests that split on one chosen feature of each group, just around its value for a test image."""
    rgb = np.clip(np.stack([_image((96, 104), seed=s) for s in (20, 21, 22)], axis=-1), 0, 255).astype(np.uint8)
    f1, f2, f3 = nf.nrqm_features(rgb2gray_uint8(rgb))

    def split_on(index, value, delta):  # 1-based index; left leaf 1.0, right leaf 3.0
        return _forest([[2, 0, 0]], [[3, 0, 0]], [[-3, -1, -1]], [[value + delta, 0, 0]], [[0, 1.0, 3.0]],
                       [[index, 0, 0]])

    picks = [(7, f1[6]), (40, f2[39]), (27, f3[26])]  # first DCT feature of scale 2, a cs term, 2nd SVD of scale 2
    for signs, expected in [((1, 1, 1), 1 + 10 + 100), ((-1, 1, -1), 3 + 10 + 300)]:
        forests = [split_on(i, v, s * 1e-9 * max(1.0, abs(v))) for (i, v), s in zip(picks, signs)]
        path = _save_model(tmp_path / f"model{signs}.mat", forests, [0.0, 1.0, 10.0, 100.0])
        ma = make_ma({"cache_dir": tmp_path / f"cache{signs}", "local_paths": {"nrqm-model": str(path)}})
        assert ma.name == "ma" and not ma.lower_is_better
        assert ma(rgb, None) == pytest.approx(expected)
    # PIRM's variant: Y channel with a shave; same model, different input
    pirm = ma.pirm(4)
    assert pirm.gray(rgb).shape == (88, 96)


def test_ma_unavailable_without_or_with_unreadable_model(tmp_path):
    with pytest.raises(MetricUnavailable) as err:  # no model anywhere: Ma is n/a, saying why
        make_ma({"cache_dir": tmp_path / "empty"})
    assert err.value.metric == "ma" and "nrqm-model" in err.value.reason
    with pytest.raises(ConfigError, match="missing.mat"):  # a local file that is not there: an error naming it
        make_ma({"cache_dir": tmp_path / "empty", "local_paths": {"nrqm-model": str(tmp_path / "missing.mat")}})
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file")
    with pytest.raises(MetricUnavailable) as err:
        make_ma({"cache_dir": tmp_path / "c2", "local_paths": {"nrqm-model": str(junk)}})
    assert "not usable" in err.value.reason
    with pytest.raises(ValueError):
        MaMetric(None, channel="rgb")


def test_ma_against_published_values(nrqm_model, asset_cache):
    ma = get_metric("ma", {"cache_dir": asset_cache})  # the model file is there: any MetricUnavailable is a failure
    calibra = fetch_asset("pyiqa-calibra", asset_cache)
    for name, published in PUBLISHED_MA.items():
        with Image.open(calibra / "dist_dir" / f"{name}.bmp") as img:
            rgb = np.asarray(img.convert("RGB"))
        assert abs(ma(rgb, None) - published) < 0.05, name


def test_pi_combines_pirm_ma_and_niqe(tmp_path, asset_cache):
    niqe_file = fetch_asset("niqe-pristine", asset_cache)  # from PyPI (basicsr sdist): obtainable everywhere
    model = _save_model(tmp_path / "const.mat", [_constant_forest(1.0), _constant_forest(2.0), _constant_forest(3.0)],
                        [0.5, 1.0, 1.0, 1.0])  # Ma = 6.5 whatever the image
    local = {"nrqm-model": str(model), "niqe-pristine": str(niqe_file)}
    pi = get_metric("pi", {"cache_dir": tmp_path / "cache", "local_paths": local}, shave=4)
    assert pi.ma.channel == "y" and pi.ma.shave == 4 and pi.niqe.shave == 4
    rgb = np.clip(np.stack([_image((200, 210), seed=s) for s in (30, 31, 32)], axis=-1), 0, 255).astype(np.uint8)
    niqe = get_metric("niqe", {"cache_dir": tmp_path / "cache", "local_paths": local}, shave=4)(rgb, None)
    assert pi(rgb, None) == pytest.approx(((10 - 6.5) + niqe) / 2)
