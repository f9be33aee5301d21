package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// sdNotify sends a state line to systemd (sd_notify(3)) when relayd runs
// under Type=notify; it does nothing elsewhere. Errors are ignored: a
// missing supervisor must never stop mail.
func sdNotify(state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if sock[0] == '@' { // abstract namespace
		sock = "\x00" + sock[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}

// sdReloading is RELOADING=1 with the CLOCK_MONOTONIC timestamp that
// systemd >= 253 expects with it.
func sdReloading() string {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000)
}
