#!/usr/bin/env bash
# The real-data table of docs/resp-mhavae.md: every recording/series x protocol x seed, all baselines.
# Usage (from the repository root): bash packages/resp-mhavae/scripts/real_data.sh [DATA_ROOT] [OUT]
# Then: python packages/resp-mhavae/scripts/summarize.py OUT > table.md
# Window length of a NAB series (fixed before any result was seen): one day of samples, but at most
# rows / 40 so that every series gives >= 40 windows (>= ~12 test windows).
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/resp-mhavae/real}
CFG=packages/resp-mhavae/src/resp_mhavae/configs
SEEDS=${SEEDS:-"0 1 2"}
EXTRA=${EXTRA:-}  # overrides added to every NAB run, e.g. EXTRA="lstm.epochs=10" (docs: the 5 newer series)
RECORDINGS=${RECORDINGS:-"nosein_noseout_1 nosein_noseout_3"}
# name:l_win (samples per day: hourly 24, 30-min 48, 5-min 288; capped at rows / 40)
SERIES=${SERIES:-"nyc_taxi:48 ambient_temperature_system_failure:24 cpu_utilization_asg_misconfiguration:288
  ec2_request_latency_system_failure:100 machine_temperature_system_failure:288 rogue_agent_key_hold:47
  rogue_agent_key_updown:132"}
for seed in $SEEDS; do
  for protocol in honest original; do
    for rec in $RECORDINGS; do
      dir=$OUT/${rec}_${protocol}_s${seed}
      [ -f "$dir/detection_metrics.json" ] && continue
      nice -n 10 resp-mhavae run --config $CFG/collected.yaml --run-dir "$dir" \
        data.path=$DATA/resp-collected/sensor_data_${rec}_with_anomalies.csv data.protocol=$protocol \
        train.seed=$seed lstm.seed=$seed
    done
    for series in $SERIES; do
      name=${series%%:*}; lwin=${series##*:}
      dir=$OUT/${name}_${protocol}_s${seed}
      [ -f "$dir/detection_metrics.json" ] && continue
      nice -n 10 resp-mhavae run --config $CFG/nab.yaml --run-dir "$dir" \
        data.path=$DATA/nab/data/realKnownCause/$name.csv data.l_win=$lwin data.protocol=$protocol \
        train.seed=$seed lstm.seed=$seed $EXTRA
    done
  done
done
