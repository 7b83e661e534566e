#!/usr/bin/env bash
# The remine demo chain, headless through qgis_process, on the bundled synthetic tailings scene.
# Every step writes its outputs (and <output>.passport.json provenance) into demo-output/ and its
# qgis_process --json answer into demo-output/log/<step>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/demo-output
QP=scripts/qgis-process
rm -rf "$OUT" && mkdir -p "$OUT/log"
S=$OUT/scene

step() {  # step NAME ALGORITHM ARGS...
  local name=$1 alg=$2; shift 2
  printf '%-22s %s\n' "$name" "$alg"
  if ! "$QP" --json run "$alg" -- "$@" > "$OUT/log/$name.json" 2> "$OUT/log/$name.err"; then
    echo "demo: step $name ($alg) failed:" >&2; tail -20 "$OUT/log/$name.err" >&2; exit 1
  fi
}

step scene          remine:createdemodata  OUTPUT="$S" SEED=0
step subset         remine:spectralsubset  INPUT="$S/cube.tif" MIN_WAVELENGTH=400 MAX_WAVELENGTH=2450 \
                                           DROP_WATER_BANDS=true OUTPUT="$OUT/cube_subset.tif"
step aloh_feature   remine:absorptionfeature INPUT="$S/cube.tif" WINDOW=1 OUTPUT="$OUT/aloh_feature.tif"
step training_set   remine:buildtrainingset INPUT="$S/cube.tif" ROIS="$S/rois.gpkg" ID_FIELD=roi_id \
                                           LABEL_FIELD=mineral OUTPUT="$OUT/training.h5" SUMMARY="$OUT/training_summary.csv"
step classifier     remine:trainclassifier TRAINING_SET="$OUT/training.h5" METHOD=3 SCHEME=0 N_SPLITS=3 \
                                           OUTPUT_MODEL="$OUT/minerals.rmodel" OUTPUT_REPORT="$OUT/classifier_report.html"
step mineral_map    remine:predictraster   MODEL="$OUT/minerals.rmodel" INPUT="$S/cube.tif" OUTPUT="$OUT/mineral_map.tif" \
                                           PROBABILITIES="$OUT/mineral_probabilities.tif" UNCERTAINTY="$OUT/mineral_uncertainty.tif"
step abundances     remine:unmix           INPUT="$S/cube.tif" ENDMEMBER_SOURCE=3 \
                                           MINERALS=kaolinite,muscovite,chlorite,montmorillonite,alunite,jarosite,goethite,gypsum,calcite \
                                           METHOD=1 NORMALISE=true INTERVALS=true OUTPUT="$OUT/abundances.tif"
step zn_variogram   remine:variogram       INPUT="$S/samples.gpkg" FIELD=Zn_ppm MODEL=0 OUTPUT_TABLE="$OUT/zn_variogram.csv" \
                                           OUTPUT_MODEL="$OUT/zn_variogram.json" OUTPUT_REPORT="$OUT/zn_variogram.html"
step zn_kriging     remine:ordinarykriging INPUT="$S/samples.gpkg" FIELD=Zn_ppm MODEL_FILE="$OUT/zn_variogram.json" \
                                           N_NEIGHBORS=32 TEMPLATE="$S/truth_grades.tif" OUTPUT="$OUT/zn_kriged.tif" \
                                           OUTPUT_VARIANCE="$OUT/zn_kriging_variance.tif" CV_REPORT="$OUT/zn_kriging_cv.html"
echo "demo: results in $OUT"
ls "$OUT"
