#!/usr/bin/env bash
# Equal-budget comparison behind the table in docs/event-lstm.md. Usage: compare.sh OUT_DIR [SEED]
# Train/val data: generator seed 0 (generated on the fly); test: generator seed 7 (never seen).
set -euo pipefail
OUT=${1:?output directory}; SEED=${2:-0}
CFG=$(python -c "import event_lstm, pathlib; print(pathlib.Path(event_lstm.__file__).parent / 'configs' / 'compare.yaml')")
PRE_EPOCHS=${PRE_EPOCHS:-3}
[ -f "$OUT/test-seed7/test.npz" ] || event-lstm generate --out "$OUT/test-seed7" generator.seed=7
run_eval() {  # run dir
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/test.npz" --run-dir "$1/eval-windows" >/dev/null
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/stream.npz" --run-dir "$1/eval-stream" >/dev/null
}
event-lstm train --config "$CFG" --run-dir "$OUT/lstm-s$SEED" train.seed=$SEED && run_eval "$OUT/lstm-s$SEED"
event-lstm train --config "$CFG" --run-dir "$OUT/es-s$SEED" model.arch=event_specific train.seed=$SEED \
  && run_eval "$OUT/es-s$SEED"
for m in ae vae contrastive; do
  event-lstm pretrain $m --config "$CFG" --run-dir "$OUT/pre-$m-s$SEED" train.epochs=$PRE_EPOCHS \
    train.monitor=val_loss train.mode=min train.seed=$SEED
  event-lstm finetune --pretrained "$OUT/pre-$m-s$SEED" --config "$CFG" --run-dir "$OUT/ft-$m-s$SEED" \
    train.seed=$SEED && run_eval "$OUT/ft-$m-s$SEED"
done
