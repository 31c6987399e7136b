#!/usr/bin/env bash
# Prepare this host to build and run ESB bundles: a Docker engine that
# answers on /var/run/docker.sock, debootstrap for the offline base images,
# and, where the host's capability bounding set is partial, an OCI runtime
# wrapper that lets `docker run --privileged` start. Safe to run again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
socket=/var/run/docker.sock
daemon_log=/var/log/esb-dockerd.log
wrapper=/usr/local/bin/esb-runc

log() { echo "[docker-host] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "error: docker-host.sh must run as root (it installs packages and starts dockerd)" >&2
    exit 1
fi

# Packages: the engine, compose v1 for running a stack on the host (the e2e
# suite does), the base-image builder and the wrapper's interpreter.
missing=()
for package in docker.io docker-compose debootstrap python3 curl; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A privileged container asks for every capability; runc fails when the host
# bounding set lacks one. Register the wrapper only where that is the case.
bounding=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
last_cap=$(cat /proc/sys/kernel/cap_last_cap)
full=$(((1 << (last_cap + 1)) - 1))
daemon_json=/etc/docker/daemon.json
config_changed=no
if [ "$bounding" -ne "$full" ]; then
    log "capability bounding set is partial ($(printf '%x' "$bounding")); using the $wrapper runtime"
    install -m 0755 "$here/esb-runc" "$wrapper"
    if ! grep -qs '"default-runtime": "esb-runc"' "$daemon_json"; then
        # Keep an operator's own settings: merge ours into them.
        mkdir -p /etc/docker
        python3 - "$daemon_json" "$wrapper" <<'PY'
import json, os, sys
path, wrapper = sys.argv[1:]
config = json.load(open(path)) if os.path.exists(path) else {}
config.setdefault("runtimes", {})["esb-runc"] = {"path": wrapper}
config["default-runtime"] = "esb-runc"
with open(path, "w") as out:
    json.dump(config, out, indent=2)
PY
        config_changed=yes
    fi
fi

engine_answers() { curl -sf --max-time 5 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1; }

if engine_answers; then
    if [ "$config_changed" = yes ]; then
        log "reloading dockerd for the new default runtime"
        pkill -HUP -x dockerd
        sleep 2
    fi
    log "engine answers on $socket"
else
    log "starting dockerd (log: $daemon_log)"
    nohup setsid dockerd >"$daemon_log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        engine_answers && break
        sleep 1
    done
    if ! engine_answers; then
        echo "error: dockerd did not answer on $socket within 60 s; last lines of $daemon_log:" >&2
        tail -n 20 "$daemon_log" >&2
        exit 1
    fi
    log "engine answers on $socket"
fi

# A dockerd started before the wrapper was registered keeps runc.
if [ "$bounding" -ne "$full" ]; then
    runtime=$(curl -sf --unix-socket "$socket" http://localhost/info | python3 -c 'import json,sys; print(json.load(sys.stdin).get("DefaultRuntime",""))')
    if [ "$runtime" != esb-runc ]; then
        echo "error: dockerd's default runtime is '$runtime', expected esb-runc; restart dockerd so it reads $daemon_json" >&2
        exit 1
    fi
fi
log "ready"
