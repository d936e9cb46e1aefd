package server

// Internals the black-box tests need.
var (
	TOTPCode     = totpCode
	TOTPStep     = int64(totpStep)
	RecoveryHash = recoveryHash
)

// SendBody builds Meta's request body for a composer message.
var SendBody = sendBody
