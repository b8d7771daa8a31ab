#!/bin/bash
# The issue's target runs: 3 seeds x {no bypass, bypass}, 30 epochs, at the budget setting of
# docs/lab/vae-demo.md "The first runs" (every 31st window; see there why 31 and not 32). One torch thread, low priority.
#   bash target.sh OUT_DIR [extra key=value overrides]
set -euo pipefail
OUT=${1:-runs/vae-demo/target3}; shift || true
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
BUDGET="data.stride=31 train.batch_size=64 train.lr=0.01 model.free_bits=2.0 train.epochs=30"
PLOTS="plot.every_n_epochs=10 plot.embedding_points=0 train.progress=false"
mkdir -p "$OUT"
for S in 85 86 87; do
  for BP in false true; do
    name=$([ "$BP" = true ] && echo bypass || echo nobypass)-s$S
    /usr/bin/time -f "$name cpu %U+%S s wall %e s" nice -n 10 vae-demo train --run-dir "$OUT/$name" \
      $BUDGET $PLOTS data.seed=$S train.seed=$S model.time_bypass=$BP "$@" > "$OUT/$name.log" 2>&1
    tail -1 "$OUT/$name.log"
  done
done
python "$(dirname "$0")/summarize.py" "$OUT"
