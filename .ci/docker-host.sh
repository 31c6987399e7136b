#!/usr/bin/env bash
# Prepare this host to build and run ESB bundles: a Docker engine that
# responds on /var/run/docker.sock, debootstrap for the offline base images,
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

# A privileged container requests every capability, and runc fails when the
# host bounding set lacks one. Register the wrapper only where that is the case.
bounding=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
last_cap=$(cat /proc/sys/kernel/cap_last_cap)
full=$(((1 << (last_cap + 1)) - 1))
daemon_json=/etc/docker/daemon.json
wrapper_needed=no
if [ "$bounding" -ne "$full" ]; then
    wrapper_needed=yes
    log "capability bounding set is partial ($(printf '%x' "$bounding")); using the $wrapper runtime"
    install -m 0755 "$here/esb-runc" "$wrapper"
    # Keep an operator's own settings: merge ours into them. Another default
    # runtime (nvidia, say) is not replaced silently, since the wrapper always
    # runs runc and would bypass it.
    mkdir -p /etc/docker
    if ! python3 - "$daemon_json" "$wrapper" <<'PY'
import json, os, sys
path, wrapper = sys.argv[1:]
try:
    config = json.load(open(path)) if os.path.exists(path) else {}
except ValueError as error:
    sys.exit(f"error: {path} is not valid JSON ({error}); fix it, then run this script again")
current = config.get("default-runtime")
if current not in (None, "runc", "esb-runc"):
    sys.exit(f"error: {path} sets default-runtime {current!r}; the esb-runc wrapper would bypass it. "
             "Remove that setting to use esb-runc, or start --privileged containers another way")
wanted = dict(config)
wanted.setdefault("runtimes", {})
wanted["runtimes"] = dict(wanted["runtimes"], **{"esb-runc": {"path": wrapper}})
wanted["default-runtime"] = "esb-runc"
if wanted != config:
    temporary = path + ".esb-tmp"
    with open(temporary, "w") as out:
        json.dump(wanted, out, indent=2)
    os.replace(temporary, path)
PY
    then
        exit 1
    fi
fi

engine_answers() { curl -sf --max-time 5 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1; }
default_runtime() {
    curl -sf --max-time 5 --unix-socket "$socket" http://localhost/info |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("DefaultRuntime",""))'
}

if ! engine_answers; then
    # A dockerd killed without a clean stop (as at the end of a CI job) leaves
    # its pid files behind. If another process has since got that PID, the new
    # dockerd refuses to start, so remove pid files whose process is not ours.
    for pid_file in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
        old_pid=$(cat "$pid_file" 2>/dev/null || true)
        case "$(cat "/proc/$old_pid/comm" 2>/dev/null || true)" in
            dockerd | containerd) ;;
            *) rm -f "$pid_file" ;;
        esac
    done
    log "starting dockerd (log: $daemon_log)"
    nohup setsid dockerd >"$daemon_log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        engine_answers && break
        sleep 1
    done
    if ! engine_answers; then
        echo "error: dockerd did not respond on $socket within 60 s; last lines of $daemon_log:" >&2
        tail -n 20 "$daemon_log" >&2
        exit 1
    fi
fi
log "engine answers on $socket"

# A dockerd started before the wrapper was registered still uses runc; it
# reloads its runtimes on SIGHUP. Only the host's own dockerd, named by its
# pid file, is signalled: bundles run dockerds of their own.
if [ "$wrapper_needed" = yes ] && [ "$(default_runtime)" != esb-runc ]; then
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -HUP "$pid" 2>/dev/null; then
        echo "error: dockerd does not use esb-runc and cannot be reloaded (no process for /var/run/docker.pid); restart it so it reads $daemon_json" >&2
        exit 1
    fi
    log "reloaded dockerd (pid $pid) for the esb-runc runtime"
    for _ in $(seq 1 10); do
        [ "$(default_runtime)" = esb-runc ] && break
        sleep 1
    done
    if [ "$(default_runtime)" != esb-runc ]; then
        echo "error: dockerd's default runtime is still '$(default_runtime)' after a reload; restart dockerd so it reads $daemon_json" >&2
        exit 1
    fi
fi
log "ready"
