#!/usr/bin/env bash
# The leaderboard of docs/resp-mhavae.md: 7 NAB realKnownCause series + the 2 nose-sensor recordings,
# chronological and NAB protocols, every simple detector, the MHA-VAE-LSTM with seeds 0 1 2.
#   bash packages/resp-mhavae/scripts/leaderboard_real.sh ../shared/data runs/resp-mhavae/leaderboard [k=v ...]
set -euo pipefail
DATA=${1:?data root (holds nab/ and resp-collected/)}
OUT=${2:?run directory}
shift 2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
CONFIG=$(dirname "$0")/../src/resp_mhavae/configs/leaderboard.yaml
resp-mhavae leaderboard --config "$CONFIG" --run-dir "$OUT" \
    --series "$DATA/nab/data/realKnownCause" \
    --series "$DATA/resp-collected/sensor_data_nosein_noseout_1_with_anomalies.csv" \
    --series "$DATA/resp-collected/sensor_data_nosein_noseout_3_with_anomalies.csv" "$@"
