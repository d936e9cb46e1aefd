//go:build cgo

package store

import "github.com/mattn/go-sqlite3"

// SQLiteVersion returns the version of the linked SQLite library.
func SQLiteVersion() string {
	v, _, _ := sqlite3.Version()
	return v
}
