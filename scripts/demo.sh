#!/usr/bin/env bash
# The remine demo chain, headless through qgis_process, on the bundled synthetic tailings scene: the shipped
# workflows (models/*.model3) from the cube to the mineral map, the abundances, the grade map (and the hybrid
# model against kriging), the tonnes
# above cut-off with their P10–P90 (3D kriging and simulations of the auger-hole samples), then one
# HTML report and a STAC catalogue of the run. Every product lands in demo-output/ with its
# <output>.passport.json; each step's qgis_process --json answer goes to demo-output/log/<step>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/demo-output
QP=scripts/qgis-process
rm -rf "$OUT" && mkdir -p "$OUT/log"
S=$OUT/scene
SECONDS=0

step() {  # step NAME ALGORITHM ARGS...
  local name=$1 alg=$2; shift 2
  printf '%-14s %-32s %4ss\n' "$name" "$alg" "$SECONDS"
  if ! "$QP" --json run "$alg" -- "$@" > "$OUT/log/$name.json" 2> "$OUT/log/$name.err"; then
    echo "demo: step $name ($alg) failed:" >&2; tail -20 "$OUT/log/$name.err" >&2; exit 1
  fi
}

step scene       remine:createdemodata OUTPUT="$S" SEED=0
step mineral_map remine:mineral_map_workflow cube="$S/cube.tif" rois="$S/rois.gpkg" label_field=mineral \
  roi_id_field=roi_id folds=3 classifier:model="$OUT/minerals.rmodel" \
  classifier:classifier_report="$OUT/classifier_report.html" predict:class_map="$OUT/mineral_map.tif" \
  predict:probabilities="$OUT/mineral_probabilities.tif" predict:uncertainty="$OUT/mineral_uncertainty.tif" \
  report:run_report="$OUT/log/mineral_map_report.html"
step abundances  remine:abundance_workflow cube="$S/cube.tif" unmix:abundances="$OUT/abundances.tif" \
  report:run_report="$OUT/log/abundances_report.html"
step grade_map   remine:grade_map_workflow samples="$S/samples.gpkg" field=Zn_ppm template="$S/truth_grades.tif" \
  variogram:variogram_report="$OUT/zn_variogram.html" kriging:grade="$OUT/zn_kriged.tif" \
  kriging:variance="$OUT/zn_kriging_variance.tif" kriging:cv_report="$OUT/zn_kriging_cv.html" \
  spatial_cv:spatial_cv_report="$OUT/zn_spatial_cv.html" report:run_report="$OUT/log/grade_map_report.html"
step hybrid      remine:grade_map_hybrid_workflow samples="$S/samples.gpkg" field=Zn_ppm \
  template="$S/truth_grades.tif" ensemble=3 epochs=100 folds=3 kriging:grade="$OUT/hybrid_ok_zn.tif" \
  kriging:variance="$OUT/hybrid_ok_zn_variance.tif" hybrid:hybrid_grade="$OUT/hybrid_zn.tif" \
  hybrid:hybrid_std="$OUT/hybrid_zn_std.tif" hybrid:comparison_report="$OUT/hybrid_vs_kriging.html" \
  report:run_report="$OUT/log/hybrid_report.html"
step tonnage     remine:tailings_tonnage_workflow top="$S/surface_top.tif" base="$S/surface_base.tif" \
  samples="$S/holes.gpkg" grade_field=Zn_ppm depth_field=depth_m voxel_size=5 realisations=20 cutoffs=400,700,1000 \
  volume:output_folder="$OUT/volume" report:run_report="$OUT/log/tonnage_report.html"
step report      remine:report INPUT="$OUT" TITLE="remine demo run" OUTPUT="$OUT/report.html"
step catalogue   remine:exportcatalog INPUT="$OUT" OUTPUT="$OUT/stac"

.venv/bin/python - "$OUT" "$SECONDS" <<'EOF'
import json, sys
out, seconds = sys.argv[1], sys.argv[2]
m = json.load(open(f"{out}/report.html.passport.json"))["metrics"]
def show(label, key, fmt):
    if key in m:
        print(f"  {label:<46} {fmt.format(m[key])}")
print(f"demo: done in {seconds} s; summary (from the report's passport):")
show("classifier accuracy (grouped CV)", "classifier CV overall accuracy", "{:.3f}")
show("mineral map accuracy against the truth", "map overall accuracy against the truth", "{:.3f}")
show("abundance RMSE against the truth (% points)", "abundance RMSE against the truth (% points)", "{:.2f}")
show("abundance interval coverage (nominal 0.9)", "abundance interval coverage (mean)", "{:.3f}")
for key in sorted(k for k in m if k.startswith("kriging CV RMSE")):
    show(key.replace("kriging CV RMSE", "Zn kriging CV RMSE (ppm)").replace("Zn_ppm, ", ""), key, "{:.1f}")
show("Zn kriged RMSE against the truth (ppm)", "kriged Zn_ppm RMSE against the truth", "{:.1f}")
for key in [k for k in m if k.startswith("hybrid against kriging")]:
    print(f"  {key}: {m[key]}")
for key in [k for k in m if k.startswith("tonnes above")]:
    show(key, key, "{}")
print(f"  files not as their passports say: {m['n_problems']}")
print(f"demo: report {out}/report.html, STAC catalogue {out}/stac/catalog.json")
EOF
