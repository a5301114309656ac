#!/usr/bin/env bash
# bench/run.sh — sluice's benchmarks, in one command.
#
#   bench/run.sh [--benches inbound,pipeline,outbound,idle] [--stores duckdb[,clickhouse]] [--nodes 1,3]
#                [inbound flags...] [-- pipeline flags... [-- outbound flags...]]
#   bench/run.sh --benches soak [--soak-backend embedded|kafka|both] [-- -- -- soak flags...]
#   FAIRNESS_ARGS="..." bench/run.sh --benches fairness
#   QUERIES_ARGS="..." bench/run.sh --benches queries
#   IDLE_ARGS="--conns 500" bench/run.sh --benches idle
#   INBOUND_AB_BASELINE=<commit> bench/run.sh --benches inbound-ab
#
# Four benchmarks, all by default, against one Apache Kafka broker; each
# writes its own section of bench/RESULTS.md (the sections of benchmarks
# not run are kept):
#   inbound   the Kafka Inbound listener vs the broker's own SASL_SSL
#             listener (about 8.5 minutes; flags before `--` go to
#             `sluicebench run`, see `go run ./bench run -h` from bench/);
#   pipeline  the event pipeline and store (about 3 minutes with the
#             default 1,000,000 events; flags after `--` go to
#             `sluicebench pipeline`, see bench/README.md): pipeline
#             throughput per core, produce→countable latency, count and
#             extraction over the stored events via HTTP, sluice's memory;
#   outbound  the Kafka Outbound listener (about 15 minutes; flags after the
#             second `--` go to `sluicebench outbound`): consume throughput
#             vs the broker's SASL_SSL listener, and end to end, produce ack
#             on Inbound → enriched event consumed on Outbound at 5,000/s;
#   idle      (about 2 minutes) 10,000 idle TLS connections to the Inbound
#             listener, authenticated, then unauthenticated: sluice's RSS
#             and a new producer's first acknowledgement while they are
#             held (bench/idle.go; IDLE_ARGS go to `sluicebench idle`).
#             Both sluice and the load generator need a hard RLIMIT_NOFILE
#             well above 10,000 (sluice lowers its connection caps to fit
#             its own, and the report says so);
# and four more, only when named:
#   inbound-ab (about 4 minutes) this commit's Inbound listener against a
#             baseline build's, side by side on one broker, alternately:
#             sluice's CPU per GB and MB/s (bench/inbound_ab.go);
#             INBOUND_AB_BASELINE is the baseline, a git revision (built
#             here from `git archive`) or a sluice binary; INBOUND_AB_ARGS
#             go to `sluicebench inbound-ab` (e.g. "--rounds 10");
#   fairness  a quiet project's produce → countable while another project's
#             backlog drains, and alone; the flood's drain rate
#             (bench/fairness.go; FAIRNESS_ARGS go to `sluicebench fairness`,
#             e.g. "--baseline-bin /path/sluice" for an A/B);
#   queries   (about 10 minutes) Keen's analyses over 10,000,000 events of
#             one collection written straight into a sluice store: each
#             query through sluice's HTTP API and, as the direct baseline,
#             in plain SQL of a plain DuckDB table of the same data; p50/p99
#             and memory (bench/queries.go; QUERIES_ARGS go to
#             `sluicebench queries`, e.g. "--events 1000000 --runs 5" for a
#             quick run, "--reuse DIR" to skip the load). No broker.
#   soak      (30 minutes) issue 15's acceptance run (flags after the third `--` go to
#             `sluicebench soak`): its own sluice, pipeline on, by default
#             on the embedded log (`--soak-backend kafka` on the broker,
#             `both` one after the other: an hour), several projects each
#             producing valid events while a poison loop sends them invalid,
#             huge, corrupt and hostile inputs; samples RSS, goroutines, fds,
#             CPU and counts, then checks every acknowledged event was stored
#             exactly once; writes bench/soak.json. No broker is started
#             when only the embedded soak runs.
#
# --stores (default duckdb) is the stores the pipeline and queries
# benchmarks run on, one after the other in the same run: duckdb (the
# embedded default), clickhouse (run.sh starts one ClickHouse server itself,
# scripts/clickhouse.sh, and passes `--store clickhouse://…`). With both,
# each section opens with the engines side by side (`sluicebench engines`),
# then each engine's report; the pipeline's latency run is then at 5,000
# events/s for both (issue 18; a `--rate` after `--` wins). --nodes (default
# 1,3; empty for none) adds to the ClickHouse pipeline run drains by that
# many sluice nodes at once (`sluicebench pipeline --nodes`). Issue 18's
# figures, in two commands (see bench/README.md for their durations):
#   bench/run.sh --benches pipeline --stores duckdb,clickhouse
#   bench/run.sh --benches queries --stores duckdb,clickhouse
#
# What it does (see bench/README.md):
#   1. builds sluice (./cmd/sluice) and the load generator (bench/, its own
#      Go module), fetches Apache Kafka (scripts/kafka.sh, Maven Central) and
#      starts one broker with --sasl (PLAINTEXT + SASL_SSL PLAIN listeners)
#      on a server JVM (G1, C2, 1 GiB heap: not the harness's quick-start C1
#      flags);
#   2. inbound: `sluice serve --kafka-brokers <PLAINTEXT> --pipeline=false`
#      (the gateway alone: this measures the listener, not the event
#      pipeline, which would otherwise consume the benchmark's records) on a
#      fresh data dir with loopback ports, creates a project over HTTP, and
#      runs the same franz-go producer (1 KB JSON, acks=all) alternately
#      against the broker's own SASL_SSL listener (direct) and sluice's Kafka
#      Inbound listener: throughput as fast as possible, latency at a fixed
#      2,000 records/s, and throughput with lz4 — a warm-up pair, then 5 A/B
#      pairs each — sampling sluice's CPU (/proc/PID/stat) around every run
#      and its peak RSS (VmHWM) at the end, then profiles sluice's CPU during
#      one extra run; writes bench/latency.png and bench/results.json; stops
#      that sluice;
#   3. pipeline: `sluicebench pipeline` starts its own sluice (fresh data
#      dir), preloads events through the Inbound listener with the pipeline
#      off, deletes the other projects' raw topics (the inbound benchmark's
#      would be drained too), restarts sluice with the pipeline on and
#      times the drain, runs
#      the queries, then the latency run; writes bench/pipeline.json;
#   4. outbound: `sluicebench outbound` starts its own sluice (pipeline on,
#      fresh data dir), deletes the earlier benchmarks' raw topics, preloads
#      two outbound topics straight into the broker and reads them direct and
#      through the Outbound listener in A/B pairs, then runs the end-to-end
#      latency; writes bench/outbound-latency.png and bench/outbound.json;
#   5. soak (only with --benches soak): see above;
#   6. writes the sections of bench/RESULTS.md;
#   7. stops sluice and the broker and removes its work dir on any exit
#      (a failed run keeps the logs and prints where).
#
# A quick smoke run of both (overwrites the results):
#   bench/run.sh --pairs 1 --duration 3s --latency-duration 3s --warmup 2s --lz4=false --profile 2s \
#     -- --events 50000 --latency-duration 8s --latency-warmup 2s --query-runs 5 \
#     -- --consume-mb 200 --pairs 2 --e2e-windows 2 --e2e-window 8s --e2e-warmup 4s --profile 3s
#
# Environment: SLUICE_CACHE (Kafka jars; default ~/.cache/sluice),
# BENCH_KAFKA_HEAP_OPTS, BENCH_KAFKA_JVM_OPTS (override the broker JVM),
# BENCH_KEEP=1 (keep the work dir), BENCH_NICE=N (run the broker, sluice and
# the load generator under `nice -n N`, e.g. -10 on a machine shared with
# other work: it takes CPU from everyone else, so it is off by default),
# BENCH_KAFKA_DIR (where the broker's files go, e.g. /dev/shm: on a machine of
# one disk, the broker's log writes otherwise share sluice's store's disk,
# which a deployment's backend cluster does not; the reports say so), TMPDIR.
# Needs Go, Java 17+ and Maven (as scripts/test.sh does), git, curl-free.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
COMMAND="bench/run.sh${*:+ $*}"

BENCHES=inbound,pipeline,outbound,idle
SOAK_BACKEND=embedded
STORES=duckdb
NODES=1,3
INBOUND_ARGS=()
PIPELINE_ARGS=()
OUTBOUND_ARGS=()
SOAK_ARGS=()
while (($#)); do
	case $1 in
	--benches) BENCHES=${2:-}; shift 2 || { echo "--benches needs a value" >&2; exit 2; } ;;
	--benches=*) BENCHES=${1#--benches=}; shift ;;
	--soak-backend) SOAK_BACKEND=${2:-}; shift 2 || { echo "--soak-backend needs a value" >&2; exit 2; } ;;
	--soak-backend=*) SOAK_BACKEND=${1#--soak-backend=}; shift ;;
	--stores) STORES=${2:-}; shift 2 || { echo "--stores needs a value" >&2; exit 2; } ;;
	--stores=*) STORES=${1#--stores=}; shift ;;
	--nodes) NODES=${2-}; shift 2 || { echo "--nodes needs a value" >&2; exit 2; } ;;
	--nodes=*) NODES=${1#--nodes=}; shift ;;
	--)
		shift
		while (($#)) && [[ $1 != -- ]]; do PIPELINE_ARGS+=("$1"); shift; done
		if (($#)); then shift; fi
		while (($#)) && [[ $1 != -- ]]; do OUTBOUND_ARGS+=("$1"); shift; done
		if (($#)); then shift; SOAK_ARGS=("$@"); fi
		break
		;;
	*) INBOUND_ARGS+=("$1"); shift ;;
	esac
done
want() { [[ ",$BENCHES," == *",$1,"* ]]; }
for b in ${BENCHES//,/ }; do
	[[ $b == inbound || $b == inbound-ab || $b == pipeline || $b == outbound || $b == idle || $b == fairness || $b == queries || $b == soak ]] || { echo "run.sh: unknown benchmark $b (inbound, inbound-ab, pipeline, outbound, idle, fairness, queries, soak)" >&2; exit 2; }
done
[[ $SOAK_BACKEND == embedded || $SOAK_BACKEND == kafka || $SOAK_BACKEND == both ]] || { echo "run.sh: --soak-backend is embedded, kafka or both" >&2; exit 2; }
for s in ${STORES//,/ }; do
	[[ $s == duckdb || $s == clickhouse ]] || { echo "run.sh: unknown store $s in --stores (duckdb, clickhouse)" >&2; exit 2; }
done
[[ -n ${STORES//,/} ]] || { echo "run.sh: --stores names no store" >&2; exit 2; }
[[ -z $NODES || $NODES =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "run.sh: --nodes is a list of node counts, e.g. 1,3 (empty: none)" >&2; exit 2; }
want_store() { [[ ",$STORES," == *",$1,"* ]]; }
# A ClickHouse server is needed by the benchmarks that take --stores.
NEED_CLICKHOUSE=0
if want_store clickhouse && { want pipeline || want queries; }; then NEED_CLICKHOUSE=1; fi
# A broker is needed by every benchmark but the soak on the embedded log.
NEED_KAFKA=0
if want inbound || want inbound-ab || want pipeline || want outbound || want idle || want fairness || { want soak && [[ $SOAK_BACKEND != embedded ]]; }; then NEED_KAFKA=1; fi
if want inbound-ab && [[ -z ${INBOUND_AB_BASELINE:-} ]]; then echo "run.sh: inbound-ab needs INBOUND_AB_BASELINE (a git revision or a sluice binary)" >&2; exit 2; fi

# Kafka's own production defaults (kafka-run-class.sh), a fixed 1 GiB heap.
export KAFKA_HEAP_OPTS="${BENCH_KAFKA_HEAP_OPTS:--Xms1g -Xmx1g}"
export KAFKA_JVM_OPTS="${BENCH_KAFKA_JVM_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"

log() { echo "$(date +%H:%M:%S) run.sh: $*" >&2; }

# The idle benchmark holds 10,000 connections: sluice and the load generator
# need a hard RLIMIT_NOFILE well above that; raised here where permitted (a
# container may refuse even root: run.sh says so, and sluice lowers its caps).
if want idle && (( $(ulimit -Hn) < 65536 )) && [[ $(id -u) == 0 ]]; then
	ulimit -Hn 65536 && ulimit -Sn 65536 || log "could not raise RLIMIT_NOFILE above $(ulimit -Hn)"
fi

NICE=()
if [[ -n ${BENCH_NICE:-} ]]; then
	[[ $BENCH_NICE =~ ^-?[0-9]+$ ]] || { log "BENCH_NICE must be an integer"; exit 2; }
	NICE=(nice -n "$BENCH_NICE")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-XXXXXX")
KAFKA_DIR=$WORK/kafka
if [[ -n ${BENCH_KAFKA_DIR:-} ]]; then
	KAFKA_DIR=$(mktemp -d "$BENCH_KAFKA_DIR/sluice-bench-kafka-XXXXXX")
fi
SLUICE_PID=""
KAFKA_STARTED=0
CLICKHOUSE_STARTED=0
OK=0

stop_sluice() {
	if [[ -n $SLUICE_PID ]] && kill -0 "$SLUICE_PID" 2>/dev/null; then
		log "stopping sluice ($SLUICE_PID)"
		kill -TERM "$SLUICE_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$SLUICE_PID" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$SLUICE_PID" 2>/dev/null; then
			log "sluice did not exit within 20 s of SIGTERM; killing it"
			kill -KILL "$SLUICE_PID" 2>/dev/null || true
		fi
		wait "$SLUICE_PID" 2>/dev/null || true
	fi
	SLUICE_PID=""
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_sluice
	if ((CLICKHOUSE_STARTED)); then
		log "stopping the ClickHouse server"
		"$ROOT/scripts/clickhouse.sh" stop --dir "$WORK/clickhouse" || true
	fi
	if ((KAFKA_STARTED)); then
		log "stopping the Kafka broker"
		"$ROOT/scripts/kafka.sh" stop --dir "$KAFKA_DIR" || true
	fi
	if [[ $KAFKA_DIR != "$WORK/kafka" ]]; then
		if ((OK)) && [[ -z ${BENCH_KEEP:-} ]]; then
			rm -rf "$KAFKA_DIR"
		else
			rm -rf "$KAFKA_DIR"/node*/data
		fi
	fi
	if ((OK)) && [[ -z ${BENCH_KEEP:-} ]]; then
		rm -rf "$WORK"
	else
		# Keep the logs, not gigabytes of log segments.
		rm -rf "$WORK"/kafka/node*/data "$WORK"/clickhouse/server*/data "$WORK/sluice-data/kafka" "$WORK"/pipeline-*/pipeline-data*/kafka "$WORK/outbound-data/kafka" "$WORK"/soak-*/soak-data 2>/dev/null || true
		if ((!OK)); then
			log "FAILED (exit $rc); logs kept in $WORK (sluice.out, sluice.err) and $KAFKA_DIR/node1/server.log"
		else
			log "work dir kept: $WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Build.
log "building sluice and the load generator in $WORK"
(cd "$ROOT" && go build -o "$WORK/sluice" ./cmd/sluice)
(cd "$HERE" && go build -o "$WORK/sluicebench" .)

if ((NEED_KAFKA)); then
	# 2. One Apache Kafka broker with a SASL_SSL listener. The harness binds
	# BASE, BASE+1 and BASE+2; pick a free range below the ephemeral ports and
	# retry if another process takes it first.
	port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
	KAFKA_OUT=""
	for attempt in 1 2 3; do
		while :; do
			base=$((20000 + 10 * (RANDOM % 1200)))
			port_in_use "$base" || port_in_use $((base + 1)) || port_in_use $((base + 2)) || break
		done
		log "starting Apache Kafka on 127.0.0.1:$base-$((base + 2)) (attempt $attempt)"
		KAFKA_STARTED=1
		# Runs at 400+ MB/s write tens of GB: retention by size keeps the
		# broker's disk use bounded without touching the measured path (at
		# most 9 × 448 MiB per topic: 384 MiB retained per partition plus
		# the active 64 MiB segment; the benchmarks' preloads stay under
		# that), and segments are deleted a second after they expire, not
		# Kafka's 60 s: on BENCH_KAFKA_DIR=/dev/shm a minute of expired
		# segments at 300 MB/s is 18 GB of memory (the kernel's OOM killer
		# took the broker).
		if KAFKA_OUT=$(${NICE[@]+"${NICE[@]}"} "$ROOT/scripts/kafka.sh" start --dir "$KAFKA_DIR" --brokers 1 --port "$base" --sasl \
			--set log.segment.bytes=67108864 --set log.retention.bytes=402653184 --set log.retention.check.interval.ms=3000 \
			--set log.segment.delete.delay.ms=1000 \
			--owner-pid $$ 2>"$WORK/kafka-start.log"); then
			break
		fi
		cat "$WORK/kafka-start.log" >&2
		"$ROOT/scripts/kafka.sh" stop --dir "$KAFKA_DIR" || true
		KAFKA_STARTED=0
		if ((attempt == 3)) || ! grep -q "Address already in use" "$WORK/kafka-start.log"; then
			log "could not start Kafka"
			exit 1
		fi
		rm -rf "${KAFKA_DIR:?}"/*
	done
	CA=$(sed -n 's/^ca=//p' <<<"$KAFKA_OUT")
	SASL=$(sed -n 's/^sasl=//p' <<<"$KAFKA_OUT")
	PLAIN=$(tail -n 1 <<<"$KAFKA_OUT")
	BROKER_PID=$(cat "$KAFKA_DIR/node1/pid")
	log "Kafka ready: PLAINTEXT $PLAIN, SASL_SSL $SASL, pid $BROKER_PID"

	# Versions and settings quoted in the reports.
	KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/kafka/pom.xml")
	JAVA_VERSION=$(java -version 2>&1 | head -n 1)
fi
FRANZ=$(cd "$HERE" && go list -m -f '{{.Version}}' github.com/twmb/franz-go)

if ((NEED_CLICKHOUSE)); then
	# One ClickHouse server (scripts/clickhouse.sh: Debian's 18.16, its own
	# directory, loopback only), for the benchmarks' --store clickhouse://.
	log "starting a ClickHouse server"
	"$ROOT/scripts/clickhouse.sh" install
	port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
	while :; do
		CH_PORT=$((20000 + 10 * (RANDOM % 1200) + 5))
		port_in_use "$CH_PORT" || break
	done
	CLICKHOUSE_STARTED=1
	CH_ADDR=$("$ROOT/scripts/clickhouse.sh" start --dir "$WORK/clickhouse" --port "$CH_PORT" --owner-pid $$ 2>"$WORK/clickhouse-start.log") || {
		cat "$WORK/clickhouse-start.log" >&2
		log "could not start ClickHouse"
		exit 1
	}
	CH_VERSION=$(clickhouse-client --host 127.0.0.1 --port "$CH_PORT" -q "SELECT version()")
	log "ClickHouse $CH_VERSION ready on $CH_ADDR (pid $(cat "$WORK/clickhouse/server1/pid"))"
fi

PRIORITY="default (nice 0), like every other process on the machine"
[[ -n ${BENCH_NICE:-} ]] && PRIORITY="nice $BENCH_NICE for the broker, sluice and the load generator (BENCH_NICE)"
BROKER_LINES=""
if ((NEED_KAFKA)); then
	BROKER_LINES="broker=Apache Kafka $KAFKA_VERSION (scripts/kafka.sh, 1 broker, KRaft combined mode, RF 1, num.network.threads=2, num.io.threads=2), $JAVA_VERSION
broker JVM=\`$KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS\`
broker files=$(df --output=fstype "$KAFKA_DIR" | tail -n 1) (BENCH_KAFKA_DIR=${BENCH_KAFKA_DIR:-unset}); sluice's files=$(df --output=fstype "$WORK" | tail -n 1)
"
fi
ENV_LINES="${BROKER_LINES}sluice=built from this commit with $(go version | cut -d' ' -f3-), GOMAXPROCS default, \`--log-level warn\`; backend connection PLAINTEXT
load generator=bench/ (Go), franz-go $FRANZ
priority=$PRIORITY"
if ((NEED_CLICKHOUSE)); then
	ENV_LINES+="
ClickHouse=$CH_VERSION (Debian's clickhouse-server, scripts/clickhouse.sh: one server, its generated config, max_threads 2)"
fi

SECTIONS=()

# 3. The Inbound listener benchmark: sluice in front of the broker.
if want inbound; then
	# sluice in front of it, on kernel-chosen loopback ports (announced on
	# stdout), pprof on a port of its own. Only these flags configure it.
	DEBUG_ADDR="127.0.0.1:$("$WORK/sluicebench" freeport)"
	unset_env=()
	while IFS= read -r v; do unset_env+=(-u "$v"); done < <(compgen -e | grep '^SLUICE_' || true)
	${NICE[@]+"${NICE[@]}"} env ${unset_env[@]+"${unset_env[@]}"} "$WORK/sluice" serve --data-dir "$WORK/sluice-data" --kafka-brokers "$PLAIN" \
		--http-addr 127.0.0.1:0 --inbound-addr 127.0.0.1:0 --outbound-addr 127.0.0.1:0 --advertised-host 127.0.0.1 \
		--log-level warn --debug-addr "$DEBUG_ADDR" --pipeline=false >"$WORK/sluice.out" 2>"$WORK/sluice.err" &
	SLUICE_PID=$!
	for _ in $(seq 1 450); do
		grep -q '^sluice is ready' "$WORK/sluice.out" 2>/dev/null && break
		if ! kill -0 "$SLUICE_PID" 2>/dev/null; then
			cat "$WORK/sluice.out" "$WORK/sluice.err" >&2
			log "sluice exited during start-up"
			exit 1
		fi
		sleep 0.2
	done
	if ! grep -q '^sluice is ready' "$WORK/sluice.out"; then
		cat "$WORK/sluice.out" "$WORK/sluice.err" >&2
		log "sluice not ready after 90 s"
		exit 1
	fi
	HTTP=$(sed -n 's/^HTTP API: *//p' "$WORK/sluice.out" | head -n 1)
	INBOUND=$(sed -n 's/^Kafka Inbound: *\([^ ]*\).*/\1/p' "$WORK/sluice.out" | head -n 1)
	log "sluice ready (pid $SLUICE_PID): HTTP $HTTP, Kafka Inbound $INBOUND"

	${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" run \
		--direct-bootstrap "$SASL" --direct-ca "$CA" --admin-bootstrap "$PLAIN" \
		--sluice-bootstrap "$INBOUND" --sluice-ca "$WORK/sluice-data/tls/ca.pem" --sluice-http "$HTTP" \
		--sluice-data-dir "$WORK/sluice-data" --sluice-pid "$SLUICE_PID" --broker-pid "$BROKER_PID" \
		--sluice-debug "$DEBUG_ADDR" --sluice-bin "$WORK/sluice" --clk-tck "$(getconf CLK_TCK)" \
		--out "$WORK/inbound.md" --plot "$HERE/latency.png" --raw "$HERE/results.json" --work-dir "$WORK" \
		--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" \
		${INBOUND_ARGS[@]+"${INBOUND_ARGS[@]}"}

	if [[ -s "$WORK/sluice.err" ]]; then
		log "sluice logged (warn and above):"
		tail -n 20 "$WORK/sluice.err" >&2
	fi
	stop_sluice
	SECTIONS+=("inbound=$WORK/inbound.md")
fi

# 4. The event pipeline and store benchmark: its own sluice, same broker,
# once per store (--stores), each in a work dir of its own.
if want pipeline; then
	PIPE_PAIRS=()
	for st in ${STORES//,/ }; do
		log "pipeline benchmark on $st"
		dir="$WORK/pipeline-$st"
		mkdir -p "$dir"
		raw="$HERE/pipeline.json"
		extra=()
		if [[ $st == clickhouse ]]; then
			raw="$HERE/pipeline-clickhouse.json"
			extra=(--store "clickhouse://$CH_ADDR/pipeline" --clickhouse-dir "$WORK/clickhouse")
			[[ -n $NODES ]] && extra+=(--nodes "$NODES")
		fi
		# The goals of produce → countable are at 5,000 events/s (the
		# performance issue's, and the engines' comparison); a --rate
		# after `--` still wins.
		rate=(--rate 5000)
		${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" pipeline \
			--sluice-bin "$WORK/sluice" --kafka-brokers "$PLAIN" --work-dir "$dir" \
			--clk-tck "$(getconf CLK_TCK)" --out "$dir/pipeline.md" --raw "$raw" \
			--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" \
			${rate[@]+"${rate[@]}"} ${extra[@]+"${extra[@]}"} ${PIPELINE_ARGS[@]+"${PIPELINE_ARGS[@]}"}
		for f in "$dir"/pipeline-*.err; do
			if [[ -s $f ]]; then
				log "sluice logged (warn and above) in $(basename "$f"):"
				tail -n 20 "$f" >&2
			fi
		done
		PIPE_PAIRS+=("$raw=$dir/pipeline.md")
	done
	if ((${#PIPE_PAIRS[@]} > 1)); then
		"$WORK/sluicebench" engines pipeline "$WORK/pipeline.md" "${PIPE_PAIRS[@]}"
	else
		cp "${PIPE_PAIRS[0]#*=}" "$WORK/pipeline.md"
	fi
	SECTIONS+=("pipeline=$WORK/pipeline.md")
fi

# 5. The Kafka Outbound listener benchmark: its own sluice (pipeline on),
# same broker.
if want outbound; then
	log "outbound benchmark"
	${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" outbound \
		--sluice-bin "$WORK/sluice" --kafka-brokers "$PLAIN" --direct-bootstrap "$SASL" --direct-ca "$CA" \
		--broker-pid "$BROKER_PID" --work-dir "$WORK" --clk-tck "$(getconf CLK_TCK)" \
		--out "$WORK/outbound.md" --plot "$HERE/outbound-latency.png" --raw "$HERE/outbound.json" \
		--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" \
		${OUTBOUND_ARGS[@]+"${OUTBOUND_ARGS[@]}"}
	if [[ -s "$WORK/outbound-sluice.err" ]]; then
		log "sluice logged (warn and above) in outbound-sluice.err:"
		tail -n 20 "$WORK/outbound-sluice.err" >&2
	fi
	SECTIONS+=("outbound=$WORK/outbound.md")
fi

# The Inbound A/B (not in the default set): this build against a baseline.
if want inbound-ab; then
	BASELINE_BIN=$INBOUND_AB_BASELINE
	if [[ ! -f $BASELINE_BIN ]]; then
		log "building the baseline sluice from $INBOUND_AB_BASELINE"
		mkdir -p "$WORK/baseline-src"
		git -C "$ROOT" archive "$INBOUND_AB_BASELINE" | tar -x -C "$WORK/baseline-src"
		(cd "$WORK/baseline-src" && go build -o "$WORK/sluice-baseline" ./cmd/sluice)
		BASELINE_BIN=$WORK/sluice-baseline
	fi
	log "inbound A/B against $INBOUND_AB_BASELINE"
	# shellcheck disable=SC2086
	${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" inbound-ab \
		--sluice-bin "$WORK/sluice" --baseline-bin "$BASELINE_BIN" --kafka-brokers "$PLAIN" --broker-pid "$BROKER_PID" \
		--work-dir "$WORK" --out "$WORK/inbound-ab.md" --raw "$HERE/inbound-ab.json" \
		--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES
baseline=$INBOUND_AB_BASELINE" ${INBOUND_AB_ARGS:-}
	SECTIONS+=("inbound-ab=$WORK/inbound-ab.md")
fi

# The idle connections benchmark: its own sluice, gateway only.
if want idle; then
	log "idle connections benchmark"
	# shellcheck disable=SC2086
	${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" idle \
		--sluice-bin "$WORK/sluice" --kafka-brokers "$PLAIN" --work-dir "$WORK" \
		--out "$WORK/idle.md" --raw "$WORK/idle.json" \
		--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" ${IDLE_ARGS:-}
	SECTIONS+=("idle=$WORK/idle.md")
fi

# 6. The fairness benchmark (not in the default set, see above).
if want fairness; then
	log "fairness benchmark"
	# shellcheck disable=SC2086
	${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" fairness \
		--sluice-bin "$WORK/sluice" --kafka-brokers "$PLAIN" --work-dir "$WORK" \
		--out "$WORK/fairness.md" --raw "$WORK/fairness.json" \
		--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" ${FAIRNESS_ARGS:-}
	SECTIONS+=("fairness=$WORK/fairness.md")
fi

# 7. The soak (issue 15's acceptance run): its own sluice, on the embedded
# log and/or the broker; one section holds the runs.
if want soak; then
	backends=(embedded kafka)
	[[ $SOAK_BACKEND != both ]] && backends=("$SOAK_BACKEND")
	: >"$WORK/soak.md"
	for backend in "${backends[@]}"; do
		log "soak benchmark on the $backend backend"
		mkdir -p "$WORK/soak-$backend"
		where=(--embedded)
		raw="$HERE/soak.json"
		if [[ $backend == kafka ]]; then
			where=(--kafka-brokers "$PLAIN")
			raw="$HERE/soak-kafka.json"
		fi
		${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" soak \
			--sluice-bin "$WORK/sluice" "${where[@]}" --work-dir "$WORK/soak-$backend" \
			--clk-tck "$(getconf CLK_TCK)" --out "$WORK/soak-$backend.md" --raw "$raw" \
			--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" \
			${SOAK_ARGS[@]+"${SOAK_ARGS[@]}"}
		[[ -s $WORK/soak.md ]] && printf '\n' >>"$WORK/soak.md"
		cat "$WORK/soak-$backend.md" >>"$WORK/soak.md"
	done
	SECTIONS+=("soak=$WORK/soak.md")
fi

# 8. The query benchmark (not in the default set, see above), once per
# store (--stores).
if want queries; then
	Q_PAIRS=()
	for st in ${STORES//,/ }; do
		log "queries benchmark on $st"
		dir="$WORK/queries-$st"
		mkdir -p "$dir"
		raw="$HERE/queries.json"
		extra=()
		if [[ $st == clickhouse ]]; then
			raw="$HERE/queries-clickhouse.json"
			extra=(--store "clickhouse://$CH_ADDR/queries")
		fi
		# shellcheck disable=SC2086
		${NICE[@]+"${NICE[@]}"} "$WORK/sluicebench" queries \
			--sluice-bin "$WORK/sluice" --work-dir "$dir" \
			--out "$dir/queries.md" --raw "$raw" \
			--command "$COMMAND" --repo "$ROOT" --env "$ENV_LINES" ${extra[@]+"${extra[@]}"} ${QUERIES_ARGS:-}
		Q_PAIRS+=("$raw=$dir/queries.md")
		# The loaded store is gigabytes: gone before the next engine loads.
		rm -rf "$dir/queries-data/store" "$dir/direct.tmp"
	done
	if ((${#Q_PAIRS[@]} > 1)); then
		"$WORK/sluicebench" engines queries "$WORK/queries.md" "${Q_PAIRS[@]}"
	else
		cp "${Q_PAIRS[0]#*=}" "$WORK/queries.md"
	fi
	SECTIONS+=("queries=$WORK/queries.md")
fi

# 9. The report: the sections just measured replace theirs.
"$WORK/sluicebench" sections "$HERE/RESULTS.md" "${SECTIONS[@]}"
OK=1
log "done: bench/RESULTS.md ($BENCHES)"
