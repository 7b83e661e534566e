"""Regenerate the small learning test scene (see README.md): ``python tests/data/learn/make_data.py``."""
import os

import numpy as np

MINERALS = {"alunite": "Alunite GDS84 Na03", "calcite": "Calcite WS272", "goethite": "Goethite WS222",
            "kaolinite": "Kaolinite CM9"}
SIZE, PIXEL, ORIGIN, CRS = 40, 0.5, (500000.0, 7000000.0), "EPSG:32633"


HERE = os.path.dirname(os.path.abspath(__file__))


def main(out_dir=HERE):
    import geopandas as gpd
    from rasterio.crs import CRS as RioCRS
    from rasterio.transform import from_origin
    from shapely.geometry import box

    from remine.core.blocks import GridSpec
    from remine.core.data import usgs_library
    from remine.core.raster import write_raster

    names, wl, fwhm, refl = usgs_library()
    bands = np.arange(0, 224, 4)  # 56 of the 224 AVIRIS bands: small files, whole 0.38-2.5 um range
    spectra = np.array([refl[names.index(v)] for v in MINERALS.values()])[:, bands]
    rng = np.random.default_rng(5)
    # four quadrant-shaped domains, one mineral dominating each, mixed with the others near the borders
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    centres = np.array([[10, 10], [10, 30], [30, 10], [30, 30]], float)
    d2 = ((rows[None] - centres[:, 0, None, None]) ** 2 + (cols[None] - centres[:, 1, None, None]) ** 2)
    logits = -d2 / 60.0 + 0.3 * rng.standard_normal((4, SIZE, SIZE))
    ab = np.exp(logits) / np.exp(logits).sum(axis=0)
    cube = np.einsum("mb,mrc->brc", spectra, ab) + 0.003 * rng.standard_normal((len(bands), SIZE, SIZE))
    cube[:, :3, :3] = np.nan  # a nodata corner
    grid = GridSpec(SIZE, SIZE, from_origin(*ORIGIN, PIXEL, PIXEL), RioCRS.from_string(CRS))
    write_raster(os.path.join(out_dir, "cube.tif"), cube.astype(np.float32), like=grid,
                 wavelengths_nm=wl[bands], fwhm_nm=fwhm[bands])
    records = []
    for k, mineral in enumerate(MINERALS):
        r0, c0 = int(centres[k, 0]), int(centres[k, 1])
        for dr, dc in [(-7, -7), (-7, 3), (3, -7), (3, 3)]:  # four 4x4-pixel ROIs per mineral
            r, c = r0 + dr, c0 + dc
            win = (slice(r, r + 4), slice(c, c + 4))
            x0, y0 = ORIGIN[0] + c * PIXEL, ORIGIN[1] - (r + 4) * PIXEL
            records.append({"roi_id": len(records) + 1, "mineral": mineral,
                            "kaolinite_pct": round(float(ab[3][win].mean() * 100), 2),
                            "Zn_ppm": round(float(100 + 2000 * ab[2][win].mean()), 1),
                            "geometry": box(x0, y0, x0 + 4 * PIXEL, y0 + 4 * PIXEL)})
    gdf = gpd.GeoDataFrame(records, geometry="geometry", crs=CRS)
    path = os.path.join(out_dir, "rois.gpkg")
    if os.path.exists(path):
        os.remove(path)
    gdf.to_file(path, layer="rois", driver="GPKG")


if __name__ == "__main__":
    main()
