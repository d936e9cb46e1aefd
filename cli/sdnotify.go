package cli

import (
	"net"
	"os"
	"strconv"
	"time"
)

// sdNotify sends one state ("READY=1", "STOPPING=1", "WATCHDOG=1",
// "STATUS=...") to systemd's notify socket. Outside systemd (no
// NOTIFY_SOCKET) it does nothing, so callers need not care.
func sdNotify(env envLookup, state string) error {
	path, ok := env("NOTIFY_SOCKET")
	if !ok || path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract socket namespace
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// sdWatchdogInterval is how often to send WATCHDOG=1: half of
// WatchdogSec, or 0 when systemd does not watch this process.
func sdWatchdogInterval(env envLookup) time.Duration {
	usec, _ := env("WATCHDOG_USEC")
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	if pid, ok := env("WATCHDOG_PID"); ok && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(n) * time.Microsecond / 2
}
