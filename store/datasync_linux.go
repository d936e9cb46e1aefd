package store

import (
	"os"
	"syscall"
)

// dataSync flushes a file's data and the metadata needed to read it back
// (its size), but not its times: SQLite syncs its WAL the same way. A log
// that is overwritten in place then costs no journal commit.
func dataSync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
