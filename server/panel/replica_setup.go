package panel

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// ReplicaSetup lets admins set the off-site replica up on the settings
// page. The panel knows nothing of the replicator: main hands in the few
// operations it needs (from package replica) and how to apply a change.
type ReplicaSetup struct {
	// DataDir is where a generated key file is written (never shipped).
	DataDir string
	// Fixed is what the start parameters give; it wins over the page.
	Fixed ReplicaFixed
	// CheckURL says what is wrong with a target URL.
	CheckURL func(raw string) error
	// NewKey writes a new age identity to path (0600, never overwriting)
	// and returns its public key.
	NewKey func(path string) (recipient string, err error)
	// CheckKey says whether a key file is usable.
	CheckKey func(path string) error
	// Probe writes, reads and deletes a small object in the target; empty
	// credentials mean the environment's. Its error may carry a
	// ProbeKind() string method (see replica.ProbeError).
	Probe func(ctx context.Context, url, accessKeyID, secretKey, sftpPassword string) error
	// Apply makes the saved settings take effect: stops the running
	// replicator and starts one with them (or none).
	Apply func(ctx context.Context) error
}

// ReplicaFixed is the replica configuration from the start parameters.
type ReplicaFixed struct {
	URL          string        // --replica-url: replication is on with it
	Encryption   bool          // --replica-key-file / --replica-unencrypted decide
	Encrypted    bool          // and they encrypt
	Retention    time.Duration // --replica-retention given
	S3Keys       bool          // AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY set
	SFTPPassword bool          // PFORTE_REPLICA_SFTP_PASSWORD set
	Lease        bool          // --replica-lease
}

func (f *ReplicaFixed) names() map[string]bool {
	m := map[string]bool{}
	for k, on := range map[string]bool{"url": f.URL != "", "encryption": f.Encryption, "retention": f.Retention > 0,
		"s3_keys": f.S3Keys, "sftp_password": f.SFTPPassword} {
		if on {
			m[k] = true
		}
	}
	return m
}

// maxRetentionHours bounds the history kept off-site (a year).
const maxRetentionHours = 8760

// replicaFormVM shows what is saved, with the start parameters over it.
func (s *Server) replicaFormVM(ctx context.Context) (*web.ReplicaFormVM, error) {
	rs := s.cfg.ReplicaSetup
	set, err := s.store.ReplicaSettings(ctx)
	if err != nil {
		return nil, err
	}
	fx := rs.Fixed
	vm := &web.ReplicaFormVM{Enabled: set.Enabled, URL: set.URL, AccessKeyID: set.AccessKeyID, SecretSet: set.SecretKey != nil,
		SFTPPasswordSet: set.SFTPPassword != nil, RetentionHours: int(set.Retention / time.Hour), Unencrypted: set.Unencrypted,
		KeyFile: filepath.Base(set.KeyFile), KeyPending: set.KeyPending != "", Fixed: fx.names(), FixedEncrypted: fx.Encrypted, Lease: fx.Lease}
	if set.KeyFile == "" {
		vm.KeyFile = ""
	}
	if vm.RetentionHours == 0 {
		vm.RetentionHours = 72
	}
	if fx.URL != "" {
		vm.URL, vm.Enabled = fx.URL, true
	}
	if fx.Retention > 0 {
		vm.RetentionHours = int(fx.Retention / time.Hour)
	}
	if fx.Encryption {
		vm.Unencrypted = !fx.Encrypted
	}
	return vm, nil
}

func (s *Server) renderReplica(w http.ResponseWriter, r *http.Request, status int, form *web.ReplicaFormVM) {
	vm, err := s.settingsVM(r.Context(), r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.ReplicaForm = form
	s.page(w, r, status, web.Chrome{Title: web.T(r.Context(), "Einstellungen"), Nav: "settings"}, web.Settings(vm))
}

// replicaKey writes a new key into the data directory and shows it once;
// it is used only after the admin confirmed a copy elsewhere.
func (s *Server) replicaKey(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	rs := s.cfg.ReplicaSetup
	if rs == nil || rs.Fixed.Encryption {
		s.failPage(w, r, http.StatusConflict, "Die Verschlüsselung ist über Startparameter festgelegt.")
		return
	}
	before, err := s.store.ReplicaSettings(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	var nonce [4]byte
	rand.Read(nonce[:])
	path := filepath.Join(rs.DataDir, "replica-key-"+s.now().UTC().Format("20060102-150405")+"-"+hex.EncodeToString(nonce[:])+".txt")
	pub, err := rs.NewKey(path)
	if err == nil {
		var b []byte
		if b, err = os.ReadFile(path); err == nil {
			detail, _ := json.Marshal(map[string]string{"public_key": pub, "file": filepath.Base(path)})
			err = s.store.SetSettings(ctx, map[string]string{store.SettingReplicaKeyPending: path}, nil,
				store.AuditEntry{Actor: v.actor(), Action: store.AuditReplicaKeyCreate, Target: "settings:replica", Detail: string(detail), IP: tlsmgr.ClientIP(r)})
			if err == nil {
				if old := before.KeyPending; old != "" && old != before.KeyFile && filepath.Dir(old) == rs.DataDir {
					os.Remove(old) // never confirmed, so never used: the new one replaces it
				}
				form, ferr := s.replicaFormVM(ctx)
				if ferr != nil {
					s.storeFail(w, r, ferr)
					return
				}
				w.Header().Set("Cache-Control", "no-store")
				form.NewKey, form.NewKeyPub = strings.TrimSpace(string(b)), pub
				form.KeyDownload = "data:text/plain;base64," + base64.StdEncoding.EncodeToString(b)
				s.renderReplica(w, r, http.StatusOK, form)
				return
			}
			os.Remove(path) // not recorded: nobody could confirm it
		}
	}
	s.log.Error("replica key", "err", err)
	form, ferr := s.replicaFormVM(ctx)
	if ferr != nil {
		s.storeFail(w, r, ferr)
		return
	}
	form.Error = web.Tf(ctx, "Der Schlüssel konnte nicht erzeugt werden: %s", err.Error())
	s.renderReplica(w, r, http.StatusInternalServerError, form)
}

// replicaSave checks, probes, saves and applies the form as a whole
// (action "probe" only checks the connection and saves nothing).
func (s *Server) replicaSave(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	rs := s.cfg.ReplicaSetup
	if rs == nil {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	before, err := s.store.ReplicaSettings(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	form, err := s.replicaFormVM(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	f, fx := r.PostForm, rs.Fixed
	probeOnly := f.Get("action") == "probe"
	// The form as typed, shown again on an error; start parameters win.
	next := *before
	next.Enabled = f.Get("enabled") == "1"
	next.URL = strings.TrimSpace(f.Get("url"))
	hours, herr := strconv.Atoi(strings.TrimSpace(f.Get("retention_hours")))
	form.Enabled, form.URL, form.RetentionHours = next.Enabled, next.URL, hours
	if !fx.S3Keys {
		next.AccessKeyID = strings.TrimSpace(f.Get("access_key_id"))
		form.AccessKeyID = next.AccessKeyID
		if sk := f.Get("secret_key"); sk != "" {
			next.SecretKey = []byte(sk)
		}
	}
	if !fx.SFTPPassword {
		if pw := f.Get("sftp_password"); pw != "" {
			next.SFTPPassword = []byte(pw)
		}
	}
	if fx.URL != "" {
		next.URL, next.Enabled = before.URL, true
		form.URL, form.Enabled = fx.URL, true
	}
	if fx.Retention > 0 {
		hours, herr = int(fx.Retention/time.Hour), nil
		form.RetentionHours = hours
	}
	if !fx.Encryption {
		next.Unencrypted = f.Get("encryption") == "none"
		form.Unencrypted = next.Unencrypted
	}
	fail := func(msg string) {
		form.Error = msg
		s.renderReplica(w, r, http.StatusUnprocessableEntity, form)
	}
	target := cmp.Or(fx.URL, next.URL)
	switch {
	case herr != nil || hours < 1 || hours > maxRetentionHours:
		fail(web.Tf(ctx, "Die Aufbewahrung im Ziel muss zwischen 1 und %d Stunden liegen.", maxRetentionHours))
		return
	case len(next.URL) > 2000 || len(next.AccessKeyID) > 200 || len(next.SecretKey) > 500 || len(next.SFTPPassword) > 500:
		fail(web.T(ctx, "Eine Angabe ist zu lang."))
		return
	case target == "" && (next.Enabled || probeOnly):
		fail(web.T(ctx, "Bitte geben Sie das Ziel an, z. B. s3://bucket/pforte?endpoint=https://… oder file:///mnt/replik."))
		return
	}
	next.Retention = time.Duration(hours) * time.Hour
	if target != "" && fx.URL == "" {
		if err := rs.CheckURL(target); err != nil {
			fail(web.Tf(ctx, "Das Ziel ist ungültig: %s", err.Error()))
			return
		}
	}
	isS3 := strings.HasPrefix(target, "s3://")
	if isS3 && !fx.S3Keys && (next.Enabled || probeOnly) && (next.AccessKeyID == "" || next.SecretKey == nil) {
		fail(web.T(ctx, "Für ein S3-Ziel brauchen Sie die Zugangsschlüssel-ID und den geheimen Schlüssel Ihres Speicheranbieters."))
		return
	}
	if !fx.Encryption && next.Enabled && !probeOnly {
		switch {
		case next.Unencrypted && f.Get("unencrypted_ack") != "1":
			fail(web.T(ctx, "Ohne Verschlüsselung kann der Speicheranbieter alle Nachrichten und Medien lesen. Bitte bestätigen Sie das ausdrücklich oder erzeugen Sie einen Schlüssel."))
			return
		case next.Unencrypted:
		case before.KeyPending != "" && f.Get("key_confirmed") == "1":
			next.KeyFile, next.KeyPending = before.KeyPending, ""
		case before.KeyPending != "" && before.KeyFile == "":
			fail(web.T(ctx, "Bitte bestätigen Sie, dass Sie den Schlüssel außerhalb dieses Servers gespeichert haben. Ohne ihn ist die Replik nicht lesbar."))
			return
		case before.KeyFile == "":
			fail(web.T(ctx, "Bitte erzeugen Sie zuerst einen Schlüssel („Schlüssel erzeugen“) oder wählen Sie ausdrücklich „ohne Verschlüsselung“."))
			return
		}
		if !next.Unencrypted {
			if err := rs.CheckKey(next.KeyFile); err != nil {
				fail(web.Tf(ctx, "Der Schlüssel ist nicht lesbar: %s. Bitte erzeugen Sie einen neuen.", err.Error()))
				return
			}
		}
	}
	if target != "" && (next.Enabled || probeOnly) {
		// The target is checked now: a wrong bucket or key shows here,
		// not as an alarm an hour later.
		var ak, sk, pw string
		if !fx.S3Keys {
			ak, sk = next.AccessKeyID, string(next.SecretKey)
		}
		if !fx.SFTPPassword {
			pw = string(next.SFTPPassword)
		}
		if err := rs.Probe(ctx, target, ak, sk, pw); err != nil {
			fail(probeText(ctx, err))
			return
		}
	}
	if probeOnly {
		form.Notice = web.T(ctx, "Verbindung geprüft: Schreiben, Lesen und Löschen im Ziel haben geklappt. Noch nichts gespeichert.")
		s.renderReplica(w, r, http.StatusOK, form)
		return
	}
	fixedKeys := map[string]bool{}
	if fx.URL != "" {
		fixedKeys[store.SettingReplicaURL], fixedKeys[store.SettingReplicaEnabled] = true, true
	}
	if fx.Retention > 0 {
		fixedKeys[store.SettingReplicaRetention] = true
	}
	if fx.S3Keys {
		fixedKeys[store.SettingReplicaAccessKeyID], fixedKeys[store.SettingReplicaSecretKey] = true, true
	}
	if fx.SFTPPassword {
		fixedKeys[store.SettingReplicaSFTPPassword] = true
	}
	if fx.Encryption {
		fixedKeys[store.SettingReplicaUnencrypted], fixedKeys[store.SettingReplicaKeyFile], fixedKeys[store.SettingReplicaKeyPending] = true, true, true
	}
	// Secrets not typed again stay as they are (nil below).
	save := next
	if string(save.SecretKey) == string(before.SecretKey) {
		save.SecretKey = nil
	}
	if string(save.SFTPPassword) == string(before.SFTPPassword) {
		save.SFTPPassword = nil
	}
	// The audit line says what changed, never a secret.
	detail, _ := json.Marshal(map[string]any{"enabled": next.Enabled, "target": redactTarget(target), "retention_hours": hours,
		"encrypted": !next.Unencrypted, "key_file": filepath.Base(next.KeyFile), "access_key_id_changed": next.AccessKeyID != before.AccessKeyID,
		"secret_changed": save.SecretKey != nil, "sftp_password_changed": save.SFTPPassword != nil})
	if err := s.store.SaveReplicaSettings(ctx, &save, fixedKeys, store.AuditEntry{Actor: v.actor(), Action: store.AuditReplicaSettings,
		Detail: string(detail), IP: tlsmgr.ClientIP(r)}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	if err := rs.Apply(ctx); err != nil {
		s.log.Error("replica: applying the settings", "err", err)
		setFlash(w, web.Tf(ctx, "Gespeichert, aber die Replikation ließ sich nicht starten: %s", err.Error()))
		redirect(w, r, "/settings#replica")
		return
	}
	msg := "Off-site-Replikation gespeichert und ausgeschaltet."
	if next.Enabled {
		msg = "Off-site-Replikation gespeichert; der Replikator läuft mit den neuen Einstellungen."
	}
	setFlash(w, web.T(ctx, msg))
	redirect(w, r, "/settings#replica")
}

// redactTarget drops the query (endpoint, host key) for the audit line.
func redactTarget(raw string) string {
	t, _, _ := strings.Cut(raw, "?")
	return t
}

// probeText is the German message for a failed probe.
func probeText(ctx context.Context, err error) string {
	var pk interface{ ProbeKind() string }
	kind := ""
	if errors.As(err, &pk) {
		kind = pk.ProbeKind()
	}
	reason := trim(err.Error(), 300)
	switch kind {
	case "unreachable":
		return web.Tf(ctx, "Das Ziel ist nicht erreichbar. Bitte prüfen Sie Adresse und Endpunkt. (%s)", reason)
	case "denied":
		return web.Tf(ctx, "Zugriff verweigert: Bitte prüfen Sie die Zugangsdaten (S3-Schlüssel bzw. SFTP-Passwort oder SSH-Schlüssel) und die Rechte am Ziel. (%s)", reason)
	case "host_key":
		return web.Tf(ctx, "Der SFTP-Server zeigt einen anderen Host-Schlüssel als den in der URL (host_key). Verbunden wurde nicht. Bitte prüfen Sie den Fingerabdruck beim Anbieter. (%s)", reason)
	case "no_bucket":
		return web.Tf(ctx, "Diesen Bucket gibt es beim Anbieter nicht. Bitte prüfen Sie Bucket-Namen und Endpunkt. (%s)", reason)
	case "no_credentials":
		return web.T(ctx, "Für ein S3-Ziel brauchen Sie die Zugangsschlüssel-ID und den geheimen Schlüssel Ihres Speicheranbieters.")
	}
	return web.Tf(ctx, "Die Verbindungsprüfung ist fehlgeschlagen: %s", reason)
}
