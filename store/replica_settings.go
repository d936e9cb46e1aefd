package store

import (
	"context"
	"strconv"
	"time"
)

// The off-site replica as set on the settings page. Start parameters
// (--replica-*, AWS_*) win over these, field by field; the secrets are
// sealed like every other secret setting.
const (
	SettingReplicaEnabled      = "replica.enabled"       // "1": replicate
	SettingReplicaURL          = "replica.url"           // s3://…, file:///…, sftp://…
	SettingReplicaAccessKeyID  = "replica.s3_access_key" // S3 access key id (not secret on its own)
	SettingReplicaSecretKey    = "replica.s3_secret_key" // sealed
	SettingReplicaSFTPPassword = "replica.sftp_password" // sealed
	SettingReplicaRetention    = "replica.retention_hours"
	SettingReplicaUnencrypted  = "replica.unencrypted" // "1": the admin chose no encryption
	SettingReplicaKeyFile      = "replica.key_file"    // age identity in use; set once the admin confirmed a copy elsewhere
	SettingReplicaKeyPending   = "replica.key_pending" // generated, shown once, not yet confirmed
)

// ReplicaSettings is the replica configuration saved from the panel.
type ReplicaSettings struct {
	Enabled      bool
	URL          string
	AccessKeyID  string
	SecretKey    []byte // nil when not set
	SFTPPassword []byte // nil when not set
	Retention    time.Duration
	Unencrypted  bool
	KeyFile      string
	KeyPending   string
}

// ReplicaSettings reads what the panel saved; zero values when nothing.
func (s *Store) ReplicaSettings(ctx context.Context) (*ReplicaSettings, error) {
	var r ReplicaSettings
	vals := map[string]string{}
	for _, k := range []string{SettingReplicaEnabled, SettingReplicaURL, SettingReplicaAccessKeyID, SettingReplicaRetention,
		SettingReplicaUnencrypted, SettingReplicaKeyFile, SettingReplicaKeyPending} {
		v, _, err := s.Setting(ctx, k)
		if err != nil {
			return nil, err
		}
		vals[k] = v
	}
	var err error
	if r.SecretKey, _, err = s.Secret(ctx, SettingReplicaSecretKey); err != nil {
		return nil, err
	}
	if r.SFTPPassword, _, err = s.Secret(ctx, SettingReplicaSFTPPassword); err != nil {
		return nil, err
	}
	r.Enabled, r.URL, r.AccessKeyID = vals[SettingReplicaEnabled] == "1", vals[SettingReplicaURL], vals[SettingReplicaAccessKeyID]
	if h, err := strconv.Atoi(vals[SettingReplicaRetention]); err == nil && h > 0 {
		r.Retention = time.Duration(h) * time.Hour
	}
	r.Unencrypted, r.KeyFile, r.KeyPending = vals[SettingReplicaUnencrypted] == "1", vals[SettingReplicaKeyFile], vals[SettingReplicaKeyPending]
	return &r, nil
}

// SaveReplicaSettings stores the whole form in one commit with its audit
// entry. A nil secret keeps the one saved; fixed names the settings the
// start parameters give, which stay as they were saved.
func (s *Store) SaveReplicaSettings(ctx context.Context, r *ReplicaSettings, fixed map[string]bool, audit ...AuditEntry) error {
	b01 := map[bool]string{false: "0", true: "1"}
	plain := map[string]string{SettingReplicaEnabled: b01[r.Enabled], SettingReplicaURL: r.URL, SettingReplicaAccessKeyID: r.AccessKeyID,
		SettingReplicaRetention: strconv.Itoa(int(r.Retention / time.Hour)), SettingReplicaUnencrypted: b01[r.Unencrypted],
		SettingReplicaKeyFile: r.KeyFile, SettingReplicaKeyPending: r.KeyPending}
	secrets := map[string][]byte{SettingReplicaSecretKey: r.SecretKey, SettingReplicaSFTPPassword: r.SFTPPassword}
	for k := range fixed {
		delete(plain, k)
		delete(secrets, k)
	}
	for i := range audit {
		if audit[i].Target == "" {
			audit[i].Target = "settings:replica"
		}
	}
	return s.SetSettings(ctx, plain, secrets, audit...)
}
