"""Scripts and models on QGIS 3.22 address parameters by key and enum options by index: a key never goes away
and an option list only grows at its end."""
import json
import os

from qgis.core import QgsProcessingParameterEnum

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "qgis")
#: every enum parameter of stop 11 (before the 0.1.0 release)
STOP11 = os.path.join(DATA, "enum_options_stop11.json")
#: every parameter of every algorithm and shipped model of release 0.1.0: ``{algorithm: {key: options or
#: null}}``, as ``current_parameters`` gives it (written with ``json.dump(..., indent=1, ensure_ascii=False)``)
RELEASE_0_1_0 = os.path.join(DATA, "parameters_0.1.0.json")

#: options reworded since stop 11 with the same meaning at the same index
REWORDED = {"unmix.ENDMEMBER_SOURCE"}


def current_parameters(provider):
    """``{algorithm name: {parameter key: list of enum options, or None for a parameter that is no enum}}``."""
    return {alg.name(): {d.name(): list(d.options()) if isinstance(d, QgsProcessingParameterEnum) else None
                         for d in alg.parameterDefinitions()}
            for alg in provider.algorithms()}


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_enum_options_keep_their_indexes(remine_processing):
    """Every enum parameter of stop 11 still exists, with its options at the same indexes; new options are
    appended (options listed in REWORDED keep their count and order of meaning)."""
    old = _load(STOP11)
    current = {f"{alg}.{key}": options for alg, params in current_parameters(remine_processing).items()
               for key, options in params.items() if options is not None}
    missing = sorted(set(old) - set(current))
    assert not missing, f"enum parameters removed: {missing}"
    moved = {k: (old[k], current[k][:len(old[k])]) for k in old
             if k not in REWORDED and current[k][:len(old[k])] != old[k]}
    assert not moved, f"enum options moved or removed (old, now): {moved}"
    shrunk = sorted(k for k in REWORDED if len(current[k]) < len(old[k]))
    assert not shrunk, f"enum options removed: {shrunk}"


def test_release_parameters_keep_their_keys_and_option_indexes(remine_processing):
    """Every algorithm and model of release 0.1.0 still exists with all its parameter keys (new keys may be
    added); a parameter that was an enum still is one, with every old option at its old index (new options
    only appended)."""
    old, current = _load(RELEASE_0_1_0), current_parameters(remine_processing)
    assert len(old) >= 31 and "tailings_tonnage_workflow" in old   # the snapshot holds algorithms and models
    missing = sorted(a for a in old if a not in current)
    assert not missing, f"algorithms or models removed: {missing}"
    gone = {a: sorted(set(old[a]) - set(current[a])) for a in old if set(old[a]) - set(current[a])}
    assert not gone, f"parameter keys removed: {gone}"
    moved = {f"{a}.{k}": (options, current[a][k]) for a in old for k, options in old[a].items()
             if options is not None and (current[a][k] or [])[:len(options)] != options}
    assert not moved, f"enum options moved, removed or no longer an enum (0.1.0, now): {moved}"
