package cloudapi

import "sync/atomic"

// AppSecrets are the Meta app secrets that webhook signatures are checked
// with: those from the command line until an admin saves one in the panel,
// which then replaces them at once for every delivery that follows. The
// gateway reads them, the panel writes them; both share one AppSecrets.
type AppSecrets struct {
	given [][]byte
	saved atomic.Pointer[[][]byte]
}

// NewAppSecrets holds the secrets given at start (several are accepted so
// that a rotated secret loses no delivery in flight).
func NewAppSecrets(given [][]byte) *AppSecrets { return &AppSecrets{given: given} }

// Load returns the secrets in force.
func (a *AppSecrets) Load() [][]byte {
	if p := a.saved.Load(); p != nil {
		return *p
	}
	return a.given
}

// Given returns the secrets given at start.
func (a *AppSecrets) Given() [][]byte { return a.given }

// Save replaces the secrets in force.
func (a *AppSecrets) Save(v ...[]byte) { a.saved.Store(&v) }
