package server

import (
	"context"
)

// appSecrets are the Meta app secrets webhooks are verified with: those an
// admin saved in the panel, else those from the command line.
func (s *Server) appSecrets() [][]byte {
	if p := s.secrets.Load(); p != nil {
		return *p
	}
	return s.cfg.AppSecrets
}

func (s *Server) setAppSecrets(v [][]byte) { s.secrets.Store(&v) }

// LoadStoredSecrets reconciles the app secret with the database at start:
// one given on the command line seeds an empty database, and afterwards the
// panel's value is used until the command line gives one again.
func (s *Server) LoadStoredSecrets(ctx context.Context) error {
	stored, ok, err := s.store.Secret(ctx, SettingAppSecret)
	if err != nil {
		return err
	}
	switch {
	case len(s.cfg.AppSecrets) > 0 && !ok:
		return s.store.SetSecret(ctx, SettingAppSecret, s.cfg.AppSecrets[0])
	case len(s.cfg.AppSecrets) == 0 && ok:
		s.setAppSecrets([][]byte{stored})
	}
	return nil
}
