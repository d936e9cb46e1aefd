package replica

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// StatusFile is where the replicator tells "pforte serve", /metrics and
// "pforte doctor" how replication is going. It holds no personal data.
const StatusFile = "replica-status.json"

// Status is the replicator's state as of Updated.
type Status struct {
	PID                 int       `json:"pid"`
	Target              string    `json:"target"`
	Encrypted           bool      `json:"encrypted"`
	Started             time.Time `json:"started"`
	Updated             time.Time `json:"updated"`
	LastSync            time.Time `json:"last_sync"` // the replica last held everything committed locally
	LagSeconds          float64   `json:"lag_seconds"`
	LocalTXID           uint64    `json:"local_txid"`
	RemoteTXID          uint64    `json:"remote_txid"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at"`
	MediaFiles          int       `json:"media_files"`
	MediaSynced         time.Time `json:"media_synced"`
	MediaUploaded       int       `json:"media_uploaded"`
	MediaDeleted        int       `json:"media_deleted"`
	LastErasureSnapshot time.Time `json:"last_erasure_snapshot"`
	Stopped             bool      `json:"stopped"`
}

// Running reports whether a replicator is at work at now: it wrote its
// status within the last 10 s (it does several times a second) and has
// not stopped.
func (s *Status) Running(now time.Time) bool {
	return s != nil && !s.Stopped && now.Sub(s.Updated) < 10*time.Second
}

// Healthy reports whether the replica is current within maxLag at now,
// and if not, why.
func (s *Status) Healthy(now time.Time, maxLag time.Duration) (bool, string) {
	switch {
	case s == nil:
		return false, "no replicator status yet"
	case s.Stopped:
		return false, "the replicator stopped"
	case now.Sub(s.Updated) > maxLag:
		return false, fmt.Sprintf("the replicator has not reported for %s", now.Sub(s.Updated).Round(time.Second))
	case time.Duration(s.LagSeconds*float64(time.Second)) > maxLag:
		msg := fmt.Sprintf("the replica is %s behind", time.Duration(s.LagSeconds*float64(time.Second)).Round(time.Second))
		if s.LastError != "" {
			msg += " (" + s.LastError + ")"
		}
		return false, msg
	}
	return true, ""
}

func (r *Replicator) writeStatus() {
	r.mu.Lock()
	b, err := json.MarshalIndent(r.st, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return
	}
	tmp := filepath.Join(r.dir, "."+StatusFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		r.log.Warn("replica: status", "err", err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, StatusFile)); err != nil {
		r.log.Warn("replica: status", "err", err)
	}
}

// ReadStatus returns the replicator's last report in dir (nil, nil when
// there is none).
func ReadStatus(dir string) (*Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("replica: %s: %w", StatusFile, err)
	}
	return &s, nil
}

// redact drops query values that might carry secrets from a URL shown in
// status and logs; endpoint and region stay.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	u.User = nil
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			q.Set(k, "…")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
