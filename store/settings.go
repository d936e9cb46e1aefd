package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Setting returns a plain setting; ok is false when it was never set.
func (s *Store) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.rdb.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: setting %s: %w", key, err)
	}
	return value, true, nil
}

// SetSetting stores a plain setting together with its audit lines.
func (s *Store) SetSetting(ctx context.Context, key, value string, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if err := setSettingTx(tx, key, value); err != nil {
			return err
		}
		return auditAll(tx, audit, "setting:"+key)
	})
	if err != nil {
		return fmt.Errorf("store: set %s: %w", key, err)
	}
	return nil
}

func setSettingTx(tx *Tx, key, value string) error {
	_, err := tx.Exec(`INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, time.Now().Unix())
	return err
}

// secretPrefix marks sealed values in the settings table.
const secretPrefix = "sealed:"

// Settings keys of Meta's credentials, kept sealed (SetSecret). The panel
// writes them; the gateway and the one Meta client read them on every use.
const (
	SettingAppSecret   = "meta.app_secret"
	SettingAccessToken = "meta.access_token"
)

// SetSecret stores a secret sealed with the data directory's key. Secrets
// are write-only in the panel: they can be replaced, never shown.
func (s *Store) SetSecret(ctx context.Context, key string, value []byte, audit ...AuditEntry) error {
	sealed, err := s.Seal(value, "setting:"+key)
	if err != nil {
		return err
	}
	return s.SetSetting(ctx, key, secretPrefix+fmt.Sprintf("%x", sealed), audit...)
}

// Secret returns a sealed setting in the clear; ok is false when unset.
func (s *Store) Secret(ctx context.Context, key string) (value []byte, ok bool, err error) {
	v, ok, err := s.Setting(ctx, key)
	if err != nil || !ok {
		return nil, ok, err
	}
	var sealed []byte
	if _, err := fmt.Sscanf(v, secretPrefix+"%x", &sealed); err != nil {
		return nil, false, fmt.Errorf("store: secret %s is not sealed", key)
	}
	out, err := s.Unseal(sealed, "setting:"+key)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}
