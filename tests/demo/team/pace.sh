# Sourced by the demo's team scripts: wait for Steward to be watching, then keep the pace.
wait_for_go() {
    while [ ! -e "$DEMO_DIR/go" ]; do sleep 0.2; done
}
pace() { sleep "$1"; }
