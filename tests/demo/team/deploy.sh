#!/usr/bin/env bash
# The demo's deployment: `kubectl rollout status` (the demo's own kubectl, bin/kubectl) on a
# rollout that makes progress, stalls, then fails its deadline.  Job control on (set -m, once Steward watches), so
# that tmux sees kubectl in the foreground as it would in an interactive shell.
set -u
. "$(dirname "$0")/pace.sh"
PATH=$(cd "$(dirname "$0")/bin" && pwd):$PATH
wait_for_go
set -m
printf '$ %s\n' "kubectl rollout status deployment/api --timeout=10m"
kubectl rollout status deployment/api --timeout=10m
exec bash --norc --noprofile -i
