"""read_points: GeoPackage, Shapefile and CSV point tables (real files written with GDAL/OGR)."""
import numpy as np
import pytest

from remine.core.errors import InputError, RemineWarning
from remine.core.points import PointTable, check_projected, merge_duplicates, read_points, to_crs


def _gdf(n=5, z=False, crs="EPSG:32633"):
    import geopandas as gpd
    from shapely.geometry import Point

    pts = [Point(500000 + 10 * i, 4000000 + 5 * i, 100 + i) if z else Point(500000 + 10 * i, 4000000 + 5 * i)
           for i in range(n)]
    return gpd.GeoDataFrame({"sample_id": [f"S{i}" for i in range(n)], "Zn_ppm": [10.0, np.nan, 30, 40, 50][:n],
                             "lab": ["a"] * n}, geometry=pts, crs=crs)


def test_geopackage_and_shapefile(tmp_path):
    gpkg = str(tmp_path / "pts.gpkg")
    _gdf().to_file(gpkg, layer="samples", driver="GPKG")
    with pytest.warns(RemineWarning, match="dropped 1 of 5 points with missing/NaN 'Zn_ppm'"):
        pt = read_points(gpkg, "Zn_ppm", layer="samples")
    assert pt.coords.shape == (4, 2) and pt.n_dropped == 1
    np.testing.assert_allclose(pt.values, [10, 30, 40, 50])
    np.testing.assert_allclose(pt.coords[1], [500020, 4000010])
    assert list(pt.ids) == ["S0", "S2", "S3", "S4"]
    assert pt.crs.to_epsg() == 32633 and "geometry" not in pt.table.columns and len(pt.table) == 4
    shp = str(tmp_path / "pts.shp")
    _gdf(z=True).to_file(shp)
    with pytest.warns(RemineWarning):
        pt3 = read_points(shp, "Zn_ppm")
    assert pt3.coords.shape == (4, 3) and pt3.coords[0, 2] == 100
    assert read_points(gpkg).values is None


def test_csv_with_xy_columns(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("ID,Easting,Northing,Cu\n1,10,20,5\n2,11,21,6\n3,12,22,\n")
    with pytest.warns(RemineWarning, match="dropped 1 of 3"):
        pt = read_points(str(path), "Cu", crs="EPSG:28992")
    np.testing.assert_allclose(pt.coords, [[10, 20], [11, 21]])
    assert pt.crs.to_epsg() == 28992 and list(pt.ids) == [1, 2]
    ll = tmp_path / "ll.csv"
    ll.write_text("lon,lat,v\n5.1,52.0,1\n5.2,52.1,2\n")
    pt = read_points(str(ll), "v")
    assert pt.crs.is_geographic
    with pytest.raises(InputError, match="geographic .* reproject"):
        check_projected(pt.crs)


def test_bad_point_files(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Polygon

    with pytest.raises(InputError, match="does not exist"):
        read_points(str(tmp_path / "missing.gpkg"), "Zn_ppm")
    gpkg = str(tmp_path / "pts.gpkg")
    _gdf().to_file(gpkg, driver="GPKG")
    with pytest.raises(InputError, match=r"field 'Pb' not found; available fields: \['sample_id', 'Zn_ppm', 'lab'"):
        read_points(gpkg, "Pb")
    with pytest.raises(InputError, match="field 'lab' is not numeric"):
        read_points(gpkg, "lab")
    poly = str(tmp_path / "poly.gpkg")
    gpd.GeoDataFrame({"v": [1.0]}, geometry=[Polygon([(0, 0), (1, 0), (1, 1)])], crs="EPSG:32633").to_file(poly)
    with pytest.raises(InputError, match=r"geometries are \['Polygon'\]; expected Point"):
        read_points(poly, "v")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,v\n1,2,3\n")
    with pytest.raises(InputError, match="no x/y columns among"):
        read_points(str(bad), "v")
    allnan = tmp_path / "nan.csv"
    allnan.write_text("x,y,v\n1,2,\n3,4,\n")
    with pytest.raises(InputError, match="no valid point left"), pytest.warns(RemineWarning):
        read_points(str(allnan), "v")


def test_crs_checks_and_duplicates():
    from rasterio.crs import CRS

    check_projected(None)
    check_projected(CRS.from_epsg(32633))
    # Greenwich on the equator is 500 km west of UTM 31N's central meridian (3° E): x = 166021.44 m (PROJ)
    geo = PointTable(np.array([[0.0, 0.0, 7.0], [3.0, 0.0, 8.0]]), np.array([1.0, 2.0]), CRS.from_epsg(4326),
                     np.array(["a", "b"]), None)
    with pytest.warns(RemineWarning, match="points reprojected from EPSG:4326 to the grid CRS EPSG:32631"):
        utm = to_crs(geo, CRS.from_epsg(32631))
    np.testing.assert_allclose(utm.coords, [[166021.443, 0.0, 7.0], [500000.0, 0.0, 8.0]], atol=1e-3)
    assert utm.crs == CRS.from_epsg(32631) and geo.crs == CRS.from_epsg(4326)       # the input is kept
    assert to_crs(geo, None) is geo and to_crs(geo, CRS.from_epsg(4326)) is geo
    far = PointTable(np.array([[0.0, 91.0]]), np.array([1.0]), CRS.from_epsg(4326), np.array(["pole+1"]), None)
    with pytest.raises(InputError, match=r"samples: 1 of 1 points cannot be reprojected .*\['pole\+1'\]"):
        to_crs(far, CRS.from_epsg(32631), "samples")
    with pytest.warns(RemineWarning, match="2 duplicate points"):
        c, v, n = merge_duplicates(np.array([[0.0, 0], [1, 1], [0, 0], [0, 0]]), np.array([1.0, 5, 2, 3]))
    assert n == 2
    np.testing.assert_allclose(c, [[0, 0], [1, 1]])
    np.testing.assert_allclose(v, [2.0, 5.0])
