#!/usr/bin/env bash
# ClickHouse test harness: Debian's clickhouse-server (18.16.1 on bookworm),
# started as plain foreground processes in a directory of their own, no
# service, no container. Used by internal/clickhousetest and usable by hand.
#
#   scripts/clickhouse.sh install [--zookeeper]
#       Install clickhouse-server and clickhouse-client (and, with
#       --zookeeper, zookeeper) from Debian's packages when missing
#       (`apt-get update` only then). Idempotent.
#   scripts/clickhouse.sh chdb
#       Install chDB (a current ClickHouse engine, in process; PyPI's chdb,
#       version CHDB_VERSION below) into a venv at
#       ${SLUICE_CACHE:-$HOME/.cache/sluice}/chdb-venv when missing, and
#       print that venv's python. The engine's tests replay its SQL there.
#   scripts/clickhouse.sh start --dir DIR --port BASE [--shards N] [--replicas R] [--owner-pid PID]
#       Start N*R servers (N=1 or 2 shards of R=1 or 2 replicas), each with
#       a generated config. Server i (1-based; shard s, replica r:
#       i=(s-1)*R+r) listens on 127.0.0.1 only, native protocol on
#       BASE+10*(i-1) (no HTTP interface). Every server knows the cluster
#       "sluice" (N shards of R replicas), so a Distributed table over it
#       works from any of them.
#       With R=2, ZooKeeper (Debian's package, installed when missing) runs
#       too, as a plain foreground java process in DIR/zookeeper, client
#       port BASE+10*N*R on 127.0.0.1; every server uses it, has the macros
#       {shard} (s) and {replica} (r<s>_<r>), its interserver HTTP port
#       (replicas fetch parts there) on its native port + 1, and each shard
#       of "sluice" has internal_replication=true (a Distributed table
#       writes to one replica; ReplicatedMergeTree copies to the others),
#       and the default profile says load_balancing=in_order and
#       prefer_localhost_replica=0 (sluice requires them with replicas).
#       --owner-pid stops the servers (and ZooKeeper) once that process has exited, so a
#       killed test run does not leave servers behind.
#       Files: DIR/serverN/{config.xml,users.xml,server.log,stdout.log,pid,data/},
#       DIR/zookeeper/{zoo.cfg,zookeeper.log,pid,data/}.
#       Running start again on DIR (same --port, --shards and --replicas)
#       restarts its stopped or killed servers (and ZooKeeper) with their
#       data, leaving running ones be.
#   scripts/clickhouse.sh stop --dir DIR
#       SIGTERM every server (then ZooKeeper), SIGKILL what is left after
#       ${CLICKHOUSE_STOP_TIMEOUT:-15} s.
#
# Output of start: progress goes to stderr; stdout is exactly one line, the
# native addresses in server order: 127.0.0.1:P1[,127.0.0.1:P2…].
#
# Environment: CLICKHOUSE_START_TIMEOUT (seconds, default 60),
# CLICKHOUSE_STOP_TIMEOUT, CLICKHOUSE_SERVER (the server binary).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
SERVER="${CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}"
ZOOKEEPER_JAR=/usr/share/java/zookeeper.jar
CHDB_VERSION=4.4.0
CHDB_VENV="${SLUICE_CACHE:-${HOME:-/tmp}/.cache/sluice}/chdb-venv"

log() { echo "clickhouse.sh: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

WANT_ZOOKEEPER=""

installed() {
	[[ -x $SERVER ]] && command -v clickhouse-client >/dev/null || return 1
	[[ -z $WANT_ZOOKEEPER ]] || { [[ -f $ZOOKEEPER_JAR ]] && command -v java >/dev/null; }
}

cmd_install() {
	while (($#)); do
		case $1 in
		--zookeeper) WANT_ZOOKEEPER=1; shift ;;
		*) die "install: unknown argument $1" ;;
		esac
	done
	installed && return 0
	command -v apt-get >/dev/null || die "clickhouse-server missing and there is no apt-get: install it by hand"
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "clickhouse-server missing: apt-get needs root (or sudo)"
		sudo=(sudo)
	fi
	# Parallel test packages may all install at once.
	local lock="${TMPDIR:-/tmp}/sluice-clickhouse-install.lock"
	exec 9>"$lock"
	flock 9
	if ! installed; then
		local pkgs=(clickhouse-server clickhouse-client) out
		[[ -z $WANT_ZOOKEEPER ]] || pkgs+=(zookeeper)
		log "installing ${pkgs[*]} from Debian's packages"
		if ! apt-cache show "${pkgs[@]}" >/dev/null 2>&1; then
			out=$("${sudo[@]}" apt-get update 2>&1) || { printf '%s\n' "$out" >&2; die "apt-get update failed"; }
		fi
		out=$(DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends \
			"${pkgs[@]}" 2>&1) || { printf '%s\n' "$out" >&2; die "apt-get install failed"; }
		# The package enables a system service; the harness runs its own
		# servers and must not find the default ports taken.
		local svc
		for svc in clickhouse-server zookeeper; do
			if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
				"${sudo[@]}" systemctl stop "$svc" || true
			fi
		done
	fi
	exec 9>&-
	installed || die "clickhouse-server (or zookeeper, java) still missing after apt-get install"
}

cmd_chdb() {
	local py="$CHDB_VENV/bin/python" stamp="$CHDB_VENV/.sluice-chdb"
	if [[ ! -x $py || ! -f $stamp || $(cat "$stamp") != "$CHDB_VERSION" ]]; then
		command -v python3 >/dev/null || die "python3 not found"
		mkdir -p "$(dirname "$CHDB_VENV")"
		exec 9>"$CHDB_VENV.lock"
		flock 9
		if [[ ! -f $stamp || $(cat "$stamp") != "$CHDB_VERSION" ]]; then
			log "installing chdb $CHDB_VERSION into $CHDB_VENV"
			[[ -x $py ]] || python3 -m venv "$CHDB_VENV" >&2 || die "python3 -m venv failed"
			"$py" -m pip install --disable-pip-version-check --no-input -q "chdb==$CHDB_VERSION" >&2 ||
				die "pip install chdb==$CHDB_VERSION failed"
			"$py" -c 'import chdb' || die "chdb does not import"
			echo "$CHDB_VERSION" >"$stamp"
		fi
		exec 9>&-
	fi
	echo "$py"
}

pid_alive() {
	local pid=$1 what=${2:-clickhouse}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	# Guard against a recycled pid: it must still be a ClickHouse server
	# (or ZooKeeper).
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$what"
}

server_pid() {
	if [[ -f "$1/pid" ]]; then cat "$1/pid"; fi
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

log_tails() {
	local dir=$1 n f
	for n in "$dir"/server* "$dir"/zookeeper; do
		[[ -d $n ]] || continue
		for f in stdout.log server.err.log zookeeper.log; do
			[[ -s "$n/$f" ]] || continue
			echo "----- $n/$f (last 40 lines) -----" >&2
			tail -n 40 "$n/$f" >&2
		done
	done
}

# write_config DIR PORT SHARDS_XML [EXTRA_XML [PROFILE_XML]] writes a
# server's config.xml and users.xml.
write_config() {
	local n=$1 port=$2 shards=$3 extra=${4:-} profile=${5:-}
	cat >"$n/config.xml" <<-EOF
		<?xml version="1.0"?>
		<!-- Written by scripts/clickhouse.sh start; rewritten on every start. -->
		<yandex>
		    <logger>
		        <level>information</level>
		        <log>$n/server.log</log>
		        <errorlog>$n/server.err.log</errorlog>
		        <size>100M</size>
		        <count>2</count>
		    </logger>
		    <listen_host>127.0.0.1</listen_host>
		    <tcp_port>$port</tcp_port>
		    <path>$n/data/</path>
		    <tmp_path>$n/tmp/</tmp_path>
		    <user_files_path>$n/user_files/</user_files_path>
		    <format_schema_path>$n/format_schemas/</format_schema_path>
		    <users_config>$n/users.xml</users_config>
		    <default_profile>default</default_profile>
		    <default_database>default</default_database>
		    <timezone>UTC</timezone>
		    <max_connections>256</max_connections>
		    <keep_alive_timeout>3</keep_alive_timeout>
		    <max_concurrent_queries>100</max_concurrent_queries>
		    <!-- Caches sized for a test host, not a server. -->
		    <uncompressed_cache_size>67108864</uncompressed_cache_size>
		    <mark_cache_size>67108864</mark_cache_size>
		    <builtin_dictionaries_reload_interval>0</builtin_dictionaries_reload_interval>
		    <remote_servers>
		        <sluice>
		$shards
		        </sluice>
		    </remote_servers>
		$extra
		</yandex>
	EOF
	cat >"$n/users.xml" <<-EOF
		<?xml version="1.0"?>
		<yandex>
		    <profiles>
		        <default>
		            <max_memory_usage>2000000000</max_memory_usage>
		            <max_threads>2</max_threads>
		$profile
		        </default>
		    </profiles>
		    <users>
		        <default>
		            <password></password>
		            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
		            <profile>default</profile>
		            <quota>default</quota>
		        </default>
		    </users>
		    <quotas>
		        <default>
		            <interval>
		                <duration>3600</duration>
		                <queries>0</queries>
		                <errors>0</errors>
		                <result_rows>0</result_rows>
		                <read_rows>0</read_rows>
		                <execution_time>0</execution_time>
		            </interval>
		        </default>
		    </quotas>
		</yandex>
	EOF
}

# start_zookeeper DIR PORT starts ZooKeeper (standalone) in DIR/zookeeper
# unless it runs, and waits until it answers.
start_zookeeper() {
	local z="$1/zookeeper" port=$2
	if pid_alive "$(server_pid "$z")" zookeeper; then return 0; fi
	mkdir -p "$z/data"
	cat >"$z/zoo.cfg" <<-EOF
		# Written by scripts/clickhouse.sh start; rewritten on every start.
		tickTime=500
		initLimit=10
		syncLimit=5
		dataDir=$z/data
		clientPort=$port
		clientPortAddress=127.0.0.1
		maxClientCnxns=0
		admin.enableServer=false
		4lw.commands.whitelist=ruok
		autopurge.purgeInterval=1
	EOF
	cat >"$z/log4j.properties" <<-EOF
		log4j.rootLogger=INFO, FILE
		log4j.appender.FILE=org.apache.log4j.FileAppender
		log4j.appender.FILE.File=$z/zookeeper.log
		log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
		log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
	EOF
	log "starting ZooKeeper in $z (port $port)"
	java -Xms32m -Xmx256m -XX:+UseSerialGC \
		-cp "$z:$ZOOKEEPER_JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
		-Dlog4j.configuration="file:$z/log4j.properties" -Dzookeeper.jmx.log4j.disable=true \
		org.apache.zookeeper.server.ZooKeeperServerMain "$z/zoo.cfg" </dev/null >"$z/stdout.log" 2>&1 &
	echo $! >"$z/pid"
	local timeout=${CLICKHOUSE_START_TIMEOUT:-60} start=$SECONDS
	until [[ $( (exec 3<>"/dev/tcp/127.0.0.1/$port" && echo ruok >&3 && head -c 4 <&3) 2>/dev/null) == imok ]]; do
		if ! kill -0 "$(server_pid "$z")" 2>/dev/null; then
			log_tails "$1"
			die "ZooKeeper exited during start-up (logs above, in $z)"
		fi
		((SECONDS - start < timeout)) || die "ZooKeeper in $z not ready after ${timeout} s"
		sleep 0.2
	done
	log "ZooKeeper ready after $((SECONDS - start)) s"
}

cmd_start() {
	local dir="" nshards=1 nreplicas=1 base="" owner=""
	while (($#)); do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--shards) nshards=$2; shift 2 ;;
		--replicas) nreplicas=$2; shift 2 ;;
		--port) base=$2; shift 2 ;;
		--owner-pid) owner=$2; shift 2 ;;
		*) die "start: unknown argument $1" ;;
		esac
	done
	[[ -n $dir ]] || die "start: --dir is required"
	[[ $base =~ ^[0-9]+$ ]] || die "start: --port BASE is required"
	[[ $nshards =~ ^[12]$ ]] || die "start: --shards must be 1 or 2"
	[[ $nreplicas =~ ^[12]$ ]] || die "start: --replicas must be 1 or 2"
	local servers=$((nshards * nreplicas)) zkport=""
	((base + 10 * servers + 1 <= 65535)) || die "start: --port too high"
	if ((nreplicas > 1)); then
		WANT_ZOOKEEPER=1
		zkport=$((base + 10 * servers))
	fi
	cmd_install

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local i running=() down=0
	for ((i = 1; i <= servers; i++)); do
		if pid_alive "$(server_pid "$dir/server$i")"; then running[i]=1; else down=1; fi
	done
	if [[ -n $zkport ]] && ! pid_alive "$(server_pid "$dir/zookeeper")" zookeeper; then down=1; fi
	((down)) || die "every server in $dir is already running (scripts/clickhouse.sh stop --dir $dir)"

	local shards="" addrs="" s r
	for ((s = 1; s <= nshards; s++)); do
		shards+="            <shard>"
		((nreplicas == 1)) || shards+="<internal_replication>true</internal_replication>"
		for ((r = 1; r <= nreplicas; r++)); do
			local p=$((base + 10 * ((s - 1) * nreplicas + r - 1)))
			shards+="<replica><host>127.0.0.1</host><port>$p</port></replica>"
			addrs+="${addrs:+,}127.0.0.1:$p"
		done
		shards+="</shard>"$'\n'
	done

	# A caller that gives up must not leave half-started servers behind.
	# shellcheck disable=SC2064
	trap "cmd_stop --dir $(printf %q "$dir") >/dev/null 2>&1 || true; exit 143" TERM INT HUP
	[[ -z $zkport ]] || start_zookeeper "$dir" "$zkport"
	log "starting $servers ClickHouse server(s) in $dir"
	for ((i = 1; i <= servers; i++)); do
		[[ ${running[i]:-0} == 1 ]] && continue
		local n="$dir/server$i" p=$((base + 10 * (i - 1))) extra="" profile=""
		if [[ -n $zkport ]]; then
			s=$(((i - 1) / nreplicas + 1)) r=$(((i - 1) % nreplicas + 1))
			extra="<zookeeper><node><host>127.0.0.1</host><port>$zkport</port></node><session_timeout_ms>4000</session_timeout_ms></zookeeper>
		    <macros><shard>$s</shard><replica>r${s}_$r</replica></macros>
		    <interserver_http_host>127.0.0.1</interserver_http_host>
		    <interserver_http_port>$((p + 1))</interserver_http_port>"
			# What sluice requires of replicas (docs/clickhouse.md): a
			# Distributed query asks each shard's first live replica.
			profile="<load_balancing>in_order</load_balancing><prefer_localhost_replica>0</prefer_localhost_replica>"
		fi
		mkdir -p "$n/data" "$n/tmp" "$n/user_files" "$n/format_schemas"
		write_config "$n" "$p" "$shards" "$extra" "$profile"
		# Detached stdio: whoever runs this script (exec.Cmd with pipes)
		# must see EOF when the script exits, not when the servers do.
		"$SERVER" --config-file="$n/config.xml" </dev/null >"$n/stdout.log" 2>&1 &
		echo $! >"$n/pid"
	done

	if [[ -n $owner ]] && ! kill -0 "$(cat "$dir/watchdog.pid" 2>/dev/null)" 2>/dev/null; then
		# shellcheck disable=SC2016
		SLUICE_CLICKHOUSE_WATCHDOG=1 nohup bash -c '
			while kill -0 "$1" 2>/dev/null && [[ -f "$2/server1/pid" ]]; do sleep 1; done
			[[ -f "$2/server1/pid" ]] && exec bash "$3" stop --dir "$2"
		' watchdog "$owner" "$dir" "$SELF" </dev/null >/dev/null 2>&1 &
		echo $! >"$dir/watchdog.pid"
	fi

	local timeout=${CLICKHOUSE_START_TIMEOUT:-60} start=$SECONDS
	local ready=()
	while :; do
		local all=1
		for ((i = 1; i <= servers; i++)); do
			[[ ${ready[i]:-0} == 1 ]] && continue
			local n="$dir/server$i" p=$((base + 10 * (i - 1)))
			if ! kill -0 "$(server_pid "$n")" 2>/dev/null; then
				log_tails "$dir"
				cmd_stop --dir "$dir" >/dev/null 2>&1 || true
				die "server $i exited during start-up (logs above, in $n)"
			fi
			if port_open "$p" && clickhouse-client --host 127.0.0.1 --port "$p" -q "SELECT 1" >/dev/null 2>&1; then
				ready[i]=1
				log "server $i ready after $((SECONDS - start)) s"
			else
				all=0
			fi
		done
		((all)) && break
		if ((SECONDS - start >= timeout)); then
			log_tails "$dir"
			cmd_stop --dir "$dir" >/dev/null 2>&1 || true
			die "servers in $dir not ready after ${timeout} s (logs above)"
		fi
		sleep 0.2
	done
	trap - TERM INT HUP
	echo "$addrs"
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

	if [[ -z ${SLUICE_CLICKHOUSE_WATCHDOG:-} && -f "$dir/watchdog.pid" ]]; then
		kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
	fi
	rm -f "$dir/watchdog.pid"

	stop_pids "$dir"/server*
	# ZooKeeper last: replicas still running would wait on it.
	stop_pids "$dir/zookeeper"
	for n in "$dir"/server* "$dir/zookeeper"; do
		rm -f "$n/pid"
	done
}

# stop_pids DIR... SIGTERMs the process of each DIR/pid (a ClickHouse server
# or ZooKeeper) and SIGKILLs what is left after CLICKHOUSE_STOP_TIMEOUT.
stop_pids() {
	local pids=() n pid
	for n in "$@"; do
		[[ -d $n ]] || continue
		pid=$(server_pid "$n")
		if pid_alive "$pid" 'clickhouse\|zookeeper'; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	local deadline=$((SECONDS + ${CLICKHOUSE_STOP_TIMEOUT:-15}))
	while ((${#pids[@]})); do
		local left=()
		for pid in "${pids[@]}"; do
			if pid_alive "$pid" 'clickhouse\|zookeeper'; then left+=("$pid"); fi
		done
		pids=(${left[@]+"${left[@]}"})
		((${#pids[@]})) || break
		if ((SECONDS >= deadline)); then
			log "killing ${pids[*]}: no clean exit"
			kill -KILL "${pids[@]}" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
}

(($#)) || usage
cmd=$1
shift
case $cmd in
install) cmd_install "$@" ;;
chdb) cmd_chdb "$@" ;;
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
-h | --help | help) usage ;;
*) die "unknown command $cmd (install, chdb, start, stop)" ;;
esac
