package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// KeyFile holds the key that seals secrets (TOTP seeds, Meta credentials)
// in the database. It lives beside the database but outside it, so a copy of
// pforte.db alone does not reveal them.
const KeyFile = "secret.key"

type sealer struct {
	once sync.Once
	aead cipher.AEAD
	err  error
}

func (s *Store) aead() (cipher.AEAD, error) {
	s.seal.once.Do(func() {
		path := filepath.Join(s.dir, KeyFile)
		key, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			key = make([]byte, 32)
			rand.Read(key)
			f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if ferr == nil {
				_, ferr = f.Write(key)
				if ferr == nil {
					ferr = f.Sync()
				}
				f.Close()
			}
			if errors.Is(ferr, os.ErrExist) {
				key, ferr = os.ReadFile(path) // another process made it first
			}
			err = ferr
		}
		if err == nil && len(key) != 32 {
			err = fmt.Errorf("%s has %d bytes, want 32", path, len(key))
		}
		if err != nil {
			s.seal.err = fmt.Errorf("store: secret key: %w", err)
			return
		}
		block, _ := aes.NewCipher(key)
		s.seal.aead, s.seal.err = cipher.NewGCM(block)
	})
	return s.seal.aead, s.seal.err
}

// Seal encrypts a secret for storage; label binds it to its purpose so a
// sealed value cannot be swapped into another column.
func (s *Store) Seal(plain []byte, label string) ([]byte, error) {
	a, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plain, []byte(label)), nil
}

// Unseal reverses Seal.
func (s *Store) Unseal(sealed []byte, label string) ([]byte, error) {
	a, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < a.NonceSize() {
		return nil, errors.New("store: sealed value too short")
	}
	out, err := a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], []byte(label))
	if err != nil {
		return nil, fmt.Errorf("store: unseal %s: %w", label, err)
	}
	return out, nil
}
