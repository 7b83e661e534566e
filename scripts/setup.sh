#!/usr/bin/env bash
# Install what is missing for remine on Debian bookworm, idempotently:
#   1. Debian packages (QGIS 3.22, GDAL/rasterio stack)   -- needs root, or prints the apt command
#   2. .venv on Debian's /usr/bin/python3 with the pinned Python packages
#   3. build/qgis-plugins/remine -> checkout, and a .pth so that `import remine` works anywhere
# Usage: scripts/setup.sh [extra apt packages...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

APT_PKGS="qgis python3-qgis qgis-providers python3-venv python3-pip python3-scipy python3-pandas python3-rasterio
python3-geopandas python3-shapely python3-fiona python3-pyproj python3-h5py
xvfb xauth libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 chromium $*"

missing=()
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    sh -c "$cmd"
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root:  sudo sh -c '$cmd'" >&2
    exit 1
  fi
fi

VENV=$ROOT/.venv
STAMP=$VENV/.remine-requirements
want=$(cat constraints-debian.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating/updating $VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -c constraints-debian.txt -r requirements-dev.txt
  echo "$want" > "$STAMP"
fi

PLUGDIR=$ROOT/build/qgis-plugins
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$PLUGDIR"
ln -sfn ../.. "$PLUGDIR/remine"
echo "$PLUGDIR" > "$SITE/remine-checkout.pth"
