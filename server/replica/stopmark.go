package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// stopMarkKey is written to the bucket when the replicator shipped the
// last transaction of a primary that had stopped writing (its "serve"
// ended or died while the machine lived on). Its transaction id tells a
// promotion whether the standby holds everything the primary did: then no
// message can have been sent after the copy ends. "pforte serve" deletes
// it before its outbox may send again.
const stopMarkKey = "pforte/stopped.json"

type stopMark struct {
	TXID uint64    `json:"txid"`
	At   time.Time `json:"at"`
}

// ParentGone tells Run that the process writing the database has ended
// (its end of the pipe closed): only then may the final sync claim that
// the replica is complete.
func (r *Replicator) ParentGone() {
	r.mu.Lock()
	r.parentGone = true
	r.mu.Unlock()
}

// markStopped records that the replica holds every local transaction.
func (r *Replicator) markStopped(ctx context.Context) error {
	r.mu.Lock()
	gone := r.parentGone
	r.mu.Unlock()
	if !gone {
		return nil
	}
	local, err := r.db.Pos()
	if err != nil {
		return err
	}
	remote := r.db.Replica.Pos()
	if remote.TXID == 0 || remote.TXID < local.TXID {
		return fmt.Errorf("replica: not everything shipped (local %s, remote %s)", local.TXID, remote.TXID)
	}
	b, _ := json.Marshal(stopMark{TXID: uint64(remote.TXID), At: time.Now().UTC()})
	var body io.Reader = bytes.NewReader(b)
	if r.seal != nil {
		sealed := r.seal.seal(body)
		defer sealed.Close()
		body = sealed
	}
	return r.blobs.Put(ctx, stopMarkKey, body)
}

// ClearStopMark deletes the stop mark: called by "pforte serve" before its
// outbox may send, so that a promotion never takes a copy for complete
// while this instance might be sending past its end.
func ClearStopMark(ctx context.Context, cfg Config) error {
	_, b, _, err := open(ctx, &cfg)
	if err != nil {
		return err
	}
	defer closeBlobs(b)
	if err := b.Delete(ctx, stopMarkKey); err != nil && !errors.Is(err, errNotFound) {
		return fmt.Errorf("replica: clear stop mark: %w", err)
	}
	return nil
}

// Completeness is what a promotion knows about the standby's copy.
type Completeness struct {
	// Complete: the primary's last transaction is in the copy, and the
	// primary had stopped writing (so also stopped sending) at that point.
	Complete    bool
	StandbyTXID uint64
	MarkTXID    uint64 // 0: no stop mark (the primary's machine was lost, or it still runs)
	Why         string
}

// CheckComplete compares the standby in dir with the stop mark in the
// bucket. Any doubt (bucket away, no mark, copy behind) is "not complete":
// the caller then treats unsent messages as possibly sent.
func CheckComplete(ctx context.Context, dir string, cfg Config, log *slog.Logger) Completeness {
	var c Completeness
	b, err := os.ReadFile(litestream.TXIDPath(filepath.Join(dir, StandbyDB)))
	if err == nil {
		if txid, perr := ltx.ParseTXID(strings.TrimSpace(string(b))); perr == nil {
			c.StandbyTXID = uint64(txid)
		}
	}
	if cfg.URL == "" {
		c.Why = "no replica given to check the copy against"
		return c
	}
	if err := cfg.Validate(); err != nil {
		c.Why = err.Error()
		return c
	}
	_, bl, s, err := open(ctx, &cfg)
	if err != nil {
		c.Why = err.Error()
		return c
	}
	defer closeBlobs(bl)
	tmp := filepath.Join(dir, ".stopmark")
	os.Remove(tmp)
	defer os.Remove(tmp)
	ok, err := getFile(ctx, bl, s, stopMarkKey, tmp)
	switch {
	case err != nil:
		c.Why = "reading the stop mark: " + err.Error()
		return c
	case !ok:
		c.Why = "the primary did not stop cleanly (no stop mark): it may have sent after the copy ends"
		return c
	}
	raw, err := os.ReadFile(tmp)
	var m stopMark
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		c.Why = "stop mark unreadable: " + err.Error()
		return c
	}
	c.MarkTXID = m.TXID
	if c.StandbyTXID != m.TXID {
		c.Why = fmt.Sprintf("the standby holds transaction %d, the primary stopped at %d", c.StandbyTXID, m.TXID)
		return c
	}
	c.Complete = true
	log.Info("standby holds the stopped primary's last transaction", "txid", m.TXID, "stopped", m.At)
	return c
}
