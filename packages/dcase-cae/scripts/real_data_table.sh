#!/usr/bin/env bash
# Every method, 3 seeds, on DCASE 2023 ToyCar section 00 (2021+ layout) and MIMII fan id_00 (2020 layout),
# then one report grouped by data set and configuration. Run from the repository root:
#   bash packages/dcase-cae/scripts/real_data_table.sh [METHOD ...]
# METHOD: embedding dense_ae dcase2023_baseline cae (default: all). Features are cached once in
# $OUT/cache, so every later seed and method reads them from there. One thread per run (shared machine).
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/dcase-cae/table}
SEEDS=${SEEDS:-"1 2 3"}
CAE_EPOCHS=${CAE_EPOCHS:-5}
AE_EPOCHS_TOYCAR=${AE_EPOCHS_TOYCAR:-10}  # dense AEs on ToyCar: 10 % of the baselines' 100 (CPU budget)
SETS=${SETS:-"toycar mimii-fan"}
METHODS=${*:-embedding dense_ae dcase2023_baseline cae}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
BIN=${BIN:-.venv/bin/dcase-cae}
COMMON=(--cache-dir "$OUT/cache" train.progress=false train.device=cpu figures.enabled=false)

for name in $SETS; do
  case $name in
    toycar) dir="$DATA/dcase2023t2-toycar" ;;
    mimii-fan) dir="$DATA/mimii-fan-id00" ;;
  esac
  for method in $METHODS; do
    for seed in $SEEDS; do
      run="$OUT/$name/$method-s$seed"
      [ -f "$run/results.json" ] && continue
      extra=()
      case $method in
        cae) extra=(--config seed "train.epochs=$CAE_EPOCHS") ;;
        *) extra=(--config "$method") ;;
      esac
      if [ "$name" = toycar ] && [[ $method == dense_ae || $method == dcase2023_baseline ]]; then
        extra+=("train.epochs=$AE_EPOCHS_TOYCAR")
      fi
      "$BIN" train --data-dir "$dir" --run-dir "$run" "${extra[@]}" "${COMMON[@]}" "train.seed=$seed"
      "$BIN" test --run-dir "$run" --cache-dir "$OUT/cache"
      if [ "$method" = dcase2023_baseline ]; then
        "$BIN" test --run-dir "$run" --cache-dir "$OUT/cache" --out-dir "$run-mahala" \
          model.score=selective_mahalanobis
      fi
    done
  done
done
mapfile -t tested < <(find "$OUT" -name results.json -printf '%h\n' | sort)
"$BIN" report --runs "${tested[@]}" --run-dir "$OUT/report"
