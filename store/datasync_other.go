//go:build !linux

package store

import "os"

// dataSync flushes a file to disk; fdatasync is Linux-only here.
func dataSync(f *os.File) error { return f.Sync() }
