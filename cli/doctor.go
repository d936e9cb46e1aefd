package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// A doctor finding. Problems make the command fail; warnings do not.
type finding struct {
	level string // "ok", "WARN", "FAIL", "skip"
	what  string
	fix   string
}

type doctor struct {
	cfg     *serveConfig
	timeout time.Duration
	trust   *x509.CertPool // extra roots for the served certificate
	out     []finding
	now     func() time.Time
	// numbers and storedToken are read from the database, for the data
	// residency check.
	numbers     []string
	storedToken string
	// panelReplica is the replica target set on the settings page, if on.
	panelReplica string
}

func (d *doctor) ok(format string, a ...any) {
	d.out = append(d.out, finding{"ok", fmt.Sprintf(format, a...), ""})
}
func (d *doctor) warn(fix, format string, a ...any) {
	d.out = append(d.out, finding{"WARN", fmt.Sprintf(format, a...), fix})
}
func (d *doctor) fail(fix, format string, a ...any) {
	d.out = append(d.out, finding{"FAIL", fmt.Sprintf(format, a...), fix})
}
func (d *doctor) skip(format string, a ...any) {
	d.out = append(d.out, finding{"skip", fmt.Sprintf(format, a...), ""})
}

// cmdDoctor checks an installation and says in plain words what to fix.
// It reads the same flags and PFORTE_* variables as serve, so run it with
// the same environment (e.g. "sudo systemd-run -P --property=EnvironmentFile=...").
func cmdDoctor(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs, cfg := serveFlags(env)
	fs.Init("doctor", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "how long each network check may take")
	trustRoot := fs.String("trust-root", "", "PEM file of an extra root to accept for the served certificate (staging or private CA)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	d := &doctor{cfg: cfg, timeout: *timeout, now: time.Now}
	if *trustRoot != "" {
		pool, err := loadPool(*trustRoot)
		if err != nil {
			return settingError("trust-root", *trustRoot, err.Error())
		}
		d.trust = pool
	}
	if err := cfg.validate(); err != nil {
		d.fail("correct the setting in the unit's environment file or on the command line", "settings: %v", err)
	} else {
		d.checkSettings()
		d.checkDataDir(ctx)
		d.checkDNS(ctx)
		d.checkListeners(ctx)
		d.checkCertificate(ctx)
		d.checkMeta(ctx)
		token := d.storedToken // the panel's token wins, as in serve
		if token == "" {
			token = cfg.AccessToken
		}
		d.checkStorage(ctx, token, d.numbers)
		d.checkReplica()
	}
	return d.report(stdout)
}

func (d *doctor) report(w io.Writer) error {
	problems, warnings := 0, 0
	for _, f := range d.out {
		fmt.Fprintf(w, "%-5s %s\n", f.level, f.what)
		if f.fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.fix)
		}
		switch f.level {
		case "FAIL":
			problems++
		case "WARN":
			warnings++
		}
	}
	fmt.Fprintf(w, "\n%d problem(s), %d warning(s).\n", problems, warnings)
	if problems > 0 {
		return fmt.Errorf("doctor found %d problem(s)", problems)
	}
	return nil
}

func (d *doctor) checkSettings() {
	c := d.cfg
	if c.AppSecret == "" {
		d.fail("set PFORTE_APP_SECRET to the app secret from Meta's App Dashboard (Settings → Basic)", "no Meta app secret: webhook deliveries cannot be verified and are answered 503")
	} else {
		d.ok("Meta app secret is set")
	}
	if c.VerifyToken == "" {
		d.fail("set PFORTE_VERIFY_TOKEN to a long random string and type the same into Meta's webhook configuration", "no webhook verify token: Meta's subscription handshake will be refused")
	} else {
		d.ok("webhook verify token is set")
	}
	if !c.tlsEnabled() && len(c.proxies) == 0 {
		d.warn("set PFORTE_DOMAIN to this server's DNS name, or put a TLS proxy in front and set PFORTE_TRUSTED_PROXIES",
			"no HTTPS: Meta delivers webhooks only to a CA-signed https:// URL")
	}
	host, _, _ := net.SplitHostPort(c.InternalAddr)
	if a, err := netip.ParseAddr(host); host == "" || err == nil && !(a.IsLoopback() || a.IsPrivate()) {
		d.warn("bind --internal-addr (PFORTE_INTERNAL_ADDR) to 127.0.0.1 or a private/VPN address",
			"the internal API listens on %q, which may be reachable from the internet", c.InternalAddr)
	}
}

func (d *doctor) checkDataDir(ctx context.Context) {
	dir := d.cfg.DataDir
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		d.warn("start pforte once (it creates the directory), or check --data-dir / PFORTE_DATA_DIR", "data directory %s does not exist yet", dir)
		return
	}
	if err != nil {
		d.fail("check the path and the permissions of its parent directories", "data directory %s: %v", dir, err)
		return
	}
	if !fi.IsDir() {
		d.fail("point --data-dir at a directory", "data directory %s is not a directory", dir)
		return
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		d.warn(fmt.Sprintf("chmod 700 %s (it holds messages, keys and certificates)", dir), "data directory %s is readable by others (mode %04o)", dir, perm)
	} else {
		d.ok("data directory %s is private (mode %04o)", dir, perm)
	}
	if f, err := os.CreateTemp(dir, ".doctor-*"); err != nil {
		d.fail(fmt.Sprintf("give the user pforte runs as write access to %s (with systemd's StateDirectory= this is automatic)", dir),
			"data directory %s is not writable by this user: %v", dir, err)
	} else {
		f.Close()
		os.Remove(f.Name())
	}
	certs := filepath.Join(dir, "certs")
	if fi, err := os.Stat(certs); err == nil && fi.Mode().Perm()&0o077 != 0 {
		d.warn("chmod -R go-rwx "+certs, "certificate storage %s is readable by others (it holds private keys)", certs)
	}
	if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err != nil {
		d.warn("start pforte once", "no database in %s yet", dir)
		return
	}
	st, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		d.fail("see the error; restore from a backup if the file is damaged", "database: %v", err)
		return
	}
	defer st.Close()
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := st.IntegrityCheck(ictx); err != nil {
		d.fail("stop pforte and restore the latest backup (pforte restore)", "database integrity: %v", err)
		return
	}
	d.ok("database opens and passes the integrity check (SQLite %s)", store.SQLiteVersion())
	if hs, err := st.NumberHealths(ctx); err == nil {
		for _, h := range hs {
			d.numbers = append(d.numbers, h.PhoneNumberID)
		}
	}
	if tok, ok, err := st.Secret(ctx, store.SettingAccessToken); err == nil && ok {
		d.storedToken = string(tok)
	}
	if rs, err := st.ReplicaSettings(ctx); err == nil && rs.Enabled {
		d.panelReplica = rs.URL
	}
}

func (d *doctor) checkDNS(ctx context.Context) {
	if len(d.cfg.domains) == 0 {
		return
	}
	local := localAddrs()
	for _, name := range d.cfg.domains {
		lctx, cancel := context.WithTimeout(ctx, d.timeout)
		addrs, err := net.DefaultResolver.LookupNetIP(lctx, "ip", name)
		cancel()
		if err != nil || len(addrs) == 0 {
			d.fail(fmt.Sprintf("create an A (and AAAA, if the server has IPv6) record for %s with this server's public address; certificates cannot be obtained before", name),
				"DNS: %s does not resolve (%v)", name, err)
			continue
		}
		var here, elsewhere []string
		for _, a := range addrs {
			if a = a.Unmap(); local[a] || a.IsLoopback() {
				here = append(here, a.String())
			} else {
				elsewhere = append(elsewhere, a.String())
			}
		}
		switch {
		case len(elsewhere) == 0:
			d.ok("DNS: %s points here (%s)", name, strings.Join(here, ", "))
		case len(here) == 0:
			d.warn(fmt.Sprintf("if %s is not forwarded to this machine (NAT), change the DNS record of %s to this server's public address", strings.Join(elsewhere, ", "), name),
				"DNS: %s points to %s, which is not an address of this machine", name, strings.Join(elsewhere, ", "))
		default:
			d.warn(fmt.Sprintf("remove the records %s of %s unless they also lead here: ACME may validate against any of them", strings.Join(elsewhere, ", "), name),
				"DNS: %s points here (%s) and elsewhere (%s)", name, strings.Join(here, ", "), strings.Join(elsewhere, ", "))
		}
	}
}

func localAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out
}

// dialAddr turns a listen address into one to connect to locally.
func dialAddr(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (d *doctor) checkListeners(ctx context.Context) {
	running := "is pforte running? (systemctl status pforte; journalctl -u pforte)"
	internal := dialAddr(d.cfg.InternalAddr)
	client := &http.Client{Timeout: d.timeout}
	if resp, err := client.Get("http://" + internal + "/healthz"); err != nil {
		d.fail(running, "internal listener %s does not answer: %v", internal, err)
	} else {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			d.ok("internal listener %s answers /healthz", internal)
		} else {
			d.fail("another program holds "+internal+"; "+running, "internal listener %s answers /healthz with %d", internal, resp.StatusCode)
		}
	}
	ports := []struct{ name, addr string }{{"http-addr", d.cfg.HTTPAddr}}
	if d.cfg.tlsEnabled() {
		ports = append(ports, struct{ name, addr string }{"https-addr", d.cfg.HTTPSAddr})
	}
	for _, p := range ports {
		a := dialAddr(p.addr)
		c, err := (&net.Dialer{Timeout: d.timeout}).DialContext(ctx, "tcp", a)
		if err != nil {
			d.fail(running+"; also open the port in the firewall (e.g. ufw allow 80,443/tcp)", "--%s %s is not reachable locally: %v", p.name, a, err)
			continue
		}
		c.Close()
		d.ok("--%s %s is reachable locally", p.name, a)
	}
}

func (d *doctor) checkCertificate(ctx context.Context) {
	if !d.cfg.tlsEnabled() {
		return
	}
	names := d.cfg.domains
	if len(names) == 0 {
		names = []string{""}
	}
	addr := dialAddr(d.cfg.HTTPSAddr)
	for _, name := range names {
		dctx, cancel := context.WithTimeout(ctx, d.timeout)
		conn, err := (&tls.Dialer{Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}}).DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			d.checkStoredCertificate(name, fmt.Sprintf("TLS handshake with %s failed: %v", addr, err))
			continue
		}
		chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
		conn.Close()
		d.judgeCertificate(name, "served", chain)
	}
	d.checkRenewalErrors()
}

// checkStoredCertificate looks at what certmagic stored when nothing is
// served (pforte is stopped).
func (d *doctor) checkStoredCertificate(name, why string) {
	if name == "" || d.cfg.TLSCert != "" {
		d.fail("start pforte; with --tls-cert check that the files exist and match", "certificate: %s", why)
		return
	}
	matches, _ := filepath.Glob(filepath.Join(d.cfg.DataDir, "certs", "certificates", "*", name, name+".crt"))
	if len(matches) == 0 {
		d.fail("start pforte with ports 80 and 443 reachable from the internet; it then obtains the certificate within a minute",
			"certificate: none stored for %s, and %s", name, why)
		return
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		d.fail("check the permissions of "+matches[0], "certificate: %v", err)
		return
	}
	var chain []*x509.Certificate
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && block.Type == "CERTIFICATE" {
			chain = append(chain, c)
		}
	}
	if len(chain) == 0 {
		d.fail("remove "+matches[0]+" so pforte obtains a new one", "certificate: %s holds no certificate", matches[0])
		return
	}
	d.judgeCertificate(name, "stored (pforte is not serving it: "+why+")", chain)
}

func (d *doctor) judgeCertificate(name, how string, chain []*x509.Certificate) {
	leaf := chain[0]
	label := name
	if label == "" {
		label = strings.Join(leaf.DNSNames, ",")
	}
	left := leaf.NotAfter.Sub(d.now())
	days := int(math.Floor(left.Hours() / 24))
	desc := fmt.Sprintf("certificate for %s %s: issued by %q, valid until %s (%d days)", label, how, leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"), days)
	if left <= 0 {
		d.fail("check the log for renewal errors (journalctl -u pforte); with --tls-cert replace the files and run systemctl reload pforte", "%s: EXPIRED", desc)
		return
	}
	roots, _ := x509.SystemCertPool()
	if roots == nil {
		roots = x509.NewCertPool()
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: name, Intermediates: inter, Roots: roots, CurrentTime: d.now()}
	_, err := leaf.Verify(opts)
	if err != nil && d.trust != nil {
		opts.Roots = d.trust
		_, err = leaf.Verify(opts)
	}
	switch {
	case err != nil:
		d.fail("Meta accepts only certificates from a public CA: use the production --acme-ca (the default) or a certificate from a public CA",
			"%s: not trusted: %v", desc, err)
	case left < 14*24*time.Hour:
		d.warn("renewal should have happened by now: check the log (journalctl -u pforte) and that ports 80/443 are reachable from the internet", "%s: expires soon", desc)
	default:
		d.ok("%s", desc)
	}
}

// checkRenewalErrors reads the running gateway's metrics for failed
// certificate attempts that have not been followed by a success.
func (d *doctor) checkRenewalErrors() {
	client := &http.Client{Timeout: d.timeout}
	resp, err := client.Get("http://" + dialAddr(d.cfg.InternalAddr) + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "pforte_tls_certificate_last_error_seconds{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		ts, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || ts == 0 {
			continue
		}
		when := time.Unix(int64(ts), 0).UTC().Format(time.RFC3339)
		d.warn("see the reason in the log (journalctl -u pforte | grep certificate); pforte keeps retrying with backoff",
			"the last certificate attempt for {%s} failed at %s", labels, when)
	}
}

// checkMeta asks the Graph API whether the access token is valid, and
// compares the clock with the Graph API's (or the ACME CA's) Date header.
func (d *doctor) checkMeta(ctx context.Context) {
	client := &http.Client{Timeout: d.timeout}
	base := strings.TrimSuffix(d.cfg.GraphURL, "/") + "/" + d.cfg.GraphVersion
	var date string
	if d.cfg.AccessToken == "" {
		d.warn("set PFORTE_ACCESS_TOKEN to a permanent system-user token (Business Settings → System users)", "no Meta access token: sending and media downloads will not work")
	} else {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/me?fields=id,name", nil)
		req.Header.Set("Authorization", "Bearer "+d.cfg.AccessToken)
		resp, err := client.Do(req)
		if err != nil {
			d.skip("Meta access token not checked: %s is not reachable (%v)", d.cfg.GraphURL, err)
		} else {
			date = resp.Header.Get("Date")
			var body struct {
				ID    string `json:"id"`
				Name  string `json:"name"`
				Error *struct {
					Message string             `json:"message"`
					Code    cloudapi.ErrorCode `json:"code"`
				} `json:"error"`
			}
			json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK && body.ID != "":
				d.ok("Meta access token is valid (%s)", body.Name)
			case body.Error != nil && body.Error.Code == cloudapi.CodeAccessTokenExpired:
				d.fail("create a new permanent token for the system user in Meta Business Settings and set PFORTE_ACCESS_TOKEN", "Meta access token is invalid or expired: %s", body.Error.Message)
			case body.Error != nil:
				d.fail("check the token's permissions (whatsapp_business_messaging, whatsapp_business_management)", "Meta refused the access token (code %d): %s", body.Error.Code, body.Error.Message)
			default:
				d.fail("check --graph-url", "Meta answered %d to the token check", resp.StatusCode)
			}
		}
	}
	if date == "" {
		for _, u := range []string{d.cfg.GraphURL, d.cfg.ACMECA} {
			if u == "" {
				continue
			}
			req, _ := http.NewRequestWithContext(ctx, "HEAD", u, nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				if date = resp.Header.Get("Date"); date != "" {
					break
				}
			}
		}
	}
	t, err := http.ParseTime(date)
	if err != nil {
		d.skip("clock not compared: no reachable server told the time")
		return
	}
	skew := d.now().Sub(t)
	if skew < 0 {
		skew = -skew
	}
	// Date has one-second resolution and travels a network.
	if skew > 30*time.Second {
		d.fail("turn on time synchronisation: timedatectl set-ntp true (TLS, ACME and Meta's timestamps need a correct clock)",
			"the clock is off by %s", skew.Round(time.Second))
		return
	}
	d.ok("the clock agrees with %s (off by %s)", hostOf(d.cfg.GraphURL), skew.Round(time.Second))
}

func hostOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	host, _, _ := strings.Cut(u, "/")
	return host
}
