package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Credentials are the target's secrets given explicitly (the settings
// page's), instead of the process environment.
type Credentials struct {
	AccessKeyID     string // s3
	SecretAccessKey string // s3
	SFTPPassword    string // sftp; handed to the replicator as PFORTE_REPLICA_SFTP_PASSWORD
}

// ProbeError says which step of a probe failed and why, in words the
// settings page turns into German.
type ProbeError struct {
	Step string // "write", "read", "delete"
	Kind string // ProbeUnreachable, ProbeDenied, ProbeNoBucket, ProbeNoCredentials, ProbeMismatch, ProbeHostKey, ProbeOther
	Err  error
}

// What went wrong in a probe.
const (
	ProbeUnreachable   = "unreachable"
	ProbeDenied        = "denied"
	ProbeNoBucket      = "no_bucket"
	ProbeNoCredentials = "no_credentials"
	ProbeMismatch      = "mismatch"
	ProbeHostKey       = "host_key" // an SFTP server other than the pinned one
	ProbeOther         = "other"
)

func (e *ProbeError) Error() string { return "replica probe: " + e.Step + ": " + e.Err.Error() }
func (e *ProbeError) Unwrap() error { return e.Err }

// ProbeKind lets callers that do not import this package tell the kinds
// apart (errors.As on an interface).
func (e *ProbeError) ProbeKind() string { return e.Kind }

// Probe writes, reads back and deletes a small object in cfg's target
// with the given credentials (the environment's when empty): the
// settings page's "check the connection" before anything is saved.
func Probe(ctx context.Context, cfg Config, creds Credentials) error {
	t, err := ParseURL(cfg.URL)
	if err != nil {
		return &SettingError{Name: "replica-url", Msg: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := probeBlobs(ctx, t, creds)
	if err != nil {
		return &ProbeError{Step: "write", Kind: probeKind(err), Err: err}
	}
	defer closeBlobs(b)
	var nonce [12]byte
	rand.Read(nonce[:])
	key := "probe/" + hex.EncodeToString(nonce[:])
	body := []byte("pforte replica probe " + time.Now().UTC().Format(time.RFC3339))
	if err := b.Put(ctx, key, bytes.NewReader(body)); err != nil {
		return &ProbeError{Step: "write", Kind: probeKind(err), Err: err}
	}
	rc, err := b.Get(ctx, key)
	if err != nil {
		return &ProbeError{Step: "read", Kind: probeKind(err), Err: err}
	}
	got, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return &ProbeError{Step: "read", Kind: probeKind(err), Err: err}
	}
	if !bytes.Equal(got, body) {
		return &ProbeError{Step: "read", Kind: ProbeMismatch, Err: errors.New("the object read back differs from the one written")}
	}
	if err := b.Delete(ctx, key); err != nil {
		return &ProbeError{Step: "delete", Kind: probeKind(err), Err: err}
	}
	return nil
}

// probeBlobs opens the target with explicit S3 keys or SFTP password when
// given; otherwise as the replicator would.
func probeBlobs(ctx context.Context, t *Target, creds Credentials) (blobs, error) {
	if t.SFTP != nil {
		t.SFTP.Password = creds.SFTPPassword
	}
	if t.Scheme != "s3" || creds.AccessKeyID == "" && creds.SecretAccessKey == "" {
		b, err := newBlobs(ctx, t)
		if err != nil {
			return nil, err
		}
		if s, ok := b.(*s3Blobs); ok {
			s.cl.attempts = 2 // an admin waits for the answer
		}
		return b, nil
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, errNoCredentials
	}
	cl, err := newS3Client(ctx, s3OptionsFromTarget(t), aws.Credentials{AccessKeyID: creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey, Source: "settings"})
	if err != nil {
		return nil, err
	}
	cl.attempts = 2
	return &s3Blobs{cl: cl, prefix: t.Path}, nil
}

func probeKind(err error) string {
	var se *S3Error
	switch {
	case errors.Is(err, errNoCredentials):
		return ProbeNoCredentials
	case errors.Is(err, errHostKey):
		return ProbeHostKey
	case errors.Is(err, errLoginRefused):
		return ProbeDenied
	case errors.As(err, &se):
		switch {
		case se.Code == "NoSuchBucket":
			return ProbeNoBucket
		case se.Status == http.StatusForbidden || se.Status == http.StatusUnauthorized ||
			se.Code == "InvalidAccessKeyId" || se.Code == "SignatureDoesNotMatch" || se.Code == "AccessDenied":
			return ProbeDenied
		}
		return ProbeOther
	case errors.Is(err, fs.ErrPermission):
		return ProbeDenied
	case errors.Is(err, context.DeadlineExceeded):
		return ProbeUnreachable
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return ProbeOther
	}
	// Transport errors: refused, reset, no such host, TLS.
	return ProbeUnreachable
}
