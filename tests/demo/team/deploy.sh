#!/usr/bin/env bash
# The demo's deployment: a rollout that makes progress, stalls, then fails its deadline, printed
# as `kubectl rollout status` prints it.
set -u
. "$(dirname "$0")/pace.sh"
wait_for_go
printf '$ %s\n' "kubectl rollout status deployment/api --timeout=10m"
echo 'Waiting for deployment "api" rollout to finish: 0 of 3 updated replicas are available...'
pace 2
echo 'Waiting for deployment "api" rollout to finish: 1 of 3 updated replicas are available...'
pace "${DEMO_STALL:-30}"
echo 'error: deployment "api" exceeded its progress deadline'
exec bash --norc --noprofile -i
