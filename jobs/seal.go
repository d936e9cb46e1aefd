package jobs

import (
	"fmt"
	"io"

	"filippo.io/age"
)

// SealWithPassphrase encrypts backups with age's passphrase mode (scrypt
// key stretching, ChaCha20-Poly1305 in 64 KiB chunks), so a backup is
// streamed, never held in memory. workFactor 0 keeps age's default.
func SealWithPassphrase(passphrase string, workFactor int) func(io.Writer) (io.WriteCloser, error) {
	return func(w io.Writer) (io.WriteCloser, error) {
		r, err := age.NewScryptRecipient(passphrase)
		if err != nil {
			return nil, fmt.Errorf("jobs: backup passphrase: %w", err)
		}
		if workFactor > 0 {
			r.SetWorkFactor(workFactor)
		}
		return age.Encrypt(w, r)
	}
}

// UnsealWithPassphrase decrypts a backup made by SealWithPassphrase.
func UnsealWithPassphrase(passphrase string) func(io.Reader) (io.Reader, error) {
	return func(r io.Reader) (io.Reader, error) {
		id, err := age.NewScryptIdentity(passphrase)
		if err != nil {
			return nil, fmt.Errorf("jobs: backup passphrase: %w", err)
		}
		out, err := age.Decrypt(r, id)
		if err != nil {
			return nil, fmt.Errorf("jobs: wrong passphrase or damaged backup: %w", err)
		}
		return out, nil
	}
}
