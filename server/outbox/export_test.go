package outbox

import (
	"context"
	"log/slog"

	"github.com/pforte/pforte/store"
)

// NewStopReplier builds a stop replier that runs only when told (Once).
func NewStopReplier(st *store.Store, snd *Sender, log *slog.Logger) *StopReplier {
	return &StopReplier{st: st, snd: snd, log: log}
}

// Once looks at the pending replies one time.
func (r *StopReplier) Once(ctx context.Context) { r.once(ctx) }
