"""The run report as a browser shows it: headless Chromium renders it offline, with no console message
and no request leaving the file (checked in Chromium's own network log)."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from remine.core.report.run_report import build_report

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--enable-logging=stderr", "--v=0", "--window-size=1300,2400"]
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (make setup installs it)")


def render(page, tmp_path):
    """Screenshot (RGB array), console lines and the URLs the page itself requested."""
    shot, netlog = tmp_path / f"{page.stem}.png", tmp_path / f"{page.stem}.netlog.json"
    run = subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={shot}", f"--log-net-log={netlog}", page.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert shot.exists(), run.stderr[-2000:]
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("RGB"))
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    events = json.loads(netlog.read_text())["events"]
    # requests made for the page carry its origin (file://) in their isolation key; Chromium's own
    # background requests (updates, time) carry none
    requested = {e["params"]["url"] for e in events
                 if "url" in e.get("params", {}) and "file://" in str(e["params"].get("network_isolation_key", ""))}
    return image, console, requested


def test_report_renders_offline_without_errors(passport_run, tmp_path):
    run, _, _ = passport_run
    page = tmp_path / "report.html"
    build_report(str(run), str(page))
    image, console, requested = render(page, tmp_path)
    ink = (image < 200).any(axis=2)                        # not white or near-white
    assert image.shape[0] >= 2000 and ink.mean() > 0.03, ink.mean()
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200   # figures, not only text
    assert console == []
    assert requested == set()


def test_the_checks_catch_a_page_that_fetches_and_logs(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<html><body><p>x</p><img src="https://example.invalid/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    _, console, requested = render(page, tmp_path)
    assert any('"boom"' in line for line in console)
    assert requested == {"https://example.invalid/x.png"}
