#!/usr/bin/env bash
# The regression suite as a Slurm array job on a real single-node Slurm cluster (ctest -L cluster):
# starts munge, slurmctld and slurmd on localhost as root without systemd, submits the golden suite
# as a 4-task array (scripts/slurm/regress.sbatch) and its merge (regress-merge.sbatch,
# --dependency=afterany), checks the merged results equal a local run case by case, then kills one
# task of a second array while it runs and checks the merge names that task's cases as missing.
# Shuts the cluster down and leaves nothing running. Exit 77 (skipped) only when not root.
# Usage: tests/cluster/slurm_cluster_test.sh DUALCAM_BINARY
set -euo pipefail
dualcam=$(readlink -f "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
manifest=$root/datasets/golden/manifest.json
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the Slurm cluster test starts munged, slurmctld and slurmd as root; run it as root" >&2
  exit 77
fi
need=()
for p in slurmctld slurmd slurm-client munge python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "slurm test: installing ${need[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/dualcam-slurm.XXXXXX)
chmod 755 "$work"  # munged runs as the munge user
export SLURM_CONF=$work/slurm.conf
pids=()  # the daemons this test started: munged, slurmctld, slurmd
cleanup() {
  scontrol shutdown >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { [ "$(ps -o comm= -p "$p")" = munged ] && kill "$p" || kill -9 "$p"; } 2>/dev/null
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for l in "$work"/log/*; do echo "--- $l" >&2; tail -20 "$l" >&2; done; exit 1; }

# munge: its own key and socket in the work folder, so a munged already running is not touched.
mkdir -p "$work"/{state,spool,log,munge,out}
chown munge:munge "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$work/munge/munge.key" && chmod 400 "$work/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$work/munge/munge.key" --socket="$work/munge/socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"
pids+=("$(cat "$work/munge/munged.pid")")
host=$(hostname -s)
cat >"$SLURM_CONF" <<CONF
ClusterName=dualcamtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=26817
SlurmdPort=26818
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
start=$(date +%s)
slurmctld || fail "slurmctld did not start"
for _ in $(seq 50); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd || fail "slurmd did not start"
for _ in $(seq 50); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 100); do sinfo -h -o %t 2>/dev/null | grep -qx idle && break; sleep 0.2; done
sinfo -h -o %t | grep -qx idle || fail "the node did not come up idle: $(sinfo 2>&1)"

"$dualcam" regress "$manifest" --threads 2 --json "$work/local.json" >/dev/null || fail "the local run failed"

# Every case's status and figures, without timings and picture paths.
cases() {
  python3 - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for c in sorted(j["cases"], key=lambda c: c["name"]):
    outs = [(o["name"], o["passed"], json.dumps(o.get("figures"), sort_keys=True)) for o in c.get("outputs", [])]
    print(c["name"], c.get("status"), c.get("error", ""), outs)
PY
}

cd "$work"
export DUALCAM=$dualcam
jid=$(sbatch --parsable --array=1-4 -o "$work/log/regress-%A_%a.log" "$root/scripts/slurm/regress.sbatch" "$manifest" "$work/out")
sbatch --wait --dependency=afterany:"$jid" -o "$work/log/merge-%j.log" "$root/scripts/slurm/regress-merge.sbatch" \
  "$manifest" "$work/out" "$jid" >/dev/null || fail "the merge job failed"
[ "$(ls "$work/out"/shard-"$jid"-*.json | wc -l)" -eq 4 ] || fail "expected 4 shard results"
[ -f "$work/out/report-$jid/index.html" ] || fail "no merged report"
diff <(cases "$work/local.json") <(cases "$work/out/merged-$jid.json") >&2 || fail "merged results differ from the local run"
echo "slurm test: the 4-task array's merged results equal the local run's ($(cases "$work/local.json" | wc -l) cases)"

# A task killed while it runs: its cases are named missing, the merge exits 3.
cat >"$work/slow-dualcam" <<SH
#!/usr/bin/env bash
[ "\$SLURM_ARRAY_TASK_ID" = 2 ] && sleep 600
exec "$dualcam" "\$@"
SH
chmod +x "$work/slow-dualcam"
export DUALCAM=$work/slow-dualcam
jid2=$(sbatch --parsable --array=1-4 -o "$work/log/regress-%A_%a.log" "$root/scripts/slurm/regress.sbatch" "$manifest" "$work/out")
for _ in $(seq 300); do squeue -h -j "${jid2}_2" -o %T 2>/dev/null | grep -qx RUNNING && break; sleep 0.2; done
squeue -h -j "${jid2}_2" -o %T | grep -qx RUNNING || fail "task 2 never ran"
scancel --signal=KILL --full "${jid2}_2"
export DUALCAM=$dualcam
if sbatch --wait --dependency=afterany:"$jid2" -o "$work/log/merge-killed.log" "$root/scripts/slurm/regress-merge.sbatch" \
     "$manifest" "$work/out" "$jid2" >/dev/null; then fail "the merge passed with a killed task"; fi
merge_log=$(cat "$work/log/merge-killed.log")
grep -q "MISSING shard 2/4" <<<"$merge_log" || fail "the merge did not name the killed shard"
expected=$(python3 -c "import json,sys; n=len(json.load(open(sys.argv[1]))['cases']); print(sum(1 for i in range(n) if i % 4 == 1))" "$work/local.json")
named=$(grep -c "no shard reported this case" <<<"$merge_log" || true)
[ "$named" -eq "$expected" ] || fail "the merge named $named missing cases, the killed shard held $expected"
echo "slurm test: a task killed mid-run is reported by the merge: shard 2/4 and its $named case(s) missing"
# fuse --batch over a 2-task array and its merge: each pair fused once, as a local batch fuses it.
"$dualcam" sample -o "$work/sample" >/dev/null 2>&1 || fail "dualcam sample failed"
printf 'mono.png color.png a.png\nmono.png color.png b.png\nmono.png color.png c.png\n' >"$work/sample/pairs.txt"
fjid=$(sbatch --parsable --array=1-2 -o "$work/log/fuse-%A_%a.log" "$root/scripts/slurm/fuse-batch.sbatch" \
  "$work/sample/pairs.txt" "$work/fused" --rig "$work/sample/rig.yaml")
sbatch --wait --dependency=afterany:"$fjid" -o "$work/log/fuse-merge.log" "$root/scripts/slurm/fuse-batch-merge.sbatch" \
  "$work/sample/pairs.txt" "$work/fused" "$fjid" >/dev/null || fail "the fuse-batch merge job failed"
grep -q "3 pairs in .*: 3 reported, 0 failed, 0 missing" "$work/log/fuse-merge.log" || fail "the batch merge did not find all 3 pairs"
mkdir -p "$work/fused-local"
"$dualcam" fuse --batch "$work/sample/pairs.txt" --out-dir "$work/fused-local" --rig "$work/sample/rig.yaml" 2>/dev/null ||
  fail "the local batch failed"
for f in a b c; do cmp -s "$work/fused/$f.png" "$work/fused-local/$f.png" || fail "fused/$f.png differs from the local batch's"; done
echo "slurm test: fuse --batch over a 2-task array wrote every pair once, byte-identical to a local batch"
echo "slurm test: passed in $(( $(date +%s) - start )) s"
