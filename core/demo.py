"""A deterministic synthetic tailings facility for demos, tests and benchmarks.

Built from real spectra (the shipped USGS 1995 subset, :func:`remine.core.data.usgs_library`):
linear mixtures of nine minerals with spatially correlated abundances that sum to one, a smooth
illumination factor and Gaussian noise; element grades (Zn, Cu, S, Ca ppm) tied to the mineralogy
(S and Ca stoichiometric, Zn and Cu as trace elements hosted by oxides/sulphates/chlorite); sample
points and ROIs with synthetic lab values; tailings top and base surfaces.

Same ``seed`` → same rasters, bit for bit, and the same vector records. Grid: EPSG:32630 (UTM 30N), 0.5 m
pixels, origin (500000, 5560000).
"""
import os

import numpy as np

from .blocks import GridSpec
from .data import usgs_library
from .raster import atomic_path, write_raster
from .raster.style import class_table, write_data_style, write_share_style
from .volume.demo3d import write_volume_demo

#: Minerals of the demo scene and the USGS spectrum used for each.
MINERALS = {
    "kaolinite": "Kaolinite CM9",
    "muscovite": "Muscovite GDS107",
    "chlorite": "Chlorite SMR-13.a",
    "montmorillonite": "Montmorillonite SWy-1",
    "alunite": "Alunite GDS84 Na03",
    "jarosite": "Jarosite GDS99 K,Sy 200C",
    "goethite": "Goethite WS222",
    "gypsum": "Gypsum HS333.3B",
    "calcite": "Calcite WS272",
}
ELEMENTS = ("Zn_ppm", "Cu_ppm", "S_ppm", "Ca_ppm")
CRS = "EPSG:32630"
ORIGIN = (500000.0, 5560000.0)
NODATA_CLASS = 255  # in the scene's internal arg-max class array only
#: class codes of truth_class.tif: 1…9 = these names, 0 = no data; the codes a classifier trained on the demo
#: ROIs gives its classes (labels sorted), so the truth and a predicted map share codes, names and colours
CLASSES = sorted(MINERALS)


def smooth_field(rng, shape, scale_px):
    """Gaussian random field ``(rows, cols)``, zero mean, unit std, correlation length ≈ ``scale_px``."""
    noise = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    spectrum = np.exp(-2 * (np.pi * scale_px) ** 2 * (kx ** 2 + ky ** 2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * spectrum, s=shape)
    return (field - field.mean()) / field.std()


def mineral_spectra():
    """``(names (m,), wavelengths_nm (224,), fwhm_nm (224,), spectra (m, 224))`` of the demo minerals."""
    names, wl, fwhm, refl = usgs_library()
    rows = []
    for mineral, sample in MINERALS.items():
        idx = [i for i, n in enumerate(names) if n.startswith(sample)]
        if not idx:
            raise KeyError(f"USGS spectrum '{sample}' for {mineral} missing from the shipped subset")
        rows.append(refl[idx[0]])
    return list(MINERALS), wl, fwhm, np.array(rows, dtype=np.float64)


def abundances(rng, size):
    """Abundances ``(m, size, size)``: softmax of correlated fields with zoning; sum to 1 per pixel."""
    m = len(MINERALS)
    yy, xx = np.mgrid[0:size, 0:size] / size
    # deposition zoning: oxidised sulphates/oxides to the north-east, carbonates to the south-west, clays centre
    trends = np.array([
        1.0 - 2 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2),   # kaolinite: centre
        0.6 * yy, 0.8 * (1 - xx) * yy,                  # muscovite, chlorite
        0.8 * (1 - yy) * (1 - xx), 0.9 * xx * (1 - yy),  # montmorillonite, alunite
        1.4 * xx * (1 - yy), 1.1 * xx,                  # jarosite, goethite
        0.7 * (1 - xx) * (1 - yy), 1.3 * (1 - xx) * yy,  # gypsum, calcite
    ])
    logits = np.stack([1.6 * smooth_field(rng, (size, size), size / 12) for _ in range(m)]) + 3.0 * trends
    logits -= logits.max(axis=0, keepdims=True)
    expo = np.exp(logits / 0.9)
    return expo / expo.sum(axis=0, keepdims=True)


def grades(rng, ab):
    """Element grades ``(4, rows, cols)`` in ppm (Zn, Cu, S, Ca) tied to the abundances ``ab``."""
    k = {name: ab[i] for i, name in enumerate(MINERALS)}
    shape = ab.shape[1:]
    zn = (80 + 3000 * k["jarosite"] + 1500 * k["goethite"] + 300 * k["chlorite"]) * \
        np.exp(0.35 * smooth_field(rng, shape, shape[0] / 15))
    cu = (40 + 1200 * k["chlorite"] + 600 * k["goethite"] + 200 * k["muscovite"]) * \
        np.exp(0.35 * smooth_field(rng, shape, shape[0] / 15))
    # sulphur and calcium from stoichiometry: gypsum 18.6 % S / 23.3 % Ca, jarosite 12.8 % S,
    # alunite 15.5 % S, calcite 40.0 % Ca (mass fractions) — assuming 10 % of the solid is these phases
    s = 500 + 0.1 * (186000 * k["gypsum"] + 128000 * k["jarosite"] + 155000 * k["alunite"])
    ca = 300 + 0.1 * (400000 * k["calcite"] + 233000 * k["gypsum"])
    return np.stack([zn, cu, s, ca])


def surfaces(rng, size, pixel):
    """Tailings base and top elevations ``(size, size)`` in metres (top ≥ base + 0.5 m)."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) * pixel
    extent = size * pixel
    base = 100.0 + 0.02 * xx - 0.01 * yy + 0.4 * smooth_field(rng, (size, size), size / 6)
    r2 = ((xx - extent / 2) / (0.6 * extent)) ** 2 + ((yy - extent / 2) / (0.6 * extent)) ** 2
    thickness = np.clip(12.0 * (1 - r2), 0.5, None) + 0.3 * smooth_field(rng, (size, size), size / 8)
    return base, base + np.clip(thickness, 0.5, None)


def make_demo(out_dir, seed=0, size=300, pixel_size=0.5, n_samples=250, noise_sigma=0.004):
    """Write the demo tailings scene into ``out_dir`` (created if missing).

    Parameters
    ----------
    out_dir : str
    seed : int
        Same seed → identical files.
    size : int
        Cube width and height in pixels (default 300).
    pixel_size : float
        Metres (default 0.5).
    n_samples : int
        Sample points (150–400 recommended).
    noise_sigma : float
        Std of additive reflectance noise.

    Returns
    -------
    dict of paths: cube, truth_abundance, truth_class, truth_grades, rois, samples, surface_top,
    surface_base, and for the 3D scene (:mod:`remine.core.volume.demo3d`, its own random generator) holes
    (auger samples with depths and layered Zn/Cu grades) and truth_voxels (true Zn per voxel).
    """
    import geopandas as gpd
    from rasterio.crs import CRS as RioCRS
    from rasterio.transform import from_origin

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)  # one stream, drawn in a fixed order: same seed, same scene
    names, wl, fwhm, spectra = mineral_spectra()
    grid = GridSpec(size, size, from_origin(ORIGIN[0], ORIGIN[1], pixel_size, pixel_size), RioCRS.from_string(CRS))
    scene = _scene(rng, spectra, size, pixel_size, noise_sigma)
    p = _write_rasters(out_dir, grid, scene, names, wl, fwhm)
    p["samples"] = _write_gpkg(gpd.GeoDataFrame(_samples(rng, scene, pixel_size, n_samples), crs=CRS),
                               os.path.join(out_dir, "samples.gpkg"), "samples")
    p["rois"] = _write_gpkg(gpd.GeoDataFrame(_rois(rng, scene, names, pixel_size), geometry="geometry", crs=CRS),
                            os.path.join(out_dir, "rois.gpkg"), "rois")
    p.update(write_volume_demo(out_dir, seed, scene["top"], scene["base"], grid.transform, CRS, scene["outside"]))
    return p


def _scene(rng, spectra, size, pixel_size, noise_sigma):
    """The scene's arrays: ``cube`` (bands, size, size) with NaN outside the footprint, true abundances ``ab``
    (m, size, size) and their NaN-masked copy ``ab_out``, dominant class ``cls``, grades ``gr`` (4, size, size)
    in ppm, ``base``/``top`` surfaces (m) and the ``outside`` mask (size, size)."""
    ab = abundances(rng, size)
    illum = 1.0 + 0.06 * smooth_field(rng, (size, size), size / 10)
    bands = spectra.shape[1]
    cube = np.einsum("mb,mrc->brc", spectra, ab) * illum + noise_sigma * rng.standard_normal((bands, size, size))
    rows, cols = np.mgrid[0:size, 0:size]
    outside = rows + cols < size // 15          # a corner outside the facility footprint: nodata
    cube[:, outside] = np.nan
    ab_out = ab.copy()
    ab_out[:, outside] = np.nan
    cls = np.argmax(ab, axis=0).astype(np.uint8)
    cls[outside] = NODATA_CLASS
    gr = grades(rng, ab)
    gr[:, outside] = np.nan
    base, top = surfaces(rng, size, pixel_size)
    return dict(cube=cube, ab=ab, ab_out=ab_out, cls=cls, gr=gr, base=base, top=top, outside=outside)


def truth_codes(cls):
    """The scene's class array ``cls`` (rows, cols; index into :data:`MINERALS`, NODATA_CLASS outside) coded
    as truth_class.tif: the mineral's position in :data:`CLASSES` plus one, 0 outside (uint8)."""
    lookup = np.zeros(256, np.uint8)
    lookup[:len(MINERALS)] = [CLASSES.index(n) + 1 for n in MINERALS]
    return lookup[cls]


def _write_rasters(out_dir, grid, scene, names, wl, fwhm):
    """The scene's GeoTIFFs; returns ``{name: path}``."""
    p = {k: os.path.join(out_dir, f"{k}.tif") for k in
         ("cube", "truth_abundance", "truth_class", "truth_grades", "surface_top", "surface_base")}
    write_raster(p["cube"], scene["cube"].astype(np.float32), like=grid, wavelengths_nm=wl, fwhm_nm=fwhm)
    write_raster(p["truth_abundance"], scene["ab_out"].astype(np.float32), like=grid, band_names=names)
    colormap, category_names = class_table(CLASSES)
    write_raster(p["truth_class"], truth_codes(scene["cls"]), like=grid, nodata=0,
                 band_names=["dominant mineral"], colormap=colormap, category_names=category_names)
    write_raster(p["truth_grades"], scene["gr"].astype(np.float32), like=grid, band_names=list(ELEMENTS))
    write_raster(p["surface_top"], scene["top"].astype(np.float32), like=grid, band_names=["tailings top (m)"])
    write_raster(p["surface_base"], scene["base"].astype(np.float32), like=grid, band_names=["tailings base (m)"])
    # the mineral of largest mean fraction shown (kaolinite at seed 0)
    write_share_style(p["truth_abundance"], names, "fraction", means=np.nanmean(scene["ab_out"], axis=(1, 2)))
    for key in ("truth_grades", "surface_top", "surface_base"):
        write_data_style(p[key])
    return p


def _samples(rng, scene, pixel_size, n_samples):
    """Sample points: grades at random valid pixels with a multiplicative nugget error (lab + sampling);
    a dict of columns with ``geometry``."""
    from shapely.geometry import Point

    size = scene["cls"].shape[0]
    valid = np.flatnonzero(~scene["outside"].ravel())
    pick = rng.choice(valid, size=n_samples, replace=False)
    r, c = np.unravel_index(pick, (size, size))
    jitter = rng.uniform(-0.5, 0.5, (2, n_samples)) * pixel_size
    x = ORIGIN[0] + (c + 0.5) * pixel_size + jitter[0]
    y = ORIGIN[1] - (r + 0.5) * pixel_size + jitter[1]
    nugget = np.exp(0.15 * rng.standard_normal((4, n_samples)))
    samples = {"sample_id": [f"S{i + 1:03d}" for i in range(n_samples)], "x": x, "y": y,
               "depth_m": np.round(rng.uniform(0.1, 3.0, n_samples), 2)}
    for e, el in enumerate(ELEMENTS):
        samples[el] = np.round(scene["gr"][e, r, c] * nugget[e], 1)
    samples["geometry"] = [Point(a, b) for a, b in zip(x, y)]
    return samples


def _rois(rng, scene, names, pixel_size):
    """ROI records: up to three square polygons where each mineral dominates, with synthetic XRD % and
    XRF ppm."""
    from shapely.geometry import box

    ab, cls, gr = scene["ab"], scene["cls"], scene["gr"]
    size = cls.shape[0]
    records, taken = [], np.zeros((size, size), bool)
    margin = 8
    for k, mineral in enumerate(names):
        score = np.where((cls == k) & ~taken, ab[k], -1.0)
        score[:margin], score[-margin:], score[:, :margin], score[:, -margin:] = -1, -1, -1, -1
        order = np.argsort(score.ravel())[::-1]
        chosen = 0
        for flat in order[: 400]:
            if score.ravel()[flat] <= 0 or chosen == 3:
                break
            rr, cc = np.unravel_index(flat, (size, size))
            half = int(rng.integers(2, 5))
            win = (slice(rr - half, rr + half), slice(cc - half, cc + half))
            if taken[rr - half - 2:rr + half + 2, cc - half - 2:cc + half + 2].any():
                continue
            taken[win] = True
            chosen += 1
            xrd = np.clip(ab[:, win[0], win[1]].mean(axis=(1, 2)) * 100 + rng.normal(0, 1.5, len(names)), 0, None)
            xrd = 100 * xrd / xrd.sum()
            rec = {"roi_id": len(records) + 1, "mineral": mineral}
            rec.update({f"xrd_{n}": round(float(v), 2) for n, v in zip(names, xrd)})
            rec.update({el: round(float(gr[e][win].mean() * np.exp(0.1 * rng.standard_normal())), 1)
                        for e, el in enumerate(ELEMENTS)})
            x0 = ORIGIN[0] + (cc - half) * pixel_size
            y0 = ORIGIN[1] - (rr + half) * pixel_size
            rec["geometry"] = box(x0, y0, x0 + 2 * half * pixel_size, y0 + 2 * half * pixel_size)
            records.append(rec)
    return records


def _write_gpkg(gdf, path, layer):
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG")
    return path
