package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Settings keys of single sign-on (OIDC). The client secret is kept
// sealed (SetSecret); the rest is plain.
const (
	SettingSSOIssuer       = "sso.issuer"
	SettingSSOClientID     = "sso.client_id"
	SettingSSOClientSecret = "sso.client_secret" // sealed
	SettingSSODomains      = "sso.domains"       // allowed e-mail domains, space separated; empty: any
	SettingSSOJIT          = "sso.jit"           // "1": create unknown users on first login
	SettingSSODefaultRole  = "sso.default_role"  // role of a user no mapping line names; empty: refused
	SettingSSORoleClaim    = "sso.role_claim"    // claim holding groups or roles, e.g. "groups"
	SettingSSORoleMap      = "sso.role_map"      // lines "group=role"
	SettingSSORecheck      = "sso.recheck_minutes"
	SettingSSOPasswordOff  = "sso.password_off" // "1": password login only for the break-glass admin
	SettingSSOBreakGlass   = "sso.break_glass"  // user id of the break-glass admin
	SettingSSOButtonLabel  = "sso.button_label" // e.g. "Microsoft 365"
)

// Identity links a panel account to one provider's subject.
type Identity struct {
	ID          int64
	UserID      int64
	Issuer      string
	Subject     string
	Email       string
	CreatedAt   int64
	LastLoginAt int64
}

// IdentityBySubject returns the link for issuer and sub, or ErrNotFound.
func (s *Store) IdentityBySubject(ctx context.Context, issuer, subject string) (*Identity, error) {
	var id Identity
	err := s.rdb.QueryRowContext(ctx, `SELECT id, user_id, issuer, subject, email, created_at, last_login_at
		FROM user_identities WHERE issuer = ? AND subject = ?`, issuer, subject).
		Scan(&id.ID, &id.UserID, &id.Issuer, &id.Subject, &id.Email, &id.CreatedAt, &id.LastLoginAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: identity: %w", err)
	}
	return &id, nil
}

// UserIdentities lists the provider links of an account.
func (s *Store) UserIdentities(ctx context.Context, userID int64) ([]Identity, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, user_id, issuer, subject, email, created_at, last_login_at
		FROM user_identities WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: identities: %w", err)
	}
	defer rows.Close()
	var out []Identity
	for rows.Next() {
		var id Identity
		if err := rows.Scan(&id.ID, &id.UserID, &id.Issuer, &id.Subject, &id.Email, &id.CreatedAt, &id.LastLoginAt); err != nil {
			return nil, fmt.Errorf("store: identities: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// SSOLogin is one successful sign-in through a provider, as the panel
// decided it: which account (existing, to link, or to create), its role,
// and the new session.
type SSOLogin struct {
	Issuer, Subject, Email string
	// UserID is the account to sign in (already linked, or to link now);
	// zero with Create set makes a new account (just-in-time creation).
	UserID int64
	Create *NewUser
	// Link adds the identity (first login of this subject).
	Link bool
	// Role, if set and different, becomes the account's role (from the
	// provider's group claim). Demoting the last admin fails with
	// ErrLastAdmin and nothing is written.
	Role Role
	// The session: token, the sealed provider tokens, and the browser's
	// previous session token to replace.
	Token         string
	Session       Session
	Replace       string
	RefreshSealed []byte
	IDTokenSealed []byte
}

// CompleteSSOLogin links, creates, re-roles and starts the session in one
// commit, so a refused step leaves nothing behind. Audit entries without
// an actor are written as the signed-in user, without a target as that
// user.
func (s *Store) CompleteSSOLogin(ctx context.Context, in SSOLogin, audit ...AuditEntry) (*User, *Session, error) {
	now := time.Now().Unix()
	if in.Session.CreatedAt == 0 {
		in.Session.CreatedAt = now
	}
	sess := in.Session
	sess.LastSeenAt = sess.CreatedAt
	sess.SSO = true
	userID := in.UserID
	err := s.Write(ctx, func(tx *Tx) error {
		if userID == 0 {
			if in.Create == nil {
				return errors.New("no account to sign in")
			}
			nu := *in.Create
			if !nu.Role.Valid() {
				return fmt.Errorf("unknown role %q", nu.Role)
			}
			if nu.Lang == "" {
				nu.Lang = "de"
			}
			var taken int
			if err := tx.QueryRow("SELECT count(*) FROM users WHERE email = ?", strings.TrimSpace(nu.Email)).Scan(&taken); err != nil {
				return err
			}
			if taken > 0 {
				return ErrExists
			}
			if err := tx.QueryRow(`INSERT INTO users(email, name, role, password_hash, lang, created_at, updated_at)
				VALUES (?, ?, ?, '', ?, ?, ?) RETURNING id`, strings.TrimSpace(nu.Email), nu.Name, nu.Role, nu.Lang, now, now).Scan(&userID); err != nil {
				return err
			}
		} else if in.Role != "" {
			var cur Role
			if err := tx.QueryRow("SELECT role FROM users WHERE id = ?", userID).Scan(&cur); err != nil {
				return err
			}
			if cur != in.Role {
				if !in.Role.Valid() {
					return fmt.Errorf("unknown role %q", in.Role)
				}
				if in.Role != RoleAdmin {
					if err := keepOneAdmin(tx, userID); err != nil {
						return err
					}
				}
				if _, err := tx.Exec("UPDATE users SET role = ?, updated_at = ? WHERE id = ?", in.Role, now, userID); err != nil {
					return err
				}
			}
		}
		var identityID int64
		if in.Link {
			if err := tx.QueryRow(`INSERT INTO user_identities(user_id, issuer, subject, email, created_at, last_login_at)
				VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, userID, in.Issuer, in.Subject, in.Email, now, now).Scan(&identityID); err != nil {
				return err
			}
		} else if err := tx.QueryRow(`UPDATE user_identities SET last_login_at = ?, email = ? WHERE issuer = ? AND subject = ? AND user_id = ? RETURNING id`,
			now, in.Email, in.Issuer, in.Subject, userID).Scan(&identityID); err != nil {
			return err
		}
		if in.Replace != "" {
			if _, err := tx.Exec("DELETE FROM sessions WHERE token_hash = ?", HashToken(in.Replace)); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(`INSERT INTO sessions(token_hash, user_id, mfa_pending, created_at, last_seen_at, ip, user_agent,
			sso_identity_id, sso_refresh, sso_id_token, sso_checked_at)
			VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, HashToken(in.Token), userID, sess.CreatedAt, sess.LastSeenAt,
			sess.IP, sess.UserAgent, identityID, in.RefreshSealed, in.IDTokenSealed, sess.CreatedAt).Scan(&sess.ID); err != nil {
			return err
		}
		sess.UserID = userID
		for _, e := range audit {
			if e.Actor == "" {
				e.Actor = UserActor(userID)
			}
			if e.Target == "" {
				e.Target = UserActor(userID).String()
			}
			if err := AuditTx(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrLastAdmin), errors.Is(err, ErrExists):
		return nil, nil, err
	case err != nil:
		return nil, nil, fmt.Errorf("store: sso login: %w", err)
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	return u, &sess, nil
}

// SessionSSO is what a provider-started session keeps for re-checks and logout.
type SessionSSO struct {
	IdentityID    int64
	Issuer        string
	Subject       string
	RefreshSealed []byte
	IDTokenSealed []byte
	CheckedAt     int64
}

// SessionSSOState returns the provider state of a session, or ErrNotFound
// when the session did not start through a provider.
func (s *Store) SessionSSOState(ctx context.Context, sessionID int64) (*SessionSSO, error) {
	var st SessionSSO
	err := s.rdb.QueryRowContext(ctx, `SELECT i.id, i.issuer, i.subject, s.sso_refresh, s.sso_id_token, s.sso_checked_at
		FROM sessions s JOIN user_identities i ON i.id = s.sso_identity_id WHERE s.id = ?`, sessionID).
		Scan(&st.IdentityID, &st.Issuer, &st.Subject, &st.RefreshSealed, &st.IDTokenSealed, &st.CheckedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: session sso: %w", err)
	}
	return &st, nil
}

// SSOChecked records a successful re-check at the provider; a rotated
// refresh token replaces the old one (nil keeps it).
func (s *Store) SSOChecked(ctx context.Context, sessionID int64, refreshSealed []byte, at time.Time, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("UPDATE sessions SET sso_checked_at = ?, sso_refresh = coalesce(?, sso_refresh) WHERE id = ?",
			at.Unix(), refreshSealed, sessionID); err != nil {
			return err
		}
		return auditAll(tx, audit, "")
	})
	if err != nil {
		return fmt.Errorf("store: sso checked: %w", err)
	}
	return nil
}

// Passkey is one WebAuthn credential of an account.
type Passkey struct {
	ID           int64
	UserID       int64
	Name         string
	CredentialID []byte
	Credential   []byte // JSON of the library's credential record
	CreatedAt    int64
	LastUsedAt   int64
}

const passkeyColumns = "id, user_id, name, credential_id, credential, created_at, last_used_at"

func scanPasskey(r scanner) (*Passkey, error) {
	var p Passkey
	var cred string
	if err := r.Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &cred, &p.CreatedAt, &p.LastUsedAt); err != nil {
		return nil, err
	}
	p.Credential = []byte(cred)
	return &p, nil
}

// Passkeys lists an account's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, userID int64) ([]*Passkey, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+passkeyColumns+" FROM passkeys WHERE user_id = ? ORDER BY id", userID)
	if err != nil {
		return nil, fmt.Errorf("store: passkeys: %w", err)
	}
	defer rows.Close()
	var out []*Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: passkeys: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PasskeyByCredentialID finds a passkey by the authenticator's credential id.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credID []byte) (*Passkey, error) {
	p, err := scanPasskey(s.rdb.QueryRowContext(ctx, "SELECT "+passkeyColumns+" FROM passkeys WHERE credential_id = ?", credID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: passkey: %w", err)
	}
	return p, nil
}

// AddPasskey stores a new passkey; ErrExists when the credential is
// already registered (to anyone).
func (s *Store) AddPasskey(ctx context.Context, p Passkey, audit ...AuditEntry) (int64, error) {
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var taken int
		if err := tx.QueryRow("SELECT count(*) FROM passkeys WHERE credential_id = ?", p.CredentialID).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return ErrExists
		}
		if err := tx.QueryRow(`INSERT INTO passkeys(user_id, name, credential_id, credential, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			p.UserID, p.Name, p.CredentialID, string(p.Credential), time.Now().Unix()).Scan(&id); err != nil {
			return err
		}
		return auditAll(tx, audit, UserActor(p.UserID).String())
	})
	if errors.Is(err, ErrExists) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("store: add passkey: %w", err)
	}
	return id, nil
}

// UsePasskey stores the credential record after a login (new counter).
func (s *Store) UsePasskey(ctx context.Context, id int64, credential []byte, at time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE passkeys SET credential = ?, last_used_at = ? WHERE id = ?", string(credential), at.Unix(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: use passkey: %w", err)
	}
	return nil
}

// DeletePasskey removes one of the user's passkeys; ErrNotFound if the
// user has no passkey with that id.
func (s *Store) DeletePasskey(ctx context.Context, userID, id int64, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("DELETE FROM passkeys WHERE id = ? AND user_id = ?", id, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return auditAll(tx, audit, UserActor(userID).String())
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: delete passkey: %w", err)
	}
	return nil
}

// SetSettings stores several plain settings and sealed secrets in one
// commit (a settings form either applies whole or not at all). A nil
// secret value leaves that secret as it is.
func (s *Store) SetSettings(ctx context.Context, plain map[string]string, secrets map[string][]byte, audit ...AuditEntry) error {
	sealed := map[string]string{}
	for k, v := range secrets {
		if v == nil {
			continue
		}
		b, err := s.Seal(v, "setting:"+k)
		if err != nil {
			return err
		}
		sealed[k] = secretPrefix + fmt.Sprintf("%x", b)
	}
	err := s.Write(ctx, func(tx *Tx) error {
		for _, m := range []map[string]string{plain, sealed} {
			for k, v := range m {
				if err := setSettingTx(tx, k, v); err != nil {
					return err
				}
			}
		}
		return auditAll(tx, audit, "settings:sso")
	})
	if err != nil {
		return fmt.Errorf("store: set settings: %w", err)
	}
	return nil
}

// EndPasswordSessions ends every session not started through the single
// sign-on provider, except those of exceptUserID (the break-glass admin):
// when password login is switched off, a password session opened before
// must not live on until its timeout. The audit entry's Detail, when
// empty, records how many ended.
func (s *Store) EndPasswordSessions(ctx context.Context, exceptUserID int64, audit AuditEntry) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("DELETE FROM sessions WHERE sso_identity_id IS NULL AND user_id != ?", exceptUserID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if audit.Detail == "" {
			audit.Detail = fmt.Sprintf(`{"sessions_ended":%d,"except_user":%d}`, n, exceptUserID)
		}
		return auditAll(tx, []AuditEntry{audit}, "sessions")
	})
	if err != nil {
		return 0, fmt.Errorf("store: end password sessions: %w", err)
	}
	return n, nil
}
