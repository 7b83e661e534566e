"""Write docs/algorithms.md, the algorithm reference, from the algorithms' and models' help strings.

    make docs            # = .venv/bin/python scripts/build_docs.py
"""
import os
import sys

from build_models import ROOT, qgis

OUT = os.path.join(ROOT, "docs", "algorithms.md")


def main():
    app = qgis()
    from remine.processing_provider.reference import algorithm_reference

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(algorithm_reference(app.remine_provider))
    print(OUT)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
