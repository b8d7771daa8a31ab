#!/usr/bin/env bash
# Equal-budget comparison behind the table in docs/event-lstm.md.
# Usage: compare.sh OUT_DIR SEED [ROUTE ...]   routes: lstm es ae vae contrastive (default: all)
# Train/val data: generator seed 0 (generated on the fly); test: generator seed 7 (never seen in training).
# Every route gets the same supervised budget (configs/compare.yaml); ae/vae/contrastive add
# PRE_EPOCHS (default 3) unsupervised epochs on 2000 unlabelled windows first.
set -euo pipefail
OUT=${1:?output directory}; SEED=${2:-0}; shift 2 || true
ROUTES=${*:-lstm es ae vae contrastive}
CFG=$(python -c "import event_lstm, pathlib; print(pathlib.Path(event_lstm.__file__).parent / 'configs' / 'compare.yaml')")
PRE_EPOCHS=${PRE_EPOCHS:-3}
[ -f "$OUT/test-seed7/stream.csv" ] || event-lstm generate --out "$OUT/test-seed7" generator.seed=7
run_eval() {  # run dir: windowed test set and streaming detection over the 60 s test recording
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/test.npz" --run-dir "$1/eval-windows" >/dev/null
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/stream.npz" --run-dir "$1/eval-stream" >/dev/null
}
for r in $ROUTES; do
  case $r in
    lstm) event-lstm train --config "$CFG" --run-dir "$OUT/lstm-s$SEED" train.seed=$SEED
          run_eval "$OUT/lstm-s$SEED" ;;
    es)   event-lstm train --config "$CFG" --run-dir "$OUT/es-s$SEED" model.arch=event_specific train.seed=$SEED
          run_eval "$OUT/es-s$SEED" ;;
    ae|vae|contrastive)
          event-lstm pretrain $r --config "$CFG" --run-dir "$OUT/pre-$r-s$SEED" train.epochs=$PRE_EPOCHS \
            train.scheduler=none train.monitor=val_loss train.mode=min train.seed=$SEED
          event-lstm finetune --pretrained "$OUT/pre-$r-s$SEED" --config "$CFG" --run-dir "$OUT/ft-$r-s$SEED" \
            train.seed=$SEED
          run_eval "$OUT/ft-$r-s$SEED" ;;
    *) echo "unknown route $r" >&2; exit 2 ;;
  esac
done
