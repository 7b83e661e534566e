"""Scripts and models on QGIS 3.22 address enum options by index: an option list only grows at its end."""
import json
import os

from qgis.core import QgsProcessingParameterEnum

SNAPSHOT = os.path.join(os.path.dirname(__file__), "..", "data", "qgis", "enum_options_stop11.json")


#: options reworded since stop 11 with the same meaning at the same index
REWORDED = {"unmix.ENDMEMBER_SOURCE"}


def test_enum_options_keep_their_indexes(remine_processing):
    """Every enum parameter of the last landed release (stop 11) still exists, with its options at the same
    indexes; new options are appended (options listed in REWORDED keep their count and order of meaning)."""
    with open(SNAPSHOT, encoding="utf-8") as f:
        old = json.load(f)
    current = {}
    for alg in remine_processing.algorithms():
        for d in alg.parameterDefinitions():
            if isinstance(d, QgsProcessingParameterEnum):
                current[f"{alg.name()}.{d.name()}"] = list(d.options())
    missing = sorted(set(old) - set(current))
    assert not missing, f"enum parameters removed: {missing}"
    moved = {k: (old[k], current[k][:len(old[k])]) for k in old
             if k not in REWORDED and current[k][:len(old[k])] != old[k]}
    assert not moved, f"enum options moved or removed (old, now): {moved}"
    shrunk = sorted(k for k in REWORDED if len(current[k]) < len(old[k]))
    assert not shrunk, f"enum options removed: {shrunk}"
