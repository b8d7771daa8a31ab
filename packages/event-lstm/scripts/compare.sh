#!/usr/bin/env bash
# Equal-budget comparison behind the table in docs/event-lstm.md.
# Usage: compare.sh OUT_DIR SEED [ROUTE ...]   routes: lstm es ae vae contrastive (default: all)
# A complete pre-training run OUT_DIR/pre-<route>-s<SEED> is reused (scarce.sh writes the same runs).
# Train/val data: generator seed 0 (generated on the fly); test: generator seeds 7 (300 windows + 60 s
# recording) and 8 (300 windows + 300 s recording), never seen in training.
# Every route gets the same supervised budget (configs/compare.yaml); ae/vae/contrastive add
# PRE_EPOCHS (default 3) unsupervised epochs on 2000 unlabelled windows first.
set -euo pipefail
OUT=${1:?output directory}; SEED=${2:-0}; shift 2 || true
ROUTES=${*:-lstm es ae vae contrastive}
CFG=$(python -c "import event_lstm, pathlib; print(pathlib.Path(event_lstm.__file__).parent / 'configs' / 'compare.yaml')")
PRE_EPOCHS=${PRE_EPOCHS:-3}
[ -f "$OUT/test-seed7/stream.csv" ] || event-lstm generate --out "$OUT/test-seed7" generator.seed=7
[ -f "$OUT/test-seed8/stream.csv" ] || event-lstm generate --out "$OUT/test-seed8" generator.seed=8 \
  generator.stream_s=300
run_eval() {  # run dir: windowed test sets and streaming detection over the 60 s / 300 s recordings
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/test.npz" --run-dir "$1/eval-windows" >/dev/null
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/stream.npz" --run-dir "$1/eval-stream" >/dev/null
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed8/test.npz" --run-dir "$1/eval-windows8" >/dev/null
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed8/stream.npz" --run-dir "$1/eval-stream8" >/dev/null
}
pretrain_once() {  # pre-training run of route $1 and this seed, unless scarce.sh already made it
  [ -f "$OUT/pre-$1-s$SEED/checkpoints/last.pt" ] && \
    [ "$(grep -c '"epoch"' "$OUT/pre-$1-s$SEED/metrics.jsonl")" -ge "$PRE_EPOCHS" ] && return 0
  event-lstm pretrain "$1" --config "$CFG" --run-dir "$OUT/pre-$1-s$SEED" train.epochs=$PRE_EPOCHS \
    train.scheduler=none train.monitor=val_loss train.mode=min train.seed=$SEED
}
for r in $ROUTES; do
  case $r in
    lstm) event-lstm train --config "$CFG" --run-dir "$OUT/lstm-s$SEED" train.seed=$SEED
          run_eval "$OUT/lstm-s$SEED" ;;
    es)   event-lstm train --config "$CFG" --run-dir "$OUT/es-s$SEED" model.arch=event_specific train.seed=$SEED
          run_eval "$OUT/es-s$SEED" ;;
    ae|vae|contrastive)
          pretrain_once $r
          event-lstm finetune --pretrained "$OUT/pre-$r-s$SEED" --config "$CFG" --run-dir "$OUT/ft-$r-s$SEED" \
            train.seed=$SEED
          run_eval "$OUT/ft-$r-s$SEED" ;;
    *) echo "unknown route $r" >&2; exit 2 ;;
  esac
done
