package main

// Commands of SPEC §2 whose implementation comes later are stubbed here.
// None is left: `test` is in cmd_probe.go, `queue` in cmd_queue.go.
