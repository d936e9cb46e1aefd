// Package replica copies the data directory off the machine while Pforte
// runs: the database through Litestream (continuous WAL shipping to an
// S3-compatible bucket or a directory), the media files under their hash,
// and the small files a restore needs (keys, tombstones, decisions). All of
// it is age-encrypted before it leaves unless the admin says otherwise.
//
// Litestream links its own SQLite (modernc.org/sqlite), while Pforte uses
// mattn/go-sqlite3; two SQLite copies in one process do not see each
// other's POSIX locks. So the replicator runs as a child process of
// "pforte serve" (the same binary, "pforte replicate"): across processes
// SQLite's locking is sound, and Litestream's long read transaction keeps
// every checkpoint, Pforte's included, from dropping WAL frames it has not
// shipped yet.
package replica

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"filippo.io/age"
)

// DefaultRetention is how long point-in-time history is kept off-site,
// and so the bound after which no erased byte remains in the bucket.
const DefaultRetention = 72 * time.Hour

// Config is what the replicator and a restore need to know.
type Config struct {
	URL         string        // s3://bucket/path?endpoint=…&region=…, sftp://user@host:port/path?host_key=… or file:///path
	KeyFile     string        // age identity (X25519); its recipient encrypts
	Unencrypted bool          // allow replicating without a key
	Retention   time.Duration // point-in-time history kept in the bucket
	// SyncInterval is how often the WAL is shipped (Litestream's monitor).
	SyncInterval time.Duration
	// MediaInterval is how often media and the small files are compared
	// with the bucket.
	MediaInterval time.Duration
	// RetentionCheck is how often expired history is deleted.
	RetentionCheck time.Duration
	// SFTPPassword is an SFTP password given explicitly (the settings
	// page's); empty: PFORTE_REPLICA_SFTP_PASSWORD.
	SFTPPassword string
}

// Target is a parsed replica URL.
type Target struct {
	Scheme string // "s3", "sftp" or "file"
	Bucket string // s3; for sftp host:port, so that "scheme://bucket/path" names the target without the user
	Path   string // key prefix (s3) or directory (file, sftp)
	Query  url.Values
	SFTP   *SFTPTarget // sftp only
	raw    string
}

// String returns the URL without anything secret (credentials come from
// the environment, never from the URL).
func (t *Target) String() string { return t.raw }

// ParseURL checks a replica URL and says what is wrong with it.
func ParseURL(raw string) (*Target, error) {
	if raw == "" {
		return nil, errors.New("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	t := &Target{Scheme: u.Scheme, Query: u.Query(), raw: raw}
	switch u.Scheme {
	case "s3":
		if u.User != nil {
			return nil, errors.New("put no credentials into the URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
		if u.Host == "" {
			return nil, errors.New("want s3://bucket/path")
		}
		t.Bucket = u.Host
		t.Path = strings.Trim(u.Path, "/")
		if t.Path == "" {
			return nil, errors.New("want a path inside the bucket, e.g. s3://bucket/pforte")
		}
		if e := t.Query.Get("endpoint"); e != "" {
			eu, err := url.Parse(e)
			if err != nil || (eu.Scheme != "https" && eu.Scheme != "http") || eu.Host == "" {
				return nil, fmt.Errorf("endpoint %q: want https://host", e)
			}
		}
		for k := range t.Query {
			switch k {
			case "endpoint", "region", "forcePathStyle", "skipVerify":
			default:
				return nil, fmt.Errorf("unknown parameter %q (known: endpoint, region, forcePathStyle, skipVerify)", k)
			}
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, errors.New("want file:///absolute/path")
		}
		if !strings.HasPrefix(u.Path, "/") || len(u.Path) < 2 {
			return nil, errors.New("want file:///absolute/path")
		}
		t.Path = u.Path
	case "sftp":
		if err := parseSFTP(u, t); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("scheme %q: want s3://, sftp:// or file://", u.Scheme)
	}
	return t, nil
}

// LoadIdentity reads an age X25519 identity file ("AGE-SECRET-KEY-1…",
// as written by age-keygen or "pforte replica keygen").
func LoadIdentity(path string) (*age.X25519Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			return x, nil
		}
	}
	return nil, fmt.Errorf("%s holds no X25519 identity (AGE-SECRET-KEY-1…)", path)
}

// WriteNewIdentity creates a fresh identity file (mode 0600, never
// overwritten) and returns its public recipient.
func WriteNewIdentity(path string) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	body := fmt.Sprintf("# pforte replica key, created %s\n# public key: %s\n# Keep a copy OFF this machine and OFF the bucket: without it the replica cannot be read.\n%s\n",
		time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	return id.Recipient().String(), f.Close()
}

// Validate fills defaults and checks the settings; the error names the
// setting.
func (c *Config) Validate() error {
	t, err := ParseURL(c.URL)
	if err != nil {
		return &SettingError{Name: "replica-url", Msg: err.Error()}
	}
	if t.SFTP != nil {
		t.SFTP.Password = c.SFTPPassword
		if _, err := t.SFTP.auth(); err != nil {
			return &SettingError{Name: "replica-url", Msg: err.Error()}
		}
	}
	if c.KeyFile == "" && !c.Unencrypted {
		return &SettingError{Name: "replica-key-file", Msg: "nothing leaves the machine unencrypted: give an age key file (create one with \"pforte replica keygen --out FILE\") or --replica-unencrypted"}
	}
	if c.KeyFile != "" {
		if _, err := LoadIdentity(c.KeyFile); err != nil {
			return &SettingError{Name: "replica-key-file", Msg: err.Error()}
		}
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Retention < time.Second {
		return &SettingError{Name: "replica-retention", Msg: "want a positive duration, e.g. 72h"}
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = time.Second
	}
	if c.MediaInterval <= 0 {
		c.MediaInterval = 30 * time.Second
	}
	if c.RetentionCheck <= 0 {
		c.RetentionCheck = min(time.Hour, c.Retention/4)
	}
	return nil
}

// SettingError names the setting that is wrong.
type SettingError struct{ Name, Msg string }

func (e *SettingError) Error() string { return "--" + e.Name + ": " + e.Msg }
