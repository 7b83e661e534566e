# remine: make setup · demo · test · lint · bench · package · models · docs · screenshots
SHELL   := /bin/bash
PY      := $(CURDIR)/.venv/bin/python
export PROJ_DATA := /usr/share/proj
export QT_QPA_PLATFORM := offscreen
export PATH := /usr/bin:$(PATH)

.PHONY: setup demo test test-core lint bench package clean models docs screenshots

setup:
	@scripts/setup.sh

demo: setup
	scripts/demo.sh

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	.venv/bin/ruff check .

test-core: setup
	$(PY) -m pytest -q -p no:pytest_qgis tests/core

bench: setup
	@scripts/setup.sh r-cran-gstat
	.venv/bin/pip install --quiet -c constraints-debian.txt -r requirements-bench.txt
	mkdir -p bench-output
	set -e; for b in benchmarks/bench_*.py; do \
	  echo "== $$b"; $(PY) $$b --out bench-output/$$(basename $$b .py).json; done

models: setup
	$(PY) scripts/build_models.py

docs: setup
	$(PY) scripts/build_docs.py

screenshots: setup
	$(PY) scripts/screenshots.py

package:
	/usr/bin/python3 scripts/package.py remine.zip

clean:
	rm -rf build demo-output bench-output .qgis-settings remine.zip
