#!/usr/bin/env bash
# Reproduces the evaluation table in docs/workload.md: converts the shared research datasets into runs tables and
# runs `tessera workload eval` on each with the protocols of the research note. Needs the shared data folder
# (first argument, default ../shared/data/spark) and a built Tessera (npm run build). Writes
# bench/results/workload/<name>.json. About 15 minutes on 2 cores.
set -euo pipefail
DATA=${1:-../shared/data/spark}
OUT=bench/results/workload
T=$(mktemp -d)
mkdir -p "$OUT"
tessera() { node bin/tessera.js "$@"; }
tessera workload convert --from scout "$DATA/scout_multinode/scout_multinode_runs.csv" --out "$T/scout.csv"
tessera workload convert --from c3o "$DATA"/c3o/*.tsv --out "$T/c3o.csv"
tessera workload convert --from dataproc "$DATA/dataproc_autoscaling/regular_dataproc/regular_dataproc.csv" --out "$T/dataproc.csv"
tessera workload eval --runs "$T/c3o.csv" --protocol holdout-configs --seeds 5 --json "$OUT/c3o-holdout-configs.json"
for k in 0 1 3 5 10; do
  tessera workload eval --runs "$T/scout.csv" --protocol leave-one-job-out --sla median --trials "$k" --json "$OUT/scout-lojo-median-trials$k.json"
done
tessera workload eval --runs "$T/dataproc.csv" --protocol holdout-configs --seeds 5 --json "$OUT/dataproc-holdout-configs.json"
tessera workload eval --runs "$T/dataproc.csv" --protocol leave-one-job-out --trials 3 --json "$OUT/dataproc-lojo-median-trials3.json"
rm -rf "$T"
