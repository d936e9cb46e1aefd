package web

// ReplicaFormVM is the settings page's form for the off-site replica.
// Fixed names the fields the start parameters give (shown read-only):
// "url", "encryption", "retention", "s3_keys", "sftp_password".
type ReplicaFormVM struct {
	Enabled         bool
	URL             string
	AccessKeyID     string
	SecretSet       bool // an S3 secret is saved (never shown)
	SFTPPasswordSet bool
	RetentionHours  int
	Unencrypted     bool
	KeyFile         string // the key in use (file name)
	KeyPending      bool   // a generated key waits for the admin's confirmation
	Fixed           map[string]bool
	FixedEncrypted  bool // the start parameters encrypt (when "encryption" is fixed)
	Lease           bool // --replica-lease holds the bucket's lease
	// NewKey is the private key just generated: shown once, offered for
	// download; KeyDownload is it as a data: URL.
	NewKey      string
	NewKeyPub   string
	KeyDownload string
	Error       string
	Notice      string // the probe's success
}
