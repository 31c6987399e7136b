#!/bin/sh
# Healthy once the entrypoint has brought the stack up and every service in
# services.txt has a running container.
set -eu
ESB_HOME=${ESB_HOME:-/esb}
PROJECT=${ESB_PROJECT:-esb}

[ -f /run/esb/ready ] || { echo "stack not started yet"; exit 1; }
while read -r service; do
    running=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$service" --filter status=running)
    [ -n "$running" ] || { echo "service $service is not running"; exit 1; }
done <"$ESB_HOME/stack/services.txt"
echo "all services running"
