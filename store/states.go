package store

// The states below are stored as text; their values are part of the
// schema and must not change without a migration.

// ConsentAction is what a consent record says; stored in
// consent_records.action.
type ConsentAction string

// Consent actions.
const (
	OptIn  ConsentAction = "opt_in"
	OptOut ConsentAction = "opt_out"
)

// Valid reports whether a is a known action.
func (a ConsentAction) Valid() bool { return a == OptIn || a == OptOut }

// ReplyState is the state of the confirmation sent for a stop word;
// stored in consent_records.reply_state ("" when none is due).
type ReplyState string

// Reply states.
const (
	ReplyPending ReplyState = "pending"
	ReplySent    ReplyState = "sent"
)

// ErasureState is where an erasure request is; stored in
// erasure_requests.state.
type ErasureState string

// Erasure states.
const (
	ErasureRunning    ErasureState = "running"
	ErasureErased     ErasureState = "erased"
	ErasureRestricted ErasureState = "restricted" // a legal hold keeps the data, restricted (Art. 18)
)
