//go:build !cgo

package store

// SQLiteVersion without cgo: the driver is a stub and there is no SQLite.
// It exists so that such a binary still builds and can say why it refuses
// to start.
func SQLiteVersion() string { return "none (built without cgo)" }
