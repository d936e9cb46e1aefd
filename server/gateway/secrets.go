package gateway

import (
	"context"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// appSecrets are the Meta app secrets webhooks are verified with: those an
// admin saved in the panel, else those from the command line.
func (s *Server) appSecrets() [][]byte { return s.secrets.Load() }

// AppSecrets is the holder the panel saves a new app secret to.
func (s *Server) AppSecrets() *cloudapi.AppSecrets { return s.secrets }

// LoadStoredSecrets reconciles the app secret with the database at start:
// one given on the command line seeds an empty database, and afterwards the
// panel's value is used until the command line gives one again.
func (s *Server) LoadStoredSecrets(ctx context.Context) error {
	stored, ok, err := s.store.Secret(ctx, store.SettingAppSecret)
	if err != nil {
		return err
	}
	switch {
	case len(s.cfg.AppSecrets) > 0 && !ok:
		return s.store.SetSecret(ctx, store.SettingAppSecret, s.cfg.AppSecrets[0])
	case len(s.cfg.AppSecrets) == 0 && ok:
		s.secrets.Save(stored)
	}
	return nil
}
