#!/usr/bin/env bash
# bench/run.sh: install the peer proxies that are missing, then run the
# end-to-end benchmark (bench/cmd/benche2e) with the same arguments.
#
#   bench/run.sh [--peers=haproxy,nginx,caddy] [--quick] [other benche2e flags]
#
# HAProxy and nginx come from Debian apt (root or passwordless sudo), Caddy
# from `go install` into bench/.tools (a few minutes). A peer that fails to
# install is not fatal: benche2e reports it as "not installed".
set -euo pipefail
cd "$(dirname "$0")/.."

CADDY_VERSION=v2.11.9
peers=haproxy,nginx,caddy
peers_set=0
quick=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case "${args[i]}" in
	--peers=* | -peers=*) peers="${args[i]#*=}" peers_set=1 ;;
	--peers | -peers) peers="${args[i + 1]:-}" peers_set=1 ;;
	--quick | -quick | --quick=true | -quick=true) quick=1 ;;
	esac
done
if ((quick && !peers_set)); then peers=""; fi # --quick measures no peers

log() { echo "run.sh: $*" >&2; }
want() { [[ ",$peers," == *",$1,"* ]]; }
have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x bench/.tools/$1 ]]; }

SUDO=()
if [[ $(id -u) != 0 ]]; then SUDO=(sudo -n); fi

# Debian starts nginx and HAProxy on port 80 when they are installed unless
# policy-rc.d says no. Create it only if absent, and remove only our own.
made_policy=0
cleanup() { if ((made_policy)); then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

install_apt() {
	if ((${#SUDO[@]})) && ! sudo -n true 2>/dev/null; then
		log "not root and no passwordless sudo: cannot apt-get install $*"
		return 1
	fi
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
		made_policy=1
	fi
	timeout 300 "${SUDO[@]}" apt-get update -q &&
		timeout 600 "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

pkgs=()
if want haproxy && ! have haproxy; then pkgs+=(haproxy); fi
if want nginx && ! have nginx; then pkgs+=(nginx-light); fi
if ((${#pkgs[@]})); then
	log "installing ${pkgs[*]} with apt-get"
	install_apt "${pkgs[@]}" || log "apt-get install ${pkgs[*]} failed; benche2e will report them as not installed"
	cleanup
	made_policy=0
fi

if want caddy && ! have caddy; then
	log "installing Caddy $CADDY_VERSION into bench/.tools (takes a few minutes)"
	tools="$PWD/bench/.tools"
	# Outside the module, so that nothing in go.mod influences Caddy's build.
	(cd "${TMPDIR:-/tmp}" && GOBIN="$tools" timeout 900 go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION") ||
		log "installing Caddy failed; benche2e will report it as not installed"
fi

exec go run ./bench/cmd/benche2e "$@"
