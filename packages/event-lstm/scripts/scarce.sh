#!/usr/bin/env bash
# Scarce labels: fine-tune from each pre-training run of compare.sh vs training from scratch, on the same
# few labelled windows. Usage: scarce.sh COMPARE_DIR SEED [ROUTE ...]   routes: lstm es ae vae contrastive
# Needs the test sets of compare.sh in COMPARE_DIR; pre-trains COMPARE_DIR/pre-<route>-s<SEED> exactly as
# compare.sh does (PRE_EPOCHS unsupervised epochs on 2000 unlabelled windows) unless that run exists.
# N_TRAIN labelled windows (default 100 = 5 % of the 2000 the comparison uses), N_VAL validation
# windows (default 100; best checkpoint by validation F1), EPOCHS (default 60, i.e. 240 steps at batch
# 32) for every route; the pre-training saw the 2000 unlabelled windows of generator seed 0.
set -euo pipefail
OUT=${1:?compare directory}; SEED=${2:-0}; shift 2 || true
ROUTES=${*:-lstm es ae vae contrastive}
CFG=$(python -c "import event_lstm, pathlib; print(pathlib.Path(event_lstm.__file__).parent / 'configs' / 'compare.yaml')")
N_TRAIN=${N_TRAIN:-100}; N_VAL=${N_VAL:-100}; EPOCHS=${EPOCHS:-60}
DIR="$OUT/scarce-n$N_TRAIN"
ARGS=(generator.n_train=$N_TRAIN generator.n_val=$N_VAL train.epochs=$EPOCHS train.seed=$SEED)
run_eval() {
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed7/test.npz" --run-dir "$1/eval-windows" >/dev/null
  event-lstm evaluate --checkpoint "$1" --data "$OUT/test-seed8/stream.npz" --run-dir "$1/eval-stream8" >/dev/null
}
PRE_EPOCHS=${PRE_EPOCHS:-3}
pretrain_once() {
  [ -f "$OUT/pre-$1-s$SEED/checkpoints/last.pt" ] && \
    [ "$(grep -c '"epoch"' "$OUT/pre-$1-s$SEED/metrics.jsonl")" -ge "$PRE_EPOCHS" ] && return 0
  event-lstm pretrain "$1" --config "$CFG" --run-dir "$OUT/pre-$1-s$SEED" train.epochs=$PRE_EPOCHS \
    train.scheduler=none train.monitor=val_loss train.mode=min train.seed=$SEED
}
for r in $ROUTES; do
  case $r in
    lstm) RUN="$DIR/lstm-s$SEED"; event-lstm train --config "$CFG" --run-dir "$RUN" "${ARGS[@]}" ;;
    es)   RUN="$DIR/es-s$SEED"
          event-lstm train --config "$CFG" --run-dir "$RUN" model.arch=event_specific "${ARGS[@]}" ;;
    ae|vae|contrastive)
          RUN="$DIR/ft-$r-s$SEED"; pretrain_once $r
          event-lstm finetune --pretrained "$OUT/pre-$r-s$SEED" --config "$CFG" --run-dir "$RUN" "${ARGS[@]}" ;;
    *) echo "unknown route $r" >&2; exit 2 ;;
  esac
  run_eval "$RUN"
done
