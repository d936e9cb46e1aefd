package web

import "time"

// SSOSettingsVM is the single sign-on settings page.
type SSOSettingsVM struct {
	Issuer      string
	ClientID    string
	SecretSet   bool
	Domains     string
	JIT         bool
	DefaultRole string
	RoleClaim   string
	RoleMap     string
	Recheck     int // minutes
	PasswordOff bool
	BreakGlass  int64
	Label       string
	RedirectURI string
	Roles       []string
	Admins      []SSOAdmin
	Error       string
	// Fixed names the fields set by start parameters (issuer, client_id,
	// client_secret, domains, jit, role_claim, role_map, password_login):
	// shown read-only.
	Fixed map[string]bool
	// BreakGlassEmail is the break-glass admin given at start.
	BreakGlassEmail string
}

// SSOAdmin is an admin who can be the break-glass account.
type SSOAdmin struct {
	ID    int64
	Label string
}

// PasskeysVM is the own-account passkey page.
type PasskeysVM struct {
	Passkeys []PasskeyVM
	Linked   []IdentityVM
	Error    string
	// NeedsReauth: no login or confirmed password in the last minutes, so
	// adding a passkey first asks for the password.
	NeedsReauth bool
	HasPassword bool
	TwoFactor   bool
	SSO         bool // single sign-on is set up: a new SSO login also counts
}

// PasskeyVM is one registered passkey.
type PasskeyVM struct {
	ID       int64
	Name     string
	Created  time.Time
	LastUsed time.Time
}

// IdentityVM is a link to the company's sign-in provider.
type IdentityVM struct {
	Issuer string
	Email  string
	Since  time.Time
}
