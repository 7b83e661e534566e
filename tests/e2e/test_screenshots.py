"""scripts/screenshots.py (``make screenshots``) fails when its run in desktop QGIS fails, so a release never
ships stale README pictures from a broken run."""
import sys

from conftest import SCRIPTS


def test_screenshots_exit_non_zero_when_the_run_fails(tmp_path, monkeypatch):
    sys.path.insert(0, SCRIPTS)
    try:
        import screenshots
    finally:
        sys.path.remove(SCRIPTS)
    broken = screenshots.PROBE.replace("def run():\n", "def run():\n    raise RuntimeError('broken on purpose')\n")
    assert broken != screenshots.PROBE
    monkeypatch.setattr(screenshots, "PROBE", broken)
    assert screenshots.main(str(tmp_path / "img")) != 0
    assert not list((tmp_path / "img").iterdir())
