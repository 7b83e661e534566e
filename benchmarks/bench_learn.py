"""Learning benchmarks: remine vs scikit-learn / bare model.predict, same data, same run.

1. RBF-SVM prediction on 200 000 pixels x 224 bands: remine FastSVC.predict (BLAS over support
   vectors) vs scikit-learn SVC.predict (libsvm) on the same fitted model. SVC.predict is timed on a
   subsample (``--svc-pixels``, default 20 000) and extrapolated linearly to 200 000 pixels (its cost
   is exactly proportional to the pixel count); labels are compared on that subsample.
   Also timed with one thread on each side (``--threads 1``: BLAS and numba limited to one core),
   which compares per-core speed and is less sensitive to other jobs on a shared machine.
2. predict_raster end-to-end (GeoTIFF in, class map out, block-wise) vs bare ``model.predict`` on the
   same pixels already in memory, for ExtraTrees and XGBoost, on a band-interleaved cube (the ratio the
   issue asks for) and on a pixel-interleaved copy; each side warmed up once outside the timing
   (a 32 x 32 px crop for predict_raster, 1024 pixels for predict), then ``--repeats`` runs: the ratio of
   the best runs (the least disturbed on a shared machine) and the ratio of the medians are reported.
   Peak RSS of predict_raster is compared with max_bytes + the model's size (its serialised estimator,
   uncompressed) + 300 MB (the interpreter and libraries), the issue's bound.
3. ``--demo-scores``: ROI-grouped cross-validation scores of every registry method on the demo scene
   (classification of the dominant mineral; regression of Zn ppm), as reported in the model reports.

Each side runs in its own subprocess so that its peak RSS (VmHWM) is its own.
Spectra: linear mixtures of nine USGS library minerals (224 AVIRIS bands) + noise, seeded.

Usage: python benchmarks/bench_learn.py --out bench-output/bench_learn.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

from remine.core.blocks import DEFAULT_MAX_BYTES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

MINERALS = ["Kaolinite CM9", "Muscovite GDS107", "Chlorite HS179.3B", "Montmorillonite CM20", "Alunite GDS84 Na03",
            "Jarosite GDS99 K,Sy 200C", "Goethite WS222", "Gypsum HS333.3B", "Calcite WS272"]


def library():
    from remine.core.data import usgs_library

    names, wl, _, refl = usgs_library()
    return wl, np.array([refl[names.index(n)] for n in MINERALS])


def pixels(n, seed):
    """(n, 224) float32 mixtures and (n,) dominant-mineral labels."""
    wl, spectra = library()
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(len(spectra), 0.3), n)
    X = (w @ spectra) * rng.uniform(0.85, 1.15, (n, 1)) + 0.01 * rng.standard_normal((n, spectra.shape[1]))
    return X.astype(np.float32), np.array([f"m{k}" for k in np.argmax(w, axis=1)])


def part_svm(args):
    from sklearn.svm import SVC

    from remine.core.learn.svm import FastSVC

    Xtr, ytr = pixels(args.train, seed=1)
    cls = FastSVC if args.side == "remine" else SVC
    model = cls(C=10.0, gamma="scale", probability=False).fit(Xtr, ytr)
    n = args.pixels if args.side == "remine" else args.svc_pixels
    X, _ = pixels(args.pixels, seed=2)
    X = X[:n]
    if args.side == "remine":
        model.predict(X[:1000])  # compile/warm the numba kernel outside the timing
    with limited_threads(args.threads):
        t = time.perf_counter()
        labels = model.predict(X)
        seconds = time.perf_counter() - t
    np.save(args.labels, labels[:args.svc_pixels].astype("U8"))
    return {"seconds": seconds, "pixels": int(n), "n_support_vectors": int(model.support_vectors_.shape[0]),
            "peak_rss_mb": _common.peak_rss_mb()}


def limited_threads(n):
    """Context limiting BLAS (threadpoolctl) and numba to ``n`` threads (None: no limit)."""
    import contextlib

    if not n:
        return contextlib.nullcontext()
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(int(n))
    return threadpool_limits(limits=int(n))


def part_raster(args):
    from remine.core.learn import load_model, predict_raster

    model = load_model(args.model)
    # interpreter + numpy/sklearn/xgboost/skops (skops.io imports every sklearn module) + model
    loaded = _common.peak_rss_mb()
    if args.side == "remine":
        # warm-up outside the timing, as for the bare side: imports, compiled-kernel cache, thread pools
        from remine.core.raster import read_cube, write_raster

        crop = read_cube(args.cube, window=((0, 32), (0, 32)))
        small = write_raster(args.map + ".warmup.tif", crop.data, like=crop, wavelengths_nm=crop.wavelengths_nm)
        predict_raster(model, small, args.map + ".warmup_map.tif", probabilities=args.proba, uncertainty=args.proba)
        times = _common.timings(args.repeats, lambda: predict_raster(
            model, args.cube, args.map, probabilities=args.proba, uncertainty=args.proba, max_bytes=args.max_bytes))
    else:
        import rasterio

        with rasterio.open(args.cube) as ds:
            X = ds.read().reshape(ds.count, -1).T.copy()
        model.estimator.predict(X[:1024])  # warm-up outside the timing
        times = _common.timings(args.repeats, lambda: model.estimator.predict(X))
    with zipfile.ZipFile(args.model) as z:  # the model's size: its serialised estimator, uncompressed
        model_mb = z.getinfo("estimator.skops").file_size / 2**20
    return {"seconds": min(times), "median_seconds": float(np.median(times)), "peak_rss_mb": _common.peak_rss_mb(),
            "rss_after_imports_and_model_mb": loaded,
            "model_file_mb": os.path.getsize(args.model) / 2**20, "model_mb": model_mb}


def child(part, side, **kw):
    """Run one side in a fresh interpreter; returns its JSON result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--part", part, "--side", side]
    for k, v in kw.items():
        if v is True:
            cmd.append(f"--{k.replace('_', '-')}")
        elif v is not False and v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_cube(path, n_side, seed, interleave="band"):
    """Uncompressed, tiled float32 GeoTIFF, band-interleaved (as remine writes, less compression) or
    pixel-interleaved (GDAL's default for new multi-band GeoTIFFs)."""
    import rasterio
    from rasterio.transform import from_origin

    from remine.core.raster import write_spectral_tags

    wl, _ = library()
    X, _ = pixels(n_side * n_side, seed)
    profile = dict(driver="GTiff", width=n_side, height=n_side, count=X.shape[1], dtype="float32",
                   crs="EPSG:32630", transform=from_origin(500000, 7000000, 0.5, 0.5), tiled=True,
                   blockxsize=256, blockysize=256, interleave=interleave, nodata=None)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(X.T.reshape(X.shape[1], n_side, n_side))
        write_spectral_tags(dst, wl)
    return path


def demo_scores(tmp):
    """ROI-grouped 3-fold CV scores of every method on the demo scene (seed 0)."""
    from remine.core.demo import make_demo
    from remine.core.learn import build_training_set, method_names, spatial_cv

    scene = make_demo(os.path.join(tmp, "demo"), seed=0)
    classes = build_training_set(scene["cube"], scene["rois"], label_field="mineral")
    grades = build_training_set(scene["cube"], scene["rois"], target_fields=["Zn_ppm"])
    class_patches = build_training_set(scene["cube"], scene["rois"], label_field="mineral", patch_size=3)
    grade_patches = build_training_set(scene["cube"], scene["rois"], target_fields=["Zn_ppm"], patch_size=3)
    out = {"classification (dominant mineral, 9 classes)": {}, "regression (Zn ppm)": {}}
    for task, ts, patches, key in (("classification", classes, class_patches, "overall_accuracy"),
                                   ("regression", grades, grade_patches, "r2")):
        section = out["classification (dominant mineral, 9 classes)" if task == "classification"
                      else "regression (Zn ppm)"]
        for name in method_names(task):
            data = patches if name == "cnn2d" else ts
            t = time.perf_counter()
            cv = spatial_cv(name, data, scheme="group", n_splits=3)
            m = cv.metrics
            section[name] = {"seconds": time.perf_counter() - t, key: m[key],
                             **({"kappa": m["kappa"], "balanced_accuracy": m["balanced_accuracy"]}
                                if task == "classification" else {"rmse": m["rmse"], "bias": m["bias"]})}
            print(json.dumps({name: section[name]}), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None)
    ap.add_argument("--pixels", type=int, default=200_000)
    ap.add_argument("--svc-pixels", type=int, default=20_000)
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--raster-side", type=int, default=448, help="cube side in pixels (448^2 = 200 704 px)")
    ap.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    ap.add_argument("--part", default=None)
    ap.add_argument("--side", default=None)
    ap.add_argument("--labels", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cube", default=None)
    ap.add_argument("--map", default=None)
    ap.add_argument("--proba", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=5,
                    help="predict_raster part: runs per side; the best and the median are reported")
    ap.add_argument("--demo-scores", action="store_true", help="also cross-validate every method on the demo")
    args = ap.parse_args()
    if args.part:
        print(json.dumps({"svm": part_svm, "raster": part_raster}[args.part](args)))
        return

    from remine.core.learn import TrainingSet, fit_model, save_model

    result = {"machine": f"{os.cpu_count()} CPUs, shared with other jobs", "pixels": args.pixels, "bands": 224}
    with tempfile.TemporaryDirectory() as tmp:
        # --- 1. RBF-SVM -------------------------------------------------------------------------
        lab = {s: os.path.join(tmp, f"{s}.npy") for s in ("remine", "sklearn")}
        common = dict(pixels=args.pixels, svc_pixels=args.svc_pixels, train=args.train)
        fast = child("svm", "remine", labels=lab["remine"], **common)
        ref = child("svm", "sklearn", labels=lab["sklearn"], **common)
        same = np.array_equal(np.load(lab["remine"]), np.load(lab["sklearn"]))
        svc_full = ref["seconds"] * args.pixels / ref["pixels"]
        result["svm_predict"] = {
            "remine_FastSVC_seconds": fast["seconds"], "sklearn_SVC_seconds_measured": ref["seconds"],
            "sklearn_SVC_pixels_measured": ref["pixels"],
            "sklearn_SVC_seconds_extrapolated_to_all_pixels": svc_full,
            "speedup": svc_full / fast["seconds"], "labels_identical_on_measured_subsample": bool(same),
            "n_support_vectors": fast["n_support_vectors"], "remine_peak_rss_mb": fast["peak_rss_mb"],
            "sklearn_peak_rss_mb": ref["peak_rss_mb"],
            "note": "SVC.predict timed on the subsample and extrapolated linearly (libsvm cost is per pixel)"}
        print(json.dumps({"svm_predict": result["svm_predict"]}), flush=True)
        one = dict(common, svc_pixels=min(args.svc_pixels, 5000), threads=1)
        fast1 = child("svm", "remine", labels=lab["remine"], **dict(one, pixels=args.pixels // 4))
        ref1 = child("svm", "sklearn", labels=lab["sklearn"], **dict(one, pixels=args.pixels // 4))
        result["svm_predict_one_thread"] = {
            "pixels": fast1["pixels"], "remine_FastSVC_seconds": fast1["seconds"],
            "sklearn_SVC_seconds_extrapolated": ref1["seconds"] * fast1["pixels"] / ref1["pixels"],
            "speedup": ref1["seconds"] * fast1["pixels"] / ref1["pixels"] / fast1["seconds"],
            "labels_identical_on_measured_subsample": bool(np.array_equal(np.load(lab["remine"]),
                                                                          np.load(lab["sklearn"])))}
        print(json.dumps({"svm_predict_one_thread": result["svm_predict_one_thread"]}), flush=True)

        # --- 2. predict_raster vs bare model.predict ---------------------------------------------
        cube = write_cube(os.path.join(tmp, "cube.tif"), args.raster_side, seed=3)
        pixel_cube = write_cube(os.path.join(tmp, "cube_pixel.tif"), args.raster_side, seed=3, interleave="pixel")
        wl, _ = library()
        Xtr, ytr = pixels(args.train, seed=1)
        ts = TrainingSet(X=Xtr, y=ytr, groups=np.arange(len(ytr)) // 20, coords=np.zeros((len(ytr), 2)),
                         wavelengths_nm=wl, classes=sorted(set(ytr)))
        result["predict_raster"] = {}
        for name in ("extratrees", "xgboost"):
            model_path = save_model(os.path.join(tmp, f"{name}.rmodel"), fit_model(name, ts))
            kw = dict(model=model_path, cube=cube, map=os.path.join(tmp, f"{name}.tif"), max_bytes=args.max_bytes)
            bare = child("raster", "bare", **kw)
            rem = child("raster", "remine", **kw)
            rem_p = child("raster", "remine", proba=True, **kw)
            rem_pixel = child("raster", "remine", **dict(kw, cube=pixel_cube))
            bound = args.max_bytes / 2**20 + rem["model_mb"] + 300
            result["predict_raster"][name] = {
                "bare_predict_seconds": bare["seconds"], "predict_raster_seconds": rem["seconds"],
                "throughput_ratio": bare["seconds"] / rem["seconds"],
                "throughput_ratio_of_medians": bare["median_seconds"] / rem["median_seconds"],
                "predict_raster_with_probabilities_and_uncertainty_seconds": rem_p["seconds"],
                "pixel_interleaved_cube": {"predict_raster_seconds": rem_pixel["seconds"],
                                           "throughput_ratio": bare["seconds"] / rem_pixel["seconds"],
                                           "peak_rss_mb": rem_pixel["peak_rss_mb"]},
                "bare_peak_rss_mb": bare["peak_rss_mb"], "predict_raster_peak_rss_mb": rem["peak_rss_mb"],
                "predict_raster_with_probabilities_peak_rss_mb": rem_p["peak_rss_mb"],
                "predict_raster_rss_after_imports_and_model_mb": rem["rss_after_imports_and_model_mb"],
                "predict_raster_peak_rss_increment_mb": max(rem["peak_rss_mb"], rem_p["peak_rss_mb"])
                - rem["rss_after_imports_and_model_mb"],
                "model_file_mb": rem["model_file_mb"], "model_mb (serialised estimator, uncompressed)": rem["model_mb"],
                "rss_bound_mb (max_bytes + model + 300)": bound,
                "within_rss_bound": bool(max(rem["peak_rss_mb"], rem_p["peak_rss_mb"], rem_pixel["peak_rss_mb"])
                                         <= bound),
                "pixels": args.raster_side ** 2}
            print(json.dumps({name: result["predict_raster"][name]}), flush=True)
        if args.demo_scores:
            result["demo_scores"] = demo_scores(tmp)
    _common.write_json(args.out, result)


if __name__ == "__main__":
    main()
