#!/usr/bin/env bash
# The real-data table of docs/resp-mhavae.md: every recording/series x protocol x seed, all baselines.
# Usage (from the repository root): bash packages/resp-mhavae/scripts/real_data.sh [DATA_ROOT] [OUT]
# Then: python packages/resp-mhavae/scripts/summarize.py OUT > table.md
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/resp-mhavae/real}
CFG=packages/resp-mhavae/src/resp_mhavae/configs
SEEDS=${SEEDS:-"0 1 2"}
for seed in $SEEDS; do
  for protocol in honest original; do
    for rec in nosein_noseout_1 nosein_noseout_3; do
      dir=$OUT/${rec}_${protocol}_s${seed}
      [ -f "$dir/detection_metrics.json" ] && continue
      nice -n 10 resp-mhavae run --config $CFG/collected.yaml --run-dir "$dir" \
        data.path=$DATA/resp-collected/sensor_data_${rec}_with_anomalies.csv data.protocol=$protocol \
        train.seed=$seed lstm.seed=$seed
    done
    for series in nyc_taxi:48 ambient_temperature_system_failure:24; do
      name=${series%%:*}; lwin=${series##*:}
      dir=$OUT/${name}_${protocol}_s${seed}
      [ -f "$dir/detection_metrics.json" ] && continue
      nice -n 10 resp-mhavae run --config $CFG/nab.yaml --run-dir "$dir" \
        data.path=$DATA/nab/data/realKnownCause/$name.csv data.l_win=$lwin data.protocol=$protocol \
        train.seed=$seed lstm.seed=$seed
    done
  done
done
