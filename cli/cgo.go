//go:build cgo

package cli

// cgoEnabled is false in a binary built without cgo, whose SQLite driver is
// a stub that fails every query; run refuses to start then.
const cgoEnabled = true
