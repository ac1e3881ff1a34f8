#!/usr/bin/env bash
# The suite on SQLite and on PostgreSQL side by side (#11), then the leftover-process check.
#
#     bash .ci/suite.sh RUN_ID [pytest args…]
#
# Each half is one pytest process that keeps about one core busy (the other core mostly waits on it:
# the PostgreSQL server, chromium and the servers tests start run in bursts), so on CI's 2 cores the
# halves side by side take about as long as the PostgreSQL half alone: one after the other they took
# 5:57 + 9:45 at stop 17. Each writes its own log and its own --basetemp (pytest's default numbered
# temp folders are pruned by whichever run starts last), and the logs are printed whole when both end.
set -u
cd "$(dirname "$0")/.."
run_id=$1
shift
mkdir -p var
export SUITE_RUN_ID=$run_id
start=$(date +%s)
.venv/bin/pytest -q --basetemp=var/pytest-sqlite "$@" >var/suite-sqlite.log 2>&1 &
sqlite=$!
.venv/bin/pytest -q --db=postgres --basetemp=var/pytest-postgres "$@" >var/suite-postgres.log 2>&1 &
postgres=$!
status=0
wait "$sqlite" || status=1
wait "$postgres" || status=1
echo "== the suite on SQLite (var/suite-sqlite.log) =="
cat var/suite-sqlite.log
echo "== the same suite on PostgreSQL (issue #6; var/suite-postgres.log): a throwaway cluster on 127.0.0.1; tests marked sqlite_only are deselected and listed =="
cat var/suite-postgres.log
echo "== both halves side by side took $(( $(date +%s) - start )) s =="
python3 .ci/leftovers.py "$run_id" || status=1
exit $status
