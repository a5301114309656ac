#!/usr/bin/env bash
# Installs the real Kafka clients the end-to-end tests drive through the
# Kafka Inbound listener (e2e/inbound_*_test.go). Idempotent: when everything
# is in place it checks and returns in well under a second.
#
#   scripts/install-clients.sh
#
# What goes where (the tests look exactly there, and FAIL if something is
# missing rather than skip):
#   kcat     Debian's kcat (librdkafka 2.0.2 on bookworm), on PATH;
#            `apt-get update` runs only when kcat is missing. Override the
#            binary with KCAT=/path/to/kcat.
#   Python   a venv at ${SLUICE_CACHE:-$HOME/.cache/sluice}/venv with the
#            pinned packages of e2e/clients/python/requirements.txt
#            (confluent-kafka, kafka-python 2.0.2 and its codecs; Keen's
#            own client, keen). Override
#            the interpreter with SLUICE_CLIENTS_PYTHON=/path/to/python.
#   Node.js  `npm ci` in e2e/clients/node (kafkajs 2.2.4, package-lock.json)
#            and in e2e/clients/keen (Keen's keen-tracking and
#            keen-analysis); the tests run `node` from PATH there.
#   Browser  Debian's chromium (headless, for the Streams page test
#            e2e/streams_browser_test.go) and `npm ci` in e2e/browser
#            (playwright-core, pinned in package-lock.json; it downloads no
#            browser of its own). Override the browser with CHROMIUM=/path.
#
# Prints one summary line on success; problems go to stderr with a non-zero
# exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${SLUICE_CACHE:-${HOME:-/tmp}/.cache/sluice}"
VENV="$CACHE/venv"
REQS="$ROOT/e2e/clients/python/requirements.txt"
NODE_DIR="$ROOT/e2e/clients/node"

die() {
	echo "install-clients.sh: $*" >&2
	exit 1
}

# Runs a command quietly; shows its output only if it fails.
quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		die "failed: $*"
	fi
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

done_what=()

# --- Debian packages: kcat, chromium ---
apt_missing=()
if [[ -n ${KCAT:-} ]]; then
	[[ -x $KCAT ]] || die "KCAT=$KCAT is not executable"
elif ! command -v kcat >/dev/null; then
	apt_missing+=(kcat)
fi
if [[ -n ${CHROMIUM:-} ]]; then
	[[ -x $CHROMIUM ]] || die "CHROMIUM=$CHROMIUM is not executable"
elif [[ ! -x /usr/bin/chromium ]]; then
	apt_missing+=(chromium)
fi
if ((${#apt_missing[@]})); then
	command -v apt-get >/dev/null || die "${apt_missing[*]} missing and there is no apt-get: install them by hand"
	sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "${apt_missing[*]} missing: apt-get needs root (or sudo)"
		sudo=(sudo)
	fi
	quiet "${sudo[@]}" apt-get update
	quiet env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${apt_missing[@]}"
	done_what+=("${apt_missing[@]}")
fi

# --- Python venv ---
[[ -f $REQS ]] || die "$REQS not found"
want=$(hash_of "$REQS")
stamp="$VENV/.sluice-requirements.sha256"
if [[ ! -x $VENV/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	command -v python3 >/dev/null || die "python3 not found"
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.venv.lock"
	flock 9
	if [[ ! -x $VENV/bin/python ]]; then
		quiet python3 -m venv "$VENV"
	fi
	quiet "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQS"
	# Every client and codec must import, or the venv is not usable.
	quiet "$VENV/bin/python" -c 'import confluent_kafka, kafka, snappy, lz4.frame, zstandard; import keen.client; from kafka.codec import has_snappy, has_lz4, has_zstd; assert has_snappy() and has_lz4() and has_zstd()'
	echo "$want" >"$stamp"
	exec 9>&-
	done_what+=("python venv")
fi

# --- Node.js (kafkajs) ---
command -v node >/dev/null || die "node not found (Node.js 14+ is needed for kafkajs)"
want=$(hash_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")
stamp="$NODE_DIR/node_modules/.sluice-lock.sha256"
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	command -v npm >/dev/null || die "npm not found"
	quiet npm ci --prefix "$NODE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
	echo "$want" >"$stamp"
	done_what+=("kafkajs")
fi

# --- Node.js (Keen's keen-tracking and keen-analysis) ---
KEEN_DIR="$ROOT/e2e/clients/keen"
want=$(hash_of "$KEEN_DIR/package.json" "$KEEN_DIR/package-lock.json")
stamp="$KEEN_DIR/node_modules/.sluice-lock.sha256"
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	command -v npm >/dev/null || die "npm not found"
	quiet npm ci --prefix "$KEEN_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
	echo "$want" >"$stamp"
	done_what+=("keen-tracking keen-analysis")
fi

# --- Browser test driver (playwright-core) ---
BROWSER_DIR="$ROOT/e2e/browser"
want=$(hash_of "$BROWSER_DIR/package.json" "$BROWSER_DIR/package-lock.json")
stamp="$BROWSER_DIR/node_modules/.sluice-lock.sha256"
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	command -v npm >/dev/null || die "npm not found"
	quiet npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
	echo "$want" >"$stamp"
	done_what+=("playwright-core")
fi

kcat_bin=${KCAT:-$(command -v kcat)}
if ((${#done_what[@]})); then
	what="installed: ${done_what[*]}"
else
	what="already installed"
fi
echo "Test clients $what (kcat $kcat_bin, venv $VENV, node $NODE_DIR/node_modules, browser ${CHROMIUM:-/usr/bin/chromium} with $BROWSER_DIR/node_modules)"
