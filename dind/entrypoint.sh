#!/bin/sh
# Starts the inner dockerd, loads the bundled images, checks them against the
# list the bundler wrote, and brings the stack up with compose. On SIGTERM it
# stops the services, then dockerd, then exits. POSIX sh, so that both the
# Debian base and docker:dind (Alpine) can run it.
set -eu

ESB_HOME=${ESB_HOME:-/esb}
STACK_DIR="$ESB_HOME/stack"
STATE_DIR=/run/esb
DOCKERD_LOG=/var/log/esb-dockerd.log
DOCKERD_TIMEOUT=${ESB_DOCKERD_TIMEOUT:-60}
PROJECT=${ESB_PROJECT:-esb}

log() { echo "[esb] $*" >&2; }

compose() {
    if command -v docker-compose >/dev/null 2>&1; then
        docker-compose -p "$PROJECT" -f "$STACK_DIR/compose.yaml" -f "$STACK_DIR/compose.functions.yaml" "$@"
    else
        docker compose -p "$PROJECT" -f "$STACK_DIR/compose.yaml" -f "$STACK_DIR/compose.functions.yaml" "$@"
    fi
}

# With cgroup v2 a process may not sit in a cgroup whose controllers are
# delegated to children, so move everything into a leaf first.
prepare_cgroups() {
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        mkdir -p /sys/fs/cgroup/esb-init
        xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/esb-init/cgroup.procs 2>/dev/null || true
        sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    fi
}

dockerd_pid=
stack_started=no

# Stops what runs, in order: the services, then dockerd. Used on SIGTERM and
# on every failure once dockerd runs, so that dockerd is never killed by the
# kernel when this process exits.
shutdown() {
    rm -f "$STATE_DIR/ready"
    if [ "$stack_started" = yes ]; then
        log "stopping the services"
        compose stop --timeout 10 >&2 || true
    fi
    if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
        log "stopping dockerd"
        kill -TERM "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}

fail() {
    echo "[esb] error: $*" >&2
    trap - TERM INT
    shutdown
    exit 1
}

on_signal() {
    trap - TERM INT
    log "stopping: services first, then dockerd"
    shutdown
    log "stopped"
    exit 0
}
trap on_signal TERM INT

# Runs a command in the background and waits for it, because the shell runs a
# trap only between commands: SIGTERM during a long `docker load` is then
# handled at once instead of after the load.
interruptible() {
    "$@" &
    command_pid=$!
    wait "$command_pid"
}

mkdir -p "$STATE_DIR"
rm -f "$STATE_DIR/ready"
prepare_cgroups

# A container killed without a clean stop keeps dockerd's and containerd's
# pid files in its writable layer. The restarted dockerd may get the same PID
# and would then refuse to start, so remove them: nothing else runs yet.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid

# The inner engine listens on its unix socket only, never on TCP.
log "starting dockerd (log: $DOCKERD_LOG)"
dockerd --host=unix:///var/run/docker.sock >"$DOCKERD_LOG" 2>&1 &
dockerd_pid=$!

waited=0
until docker version >/dev/null 2>&1; do
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
        tail -n 30 "$DOCKERD_LOG" >&2
        fail "dockerd exited during start-up; its last log lines are above"
    fi
    if [ "$waited" -ge "$DOCKERD_TIMEOUT" ]; then
        tail -n 30 "$DOCKERD_LOG" >&2
        fail "dockerd did not answer within ${DOCKERD_TIMEOUT} s; its last log lines are above"
    fi
    sleep 1
    waited=$((waited + 1))
done
log "dockerd answers after ${waited} s"

# images.txt has one `REFERENCE IMAGE_ID` line per image of bundle.json.
all_present() {
    while read -r reference image_id; do
        [ "$(docker image inspect -f '{{.Id}}' "$reference" 2>/dev/null)" = "$image_id" ] || return 1
    done <"$ESB_HOME/images.txt"
}
if all_present; then
    log "images already loaded (the /var/lib/docker volume was kept)"
else
    log "loading $ESB_HOME/images.tar"
    interruptible docker load -i "$ESB_HOME/images.tar" >&2 || fail "docker load of $ESB_HOME/images.tar failed"
fi
mismatched=0
while read -r reference image_id; do
    actual=$(docker image inspect -f '{{.Id}}' "$reference" 2>/dev/null || echo missing)
    if [ "$actual" != "$image_id" ]; then
        log "image $reference: expected $image_id, found $actual"
        mismatched=$((mismatched + 1))
    fi
done <"$ESB_HOME/images.txt"
[ "$mismatched" -eq 0 ] || fail "$mismatched images do not match bundle.json"
log "$(wc -l <"$ESB_HOME/images.txt") images match bundle.json"

log "starting the stack"
stack_started=yes
interruptible compose up -d --no-build --remove-orphans >&2 || fail "compose up failed"
touch "$STATE_DIR/ready"
log "stack is up"

# Wait in short slices so that the TERM trap runs promptly.
while kill -0 "$dockerd_pid" 2>/dev/null; do
    sleep 1 &
    wait $! || true
done
tail -n 30 "$DOCKERD_LOG" >&2
dockerd_pid=
fail "dockerd exited unexpectedly; its last log lines are above"
