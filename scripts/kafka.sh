#!/usr/bin/env bash
# Apache Kafka (KRaft) test harness: real brokers from Maven Central jars, no
# tarball, no container. Used by internal/kafkatest and usable by hand.
#
#   scripts/kafka.sh fetch
#       Resolve the jars listed in scripts/kafka/pom.xml into
#       ${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka-<version>/lib (prints that path).
#   scripts/kafka.sh start --dir DIR --brokers N --port BASE [--sasl]
#                          [--set key=value]... [--owner-pid PID]
#       Format and start N combined broker+controller nodes (N=1 or 3; up to 5).
#       Node i (1-based) listens on 127.0.0.1 only:
#         BASE+10*(i-1)     PLAINTEXT  (clients and inter-broker)
#         BASE+10*(i-1)+1   CONTROLLER
#         BASE+10*(i-1)+2   SASL_SSL   (only with --sasl; PLAIN, SCRAM-SHA-256,
#                                       SCRAM-SHA-512; user admin/admin-secret)
#       --set appends a broker property to every node (later wins), e.g.
#       --set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
#       --owner-pid stops the cluster once that process has exited, so a killed
#       test run does not leave JVMs behind.
#       Files: DIR/nodeN/{server.properties,server.log,stdout.log,pid,data/},
#       with --sasl also DIR/tls/{ca.pem,server.pem,server.key} and
#       DIR/client-sasl.properties (Java client config: SASL_SSL + PLAIN).
#       Running start again on a stopped DIR restarts the same cluster.
#   scripts/kafka.sh stop --dir DIR
#       SIGTERM every node, SIGKILL what is left after ${KAFKA_STOP_TIMEOUT:-20} s.
#   scripts/kafka.sh tools CLASS [ARGS...]
#       java -cp 'lib/*' CLASS ARGS, e.g. org.apache.kafka.tools.ConsoleProducer,
#       org.apache.kafka.tools.consumer.ConsoleConsumer, org.apache.kafka.tools.TopicCommand.
#
# Output of start: progress goes to stderr; stdout is exactly
#   ca=DIR/tls/ca.pem                      (only with --sasl)
#   sasl=127.0.0.1:P1,127.0.0.1:P2,...     (only with --sasl)
#   127.0.0.1:P1,127.0.0.1:P2,...          (always the last line: PLAINTEXT bootstrap)
#
# Environment: SLUICE_CACHE, KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS,
# KAFKA_START_TIMEOUT (seconds, default 90), KAFKA_STOP_TIMEOUT, JAVA_HOME.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
POM="$HERE/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
CACHE="${SLUICE_CACHE:-${HOME:-/tmp}/.cache/sluice}/kafka-$KAFKA_VERSION"
LIB="$CACHE/lib"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

# Three JVMs share two cores with the tests. A small heap, the serial collector
# and C1 only halve each broker's start-up CPU (2.6 s against 4.8 s with the
# JVM defaults; a 3-node start takes 7 s instead of 12 s). C1 code is slower
# in steady state: override KAFKA_JVM_OPTS for benchmarks.
read -r -a HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
read -r -a JVM_OPTS <<<"${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true}"

USER_NAME="admin"
USER_PASSWORD="admin-secret"

log() { echo "kafka.sh: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

fetched() {
	[[ -f "$CACHE/.fetched" && -d "$LIB" ]] &&
		[[ "$(cat "$CACHE/.fetched")" == "$(sha256sum <"$POM" | cut -d' ' -f1)" ]]
}

cmd_fetch() {
	mkdir -p "$CACHE"
	# Test packages run in parallel and may all fetch at once.
	exec 9>"$CACHE/.lock"
	flock 9
	if ! fetched; then
		command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
		log "resolving Apache Kafka $KAFKA_VERSION jars into $LIB"
		local tmp="$CACHE/lib.tmp.$$"
		rm -rf "$tmp"
		# Maven's output goes to stderr (`tools` output must stay clean),
		# minus the colour resets Maven 3.8 prints even in batch mode.
		if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 |
			sed -e $'s/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; then
			rm -rf "$tmp"
			die "mvn dependency:copy-dependencies failed"
		fi
		rm -rf "$LIB"
		mv "$tmp" "$LIB"
		sha256sum <"$POM" | cut -d' ' -f1 >"$CACHE/.fetched"
	fi
	exec 9>&-
	echo "$LIB"
}

ensure_fetched() {
	fetched || cmd_fetch >/dev/null
}

need_java() {
	command -v "$JAVA" >/dev/null || die "java not found (Kafka 4.x needs Java 17+; apt-get install openjdk-17-jre-headless)"
}

# A Kafka cluster id: 16 random bytes, unpadded base64url. Kafka's own
# generator also rejects ids starting with '-' (they parse as CLI flags).
new_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id != -* ]] && break
	done
	echo "$id"
}

# Echo a PEM file as a single .properties value: embedded newlines escaped,
# lines joined with continuation backslashes.
pem_prop() {
	local first=1 line
	while IFS= read -r line; do
		[[ -z $line ]] && continue
		if ((first)); then first=0; else printf '\\n\\\n'; fi
		printf '%s' "$line"
	done <"$1"
	printf '\n'
}

make_tls() {
	local tls="$1/tls"
	[[ -f "$tls/server.pem" && -f "$tls/server.key" && -f "$tls/ca.pem" ]] && return 0
	command -v openssl >/dev/null || die "openssl not found"
	mkdir -p "$tls"
	log "generating CA and server certificate in $tls"
	(
		cd "$tls"
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
			-subj "/CN=sluice test CA" -keyout ca.key -out ca.pem \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		# genpkey writes unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), the only
		# form Kafka's PEM keystore reads without ssl.key.password.
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server.key 2>/dev/null
		openssl req -new -key server.key -subj "/CN=localhost" -out server.csr 2>/dev/null
		cat >server.ext <<-'EOF'
			basicConstraints=CA:FALSE
			keyUsage=critical,digitalSignature,keyEncipherment
			extendedKeyUsage=serverAuth
			subjectAltName=IP:127.0.0.1,DNS:localhost
		EOF
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-days 3650 -sha256 -extfile server.ext -out server.crt 2>/dev/null
		cat server.crt ca.pem >server.pem
		rm -f server.csr server.ext ca.srl
	)
}

pid_alive() {
	local pid=$1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	# Guard against a recycled pid: it must still be our broker JVM.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka '
}

node_pid() {
	if [[ -f "$1/pid" ]]; then cat "$1/pid"; fi
}

log_tails() {
	local dir=$1 n
	for n in "$dir"/node*; do
		[[ -d $n ]] || continue
		for f in stdout.log server.log; do
			[[ -s "$n/$f" ]] || continue
			echo "----- $n/$f (last 40 lines) -----" >&2
			tail -n 40 "$n/$f" >&2
		done
	done
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
	local dir="" brokers=1 base="" sasl=0 owner="" sets=()
	while (($#)); do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--brokers) brokers=$2; shift 2 ;;
		--port) base=$2; shift 2 ;;
		--sasl) sasl=1; shift ;;
		--set) sets+=("$2"); shift 2 ;;
		--owner-pid) owner=$2; shift 2 ;;
		*) die "start: unknown argument $1" ;;
		esac
	done
	[[ -n $dir ]] || die "start: --dir is required"
	[[ $base =~ ^[0-9]+$ ]] || die "start: --port BASE is required"
	[[ $brokers =~ ^[1-5]$ ]] || die "start: --brokers must be 1..5"
	((base + 10 * (brokers - 1) + 2 <= 65535)) || die "start: --port too high"
	need_java
	ensure_fetched

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local i
	for ((i = 1; i <= brokers; i++)); do
		if pid_alive "$(node_pid "$dir/node$i")"; then
			die "node $i in $dir is already running (scripts/kafka.sh stop --dir $dir)"
		fi
	done

	local rf=$((brokers < 3 ? brokers : 3))
	local minisr=$((rf >= 3 ? 2 : 1))
	local voters="" plain="" saslboot=""
	for ((i = 1; i <= brokers; i++)); do
		local p=$((base + 10 * (i - 1)))
		voters+="${voters:+,}$i@127.0.0.1:$((p + 1))"
		plain+="${plain:+,}127.0.0.1:$p"
		saslboot+="${saslboot:+,}127.0.0.1:$((p + 2))"
	done

	((sasl)) && make_tls "$dir"

	# Restarting a stopped cluster must reuse its id: the storage is formatted.
	[[ -s "$dir/cluster.id" ]] || new_cluster_id >"$dir/cluster.id"
	local cid
	cid=$(cat "$dir/cluster.id")

	local fmt_pids=()
	for ((i = 1; i <= brokers; i++)); do
		local n="$dir/node$i" p=$((base + 10 * (i - 1)))
		mkdir -p "$n/data"
		{
			cat <<-EOF
				# Written by scripts/kafka.sh start; rewritten on every start.
				process.roles=broker,controller
				node.id=$i
				controller.quorum.voters=$voters
				controller.listener.names=CONTROLLER
				inter.broker.listener.name=PLAINTEXT
				log.dirs=$n/data

				auto.create.topics.enable=false
				group.initial.rebalance.delay.ms=0
				num.partitions=1
				default.replication.factor=$rf
				min.insync.replicas=$minisr
				offsets.topic.replication.factor=$rf
				transaction.state.log.replication.factor=$rf
				transaction.state.log.min.isr=$minisr
				share.coordinator.state.topic.replication.factor=$rf
				share.coordinator.state.topic.min.isr=$minisr
				# Creating 50 __consumer_offsets partitions (x RF) on the first
				# FindCoordinator is the slowest step of a cold cluster on 2 cores.
				offsets.topic.num.partitions=10
				transaction.state.log.num.partitions=10

				# Thread pools and buffers sized for a test host, not a server.
				num.network.threads=2
				num.io.threads=2
				background.threads=4
				num.recovery.threads.per.data.dir=1
				log.cleaner.dedupe.buffer.size=16777216
			EOF
			if ((sasl)); then
				cat <<-EOF
					listeners=PLAINTEXT://127.0.0.1:$p,CONTROLLER://127.0.0.1:$((p + 1)),SASL_SSL://127.0.0.1:$((p + 2))
					advertised.listeners=PLAINTEXT://127.0.0.1:$p,SASL_SSL://127.0.0.1:$((p + 2))
					listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
					listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
					listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$USER_NAME" password="$USER_PASSWORD" user_$USER_NAME="$USER_PASSWORD";
					listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
					listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
					listener.name.sasl_ssl.ssl.keystore.type=PEM
				EOF
				printf 'listener.name.sasl_ssl.ssl.keystore.certificate.chain='
				pem_prop "$dir/tls/server.pem"
				printf 'listener.name.sasl_ssl.ssl.keystore.key='
				pem_prop "$dir/tls/server.key"
			else
				cat <<-EOF
					listeners=PLAINTEXT://127.0.0.1:$p,CONTROLLER://127.0.0.1:$((p + 1))
					advertised.listeners=PLAINTEXT://127.0.0.1:$p
					listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
				EOF
			fi
			local kv
			for kv in ${sets[@]+"${sets[@]}"}; do
				printf '%s\n' "$kv"
			done
		} >"$n/server.properties"

		if [[ ! -f "$n/data/meta.properties" ]]; then
			local args=(format -t "$cid" -c "$n/server.properties")
			if ((sasl)); then
				args+=(--add-scram "SCRAM-SHA-256=[name=$USER_NAME,password=$USER_PASSWORD]")
				args+=(--add-scram "SCRAM-SHA-512=[name=$USER_NAME,password=$USER_PASSWORD]")
			fi
			# Formatting is one short JVM per node; run them side by side.
			"$JAVA" "${JVM_OPTS[@]}" -Xmx256m -Dlog4j2.configurationFile="$HERE/kafka/tools-log4j2.properties" \
				-cp "$LIB/*" kafka.tools.StorageTool "${args[@]}" >"$n/format.log" 2>&1 &
			fmt_pids+=("$i:$!")
		fi
	done
	local fp
	for fp in ${fmt_pids[@]+"${fmt_pids[@]}"}; do
		if ! wait "${fp#*:}"; then
			cat "$dir/node${fp%%:*}/format.log" >&2
			die "formatting node ${fp%%:*} failed"
		fi
	done

	if ((sasl)); then
		cat >"$dir/client-sasl.properties" <<-EOF
			security.protocol=SASL_SSL
			sasl.mechanism=PLAIN
			sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$USER_NAME" password="$USER_PASSWORD";
			ssl.truststore.type=PEM
			ssl.truststore.location=$dir/tls/ca.pem
		EOF
	fi

	log "starting $brokers node(s) of Kafka $KAFKA_VERSION in $dir"
	# A caller that gives up (Go's exec.CommandContext, Ctrl-C) must not leave
	# half-started brokers behind.
	# shellcheck disable=SC2064
	trap "cmd_stop --dir $(printf %q "$dir") >/dev/null 2>&1 || true; exit 143" TERM INT HUP
	for ((i = 1; i <= brokers; i++)); do
		local n="$dir/node$i"
		# Readiness is read from a fresh log; keep the last run's for a restart.
		if [[ -f "$n/server.log" ]]; then mv -f "$n/server.log" "$n/server.log.prev"; fi
		# Detached stdio: whoever runs this script (exec.Cmd with pipes) must
		# see EOF when the script exits, not when the brokers do.
		"$JAVA" "${HEAP_OPTS[@]}" "${JVM_OPTS[@]}" \
			-Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
			-Dkafka.logs.dir="$n" \
			-cp "$LIB/*" kafka.Kafka "$n/server.properties" \
			</dev/null >"$n/stdout.log" 2>&1 &
		echo $! >"$n/pid"
	done

	if [[ -n $owner ]]; then
		# shellcheck disable=SC2016
		SLUICE_KAFKA_WATCHDOG=1 nohup bash -c '
			while kill -0 "$1" 2>/dev/null && [[ -f "$2/node1/pid" ]]; do sleep 1; done
			[[ -f "$2/node1/pid" ]] && exec bash "$3" stop --dir "$2"
		' watchdog "$owner" "$dir" "$SELF" </dev/null >/dev/null 2>&1 &
		echo $! >"$dir/watchdog.pid"
	fi

	local timeout=${KAFKA_START_TIMEOUT:-90} start=$SECONDS
	local ready=()
	while :; do
		local all=1
		for ((i = 1; i <= brokers; i++)); do
			[[ ${ready[i]:-0} == 1 ]] && continue
			local n="$dir/node$i" p=$((base + 10 * (i - 1)))
			# kill -0, not pid_alive: right after the fork the child has not
			# exec'd java yet, so its command line is still this script's.
			if ! kill -0 "$(node_pid "$n")" 2>/dev/null; then
				log_tails "$dir"
				cmd_stop --dir "$dir" >/dev/null 2>&1 || true
				die "node $i exited during start-up (logs above, in $n)"
			fi
			if grep -q 'Kafka Server started' "$n/server.log" 2>/dev/null &&
				port_open "$p" && { ((!sasl)) || port_open $((p + 2)); }; then
				ready[i]=1
				log "node $i ready after $((SECONDS - start)) s"
			else
				all=0
			fi
		done
		((all)) && break
		if ((SECONDS - start >= timeout)); then
			log_tails "$dir"
			cmd_stop --dir "$dir" >/dev/null 2>&1 || true
			die "cluster in $dir not ready after ${timeout} s (logs above)"
		fi
		sleep 0.5
	done

	trap - TERM INT HUP

	if ((sasl)); then
		echo "ca=$dir/tls/ca.pem"
		echo "sasl=$saslboot"
	fi
	echo "$plain"
}

cmd_stop() {
	local dir=""
	while (($#)); do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		*) die "stop: unknown argument $1" ;;
		esac
	done
	[[ -n $dir ]] || die "stop: --dir is required"
	[[ -d $dir ]] || return 0

	if [[ -z ${SLUICE_KAFKA_WATCHDOG:-} && -f "$dir/watchdog.pid" ]]; then
		kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
	fi
	rm -f "$dir/watchdog.pid"

	# All nodes at once: stopped one by one, the last ones would be left
	# without a controller quorum and their controlled shutdown would stall.
	local pids=() n pid voters=0
	for n in "$dir"/node*; do
		[[ -d $n ]] || continue
		voters=$((voters + 1))
		pid=$(node_pid "$n")
		if pid_alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	# Even together it is a race: a node whose broker half is still waiting
	# for the controller when the others have exited waits for minutes (seen
	# in about one 3-node stop in three). Once fewer than a majority of the
	# voters run, nothing can commit any more: allow the ~5 s raft resignation
	# timeout, then kill.
	local timeout=${KAFKA_STOP_TIMEOUT:-20} majority=$((voters / 2 + 1))
	local deadline=$((SECONDS + timeout)) lost=""
	while ((${#pids[@]})); do
		local left=()
		for pid in "${pids[@]}"; do
			if pid_alive "$pid"; then left+=("$pid"); fi
		done
		pids=(${left[@]+"${left[@]}"})
		((${#pids[@]})) || break
		if [[ -z $lost ]] && ((${#pids[@]} < majority)); then lost=$SECONDS; fi
		if ((SECONDS >= deadline)) || { [[ -n $lost ]] && ((SECONDS - lost >= 6)); }; then
			log "killing ${pids[*]}: no clean exit after $((SECONDS + timeout - deadline)) s"
			kill -KILL "${pids[@]}" 2>/dev/null || true
			# Return only once the ports are free for the next start.
			local wait_until=$((SECONDS + 5))
			while ((SECONDS < wait_until)); do
				left=()
				for pid in "${pids[@]}"; do
					if pid_alive "$pid"; then left+=("$pid"); fi
				done
				((${#left[@]})) || break
				sleep 0.1
			done
			break
		fi
		sleep 0.2
	done
	for n in "$dir"/node*; do
		rm -f "$n/pid"
	done
}

cmd_tools() {
	(($#)) || die "tools: CLASS is required"
	need_java
	ensure_fetched
	local class=$1
	shift
	exec "$JAVA" -Xms64m -Xmx256m "${JVM_OPTS[@]}" \
		-Dlog4j2.configurationFile="$HERE/kafka/tools-log4j2.properties" \
		-cp "$LIB/*" "$class" "$@"
}

(($#)) || usage
cmd=$1
shift
case $cmd in
fetch) cmd_fetch "$@" ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
tools) cmd_tools "$@" ;;
-h | --help | help) usage ;;
*) die "unknown command $cmd (fetch, start, stop, tools)" ;;
esac
