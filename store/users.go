package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a panel account's role; the value is stored in users.role.
type Role string

// Panel roles.
const (
	RoleAdmin   Role = "admin"   // everything
	RoleAgent   Role = "agent"   // inbox, contacts, templates
	RoleAuditor Role = "auditor" // read-only: audit log, exports, reports
)

// AllRoles lists every role.
func AllRoles() []Role { return []Role{RoleAdmin, RoleAgent, RoleAuditor} }

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return slices.Contains(AllRoles(), r) }

// ErrExists is returned when a unique value (an e-mail address, a label
// name) is already taken.
var ErrExists = errors.New("store: already exists")

// User is a panel account.
type User struct {
	ID            int64
	Email         string
	Name          string
	Role          Role
	PasswordHash  string
	TOTPSecret    []byte // sealed
	TOTPEnabled   bool
	TOTPLastStep  int64
	RecoveryCodes []string // sha256 hex of unused codes
	Lang          string
	Notify        bool
	Disabled      bool
	CreatedAt     int64
	Passkeys      int // registered passkeys (sso.go)
}

// HasSecondFactor reports whether the account can prove a second factor:
// an authenticator app or a passkey.
func (u *User) HasSecondFactor() bool { return u.TOTPEnabled || u.Passkeys > 0 }

// DisplayName is the name, or the e-mail address when no name is set.
func (u *User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

const userColumns = `id, email, name, role, password_hash, totp_secret, totp_enabled, totp_last_step, recovery_codes, lang, notify, disabled_at IS NOT NULL, created_at,
	(SELECT count(*) FROM passkeys p WHERE p.user_id = users.id)`

func scanUser(r scanner) (*User, error) {
	var u User
	var codes string
	if err := r.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.TOTPSecret, &u.TOTPEnabled, &u.TOTPLastStep,
		&codes, &u.Lang, &u.Notify, &u.Disabled, &u.CreatedAt, &u.Passkeys); err != nil {
		return nil, err
	}
	u.RecoveryCodes = strings.Fields(codes)
	return &u, nil
}

// CountUsers returns how many accounts exist; zero means first run.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// NewUser is what creating an account needs.
type NewUser struct {
	Email        string
	Name         string
	Role         Role
	PasswordHash string // empty for an invited user who sets it later
	Lang         string
}

// CreateUser adds an account. With onlyIfNone it fails with ErrExists when
// any account exists, so two racing first-run setups make one admin.
// Audit entries commit together with the account.
func (s *Store) CreateUser(ctx context.Context, nu NewUser, onlyIfNone bool, audit ...AuditEntry) (*User, error) {
	nu.Email = strings.TrimSpace(nu.Email)
	if !nu.Role.Valid() {
		return nil, fmt.Errorf("store: unknown role %q", nu.Role)
	}
	if nu.Lang == "" {
		nu.Lang = "de"
	}
	var id int64
	now := time.Now().Unix()
	err := s.Write(ctx, func(tx *Tx) error {
		if onlyIfNone {
			var n int
			if err := tx.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrExists
			}
		}
		var taken int
		if err := tx.QueryRow("SELECT count(*) FROM users WHERE email = ?", nu.Email).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return ErrExists
		}
		if err := tx.QueryRow(`INSERT INTO users(email, name, role, password_hash, lang, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, nu.Email, nu.Name, nu.Role, nu.PasswordHash, nu.Lang, now, now).Scan(&id); err != nil {
			return err
		}
		return auditAll(tx, audit, UserActor(id).String())
	})
	if err != nil {
		if errors.Is(err, ErrExists) {
			return nil, ErrExists
		}
		return nil, fmt.Errorf("store: create user: %w", err)
	}
	return s.UserByID(ctx, id)
}

// auditAll appends audit entries; an empty Target is filled with target.
func auditAll(tx *Tx, entries []AuditEntry, target string) error {
	for _, e := range entries {
		if e.Target == "" {
			e.Target = target
		}
		if err := AuditTx(tx, e); err != nil {
			return err
		}
	}
	return nil
}

// UserByID returns one account.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	return u, nil
}

// UserByEmail returns one account by its (case-insensitive) address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ?", strings.TrimSpace(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	return u, nil
}

// Users lists every account, admins first, then by name.
func (s *Store) Users(ctx context.Context) ([]*User, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+userColumns+` FROM users
		ORDER BY disabled_at IS NOT NULL, CASE role WHEN 'admin' THEN 0 WHEN 'agent' THEN 1 ELSE 2 END, lower(coalesce(nullif(name, ''), email))`)
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// updateUser runs one UPDATE on a user and its audit lines in one commit.
func (s *Store) updateUser(ctx context.Context, id int64, what string, fn func(tx *Tx) (sql.Result, error), audit []AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := fn(tx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return auditAll(tx, audit, UserActor(id).String())
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// SetPassword stores a new password hash and ends the user's other
// sessions (keepSession is the one to keep; 0 ends all).
func (s *Store) SetPassword(ctx context.Context, id int64, hash string, keepSession int64, audit ...AuditEntry) error {
	return s.updateUser(ctx, id, "set password", func(tx *Tx) (sql.Result, error) {
		if _, err := tx.Exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", id, keepSession); err != nil {
			return nil, err
		}
		return tx.Exec("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", hash, time.Now().Unix(), id)
	}, audit)
}

// SetEmail changes the address a user logs in with and ends the user's
// other sessions (keepSession is the one to keep). It fails with ErrExists
// when another account has the address.
func (s *Store) SetEmail(ctx context.Context, id int64, email string, keepSession int64, audit ...AuditEntry) error {
	email = strings.TrimSpace(email)
	err := s.updateUser(ctx, id, "set email", func(tx *Tx) (sql.Result, error) {
		var taken int
		if err := tx.QueryRow("SELECT count(*) FROM users WHERE email = ? AND id <> ?", email, id).Scan(&taken); err != nil {
			return nil, err
		}
		if taken > 0 {
			return nil, ErrExists
		}
		if _, err := tx.Exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", id, keepSession); err != nil {
			return nil, err
		}
		return tx.Exec("UPDATE users SET email = ?, updated_at = ? WHERE id = ?", email, time.Now().Unix(), id)
	}, audit)
	if errors.Is(err, ErrExists) {
		return ErrExists
	}
	return err
}

// StartPasswordReset makes the user's password unusable, ends every session
// of the user and stores the hash of a one-time link to set a new one (an
// invite; earlier unused ones stop working), all in one commit.
func (s *Store) StartPasswordReset(ctx context.Context, id int64, tokenHash []byte, expires time.Time, audit ...AuditEntry) error {
	return s.updateUser(ctx, id, "password reset", func(tx *Tx) (sql.Result, error) {
		if _, err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", id); err != nil {
			return nil, err
		}
		if _, err := tx.Exec("DELETE FROM invites WHERE user_id = ? AND used_at IS NULL", id); err != nil {
			return nil, err
		}
		if _, err := tx.Exec("INSERT INTO invites(user_id, token_hash, created_by, expires_at) VALUES (?, ?, NULL, ?)", id, tokenHash, expires.Unix()); err != nil {
			return nil, err
		}
		return tx.Exec("UPDATE users SET password_hash = '', updated_at = ? WHERE id = ?", time.Now().Unix(), id)
	}, audit)
}

// SetRole changes a user's role. The last active admin cannot be demoted.
func (s *Store) SetRole(ctx context.Context, id int64, role Role, audit ...AuditEntry) error {
	if !role.Valid() {
		return fmt.Errorf("store: unknown role %q", role)
	}
	return s.updateUser(ctx, id, "set role", func(tx *Tx) (sql.Result, error) {
		if role != RoleAdmin {
			if err := keepOneAdmin(tx, id); err != nil {
				return nil, err
			}
		}
		return tx.Exec("UPDATE users SET role = ?, updated_at = ? WHERE id = ?", role, time.Now().Unix(), id)
	}, audit)
}

// ErrLastAdmin protects against locking everyone out of the settings.
var ErrLastAdmin = errors.New("store: the last active admin cannot lose admin rights")

func keepOneAdmin(tx *Tx, id int64) error {
	var others int
	if err := tx.QueryRow(`SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> ?`, id).Scan(&others); err != nil {
		return err
	}
	var isAdmin int
	if err := tx.QueryRow(`SELECT count(*) FROM users WHERE id = ? AND role = 'admin' AND disabled_at IS NULL`, id).Scan(&isAdmin); err != nil {
		return err
	}
	if isAdmin > 0 && others == 0 {
		return ErrLastAdmin
	}
	return nil
}

// SetDisabled disables (ending every session) or re-enables an account.
func (s *Store) SetDisabled(ctx context.Context, id int64, disabled bool, audit ...AuditEntry) error {
	return s.updateUser(ctx, id, "disable user", func(tx *Tx) (sql.Result, error) {
		if !disabled {
			return tx.Exec("UPDATE users SET disabled_at = NULL, updated_at = ? WHERE id = ?", time.Now().Unix(), id)
		}
		if err := keepOneAdmin(tx, id); err != nil {
			return nil, err
		}
		if _, err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", id); err != nil {
			return nil, err
		}
		return tx.Exec("UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ?", time.Now().Unix(), time.Now().Unix(), id)
	}, audit)
}

// SetPreferences stores the user's language and notification choice.
func (s *Store) SetPreferences(ctx context.Context, id int64, lang string, notify bool) error {
	return s.updateUser(ctx, id, "preferences", func(tx *Tx) (sql.Result, error) {
		return tx.Exec("UPDATE users SET lang = ?, notify = ?, updated_at = ? WHERE id = ?", lang, notify, time.Now().Unix(), id)
	}, nil)
}

// EnableTOTP stores a sealed TOTP secret and hashed recovery codes and
// turns two-factor login on. lastStep is the step of the code that proved
// enrolment, so it cannot be replayed at the next login.
func (s *Store) EnableTOTP(ctx context.Context, id int64, sealedSecret []byte, recoveryHashes []string, lastStep int64, audit ...AuditEntry) error {
	return s.updateUser(ctx, id, "enable totp", func(tx *Tx) (sql.Result, error) {
		return tx.Exec(`UPDATE users SET totp_secret = ?, totp_enabled = 1, totp_last_step = ?, recovery_codes = ?, updated_at = ? WHERE id = ?`,
			sealedSecret, lastStep, strings.Join(recoveryHashes, " "), time.Now().Unix(), id)
	}, audit)
}

// ResetTOTP turns two-factor login off (an admin's reset, or the user's own).
func (s *Store) ResetTOTP(ctx context.Context, id int64, audit ...AuditEntry) error {
	return s.updateUser(ctx, id, "reset totp", func(tx *Tx) (sql.Result, error) {
		return tx.Exec(`UPDATE users SET totp_secret = NULL, totp_enabled = 0, recovery_codes = '', updated_at = ? WHERE id = ?`,
			time.Now().Unix(), id)
	}, audit)
}

// UseTOTPStep records that the code of step was used. It reports false
// when that step (or a later one) was already used: RFC 6238 §5.2 forbids
// accepting a code twice.
func (s *Store) UseTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	var ok bool
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, id, step)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: totp step: %w", err)
	}
	return ok, nil
}

// UseRecoveryCode consumes one recovery code by its hash; false when it is
// not (or no longer) valid.
func (s *Store) UseRecoveryCode(ctx context.Context, id int64, hash string) (bool, error) {
	var ok bool
	err := s.Write(ctx, func(tx *Tx) error {
		var codes string
		if err := tx.QueryRow("SELECT recovery_codes FROM users WHERE id = ?", id).Scan(&codes); err != nil {
			return err
		}
		var keep []string
		for _, c := range strings.Fields(codes) {
			if c == hash && !ok {
				ok = true
				continue
			}
			keep = append(keep, c)
		}
		if !ok {
			return nil
		}
		_, err := tx.Exec("UPDATE users SET recovery_codes = ? WHERE id = ?", strings.Join(keep, " "), id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: recovery code: %w", err)
	}
	return ok, nil
}

// Invite is a one-time link to set a password.
type Invite struct {
	UserID    int64
	ExpiresAt int64
}

// CreateInvite stores the hash of a one-time token for a user; earlier
// unused invites of that user stop working.
func (s *Store) CreateInvite(ctx context.Context, userID int64, tokenHash []byte, createdBy int64, expires time.Time, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("DELETE FROM invites WHERE user_id = ? AND used_at IS NULL", userID); err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO invites(user_id, token_hash, created_by, expires_at) VALUES (?, ?, ?, ?)",
			userID, tokenHash, createdBy, expires.Unix()); err != nil {
			return err
		}
		return auditAll(tx, audit, UserActor(userID).String())
	})
	if err != nil {
		return fmt.Errorf("store: invite: %w", err)
	}
	return nil
}

// InviteByToken returns a valid, unused, unexpired invite.
func (s *Store) InviteByToken(ctx context.Context, tokenHash []byte, now time.Time) (*Invite, error) {
	var inv Invite
	err := s.rdb.QueryRowContext(ctx, `SELECT user_id, expires_at FROM invites WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`,
		tokenHash, now.Unix()).Scan(&inv.UserID, &inv.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: invite: %w", err)
	}
	return &inv, nil
}

// AcceptInvite sets the password and uses up the invite in one commit; it
// fails with ErrNotFound when the invite was used or expired meanwhile.
func (s *Store) AcceptInvite(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time, audit ...AuditEntry) (int64, error) {
	var userID int64
	err := s.Write(ctx, func(tx *Tx) error {
		err := tx.QueryRow(`UPDATE invites SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id`,
			now.Unix(), tokenHash, now.Unix()).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", passwordHash, now.Unix(), userID); err != nil {
			return err
		}
		// A reset link ends whatever session appeared since it was made.
		if _, err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
			return err
		}
		return auditAll(tx, audit, UserActor(userID).String())
	})
	if errors.Is(err, ErrNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: accept invite: %w", err)
	}
	return userID, nil
}
