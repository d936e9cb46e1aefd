package cli

import (
	"context"
	"errors"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/server/health"
)

// startHealth runs the health monitor: Graph reads of each number, the
// local checks, and the alarm mailer. It starts after the jobs (whose
// backup result it reads) and stops before the store closes.
func (n *node) startHealth(ctx context.Context) error {
	opts := health.Options{Logger: n.log.With("part", "health"), DataDir: n.cfg.DataDir, Site: n.cfg.Domain}
	if n.tls != nil {
		m := n.tls
		opts.CertError = func() error {
			for _, c := range m.Status() {
				if c.LastError != "" && c.LastErrorAt.After(c.LastRenewal) {
					return errors.New(c.Name + ": " + c.LastError)
				}
			}
			return nil
		}
	}
	if n.sched != nil {
		s := n.sched
		opts.BackupError = func() error { return s.Last(jobs.Backup).Err }
	}
	mo := health.New(n.st, n.client, opts)
	n.reg.MustRegister(mo.Collector())
	mo.Start(context.WithoutCancel(ctx))
	n.health = mo
	n.onStop(func(ctx context.Context) {
		if err := mo.Stop(ctx); err != nil {
			n.log.Warn("health", "err", err)
		}
	})
	return nil
}
