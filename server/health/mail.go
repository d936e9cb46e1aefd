package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/pforte/pforte/store"
)

// SMTP settings keys; the password is sealed (store.SetSecret).
const (
	SettingSMTPHost     = "smtp.host"
	SettingSMTPPort     = "smtp.port"
	SettingSMTPSecurity = "smtp.security" // starttls (default), tls, none
	SettingSMTPUser     = "smtp.user"
	SettingSMTPPassword = "smtp.password"
	SettingSMTPFrom     = "smtp.from"
)

// Security is how the connection to the SMTP server is protected.
type Security string

const (
	SecuritySTARTTLS Security = "starttls" // port 587: STARTTLS required
	SecurityTLS      Security = "tls"      // port 465: TLS from the first byte
	SecurityNone     Security = "none"     // only for a relay on the same host
)

// SMTPConfig is the admin's mail server.
type SMTPConfig struct {
	Host     string
	Port     int
	Security Security
	User     string
	Password string
	From     string
	To       []string
}

// ErrNoSMTP means no mail server or recipient is configured.
var ErrNoSMTP = errors.New("health: no SMTP server configured")

// Validate checks the configuration and names the field at fault.
func (c SMTPConfig) Validate() error {
	switch {
	case strings.TrimSpace(c.Host) == "":
		return fmt.Errorf("%w: host", store.ErrInvalid)
	case c.Port <= 0 || c.Port > 65535:
		return fmt.Errorf("%w: port", store.ErrInvalid)
	case c.Security != SecuritySTARTTLS && c.Security != SecurityTLS && c.Security != SecurityNone:
		return fmt.Errorf("%w: security", store.ErrInvalid)
	case !strings.Contains(c.From, "@"):
		return fmt.Errorf("%w: from", store.ErrInvalid)
	case len(c.To) == 0:
		return fmt.Errorf("%w: to", store.ErrInvalid)
	}
	for _, a := range c.To {
		if !strings.Contains(a, "@") {
			return fmt.Errorf("%w: to", store.ErrInvalid)
		}
	}
	return nil
}

// LoadSMTP reads the mail settings; ErrNoSMTP when they are incomplete.
func LoadSMTP(ctx context.Context, st *store.Store) (SMTPConfig, error) {
	get := func(k string) string { v, _, _ := st.Setting(ctx, k); return strings.TrimSpace(v) }
	c := SMTPConfig{Host: get(SettingSMTPHost), Security: Security(get(SettingSMTPSecurity)), User: get(SettingSMTPUser),
		From: get(SettingSMTPFrom)}
	if c.Security == "" {
		c.Security = SecuritySTARTTLS
	}
	c.Port, _ = strconv.Atoi(get(SettingSMTPPort))
	for _, a := range strings.Split(get(store.SettingAlarmMailTo), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.To = append(c.To, a)
		}
	}
	if pw, ok, err := st.Secret(ctx, SettingSMTPPassword); err != nil {
		return c, err
	} else if ok {
		c.Password = string(pw)
	}
	if c.Host == "" || len(c.To) == 0 {
		return c, ErrNoSMTP
	}
	return c, c.Validate()
}

// SaveSMTP stores the mail settings; an empty password keeps the stored one.
func SaveSMTP(ctx context.Context, st *store.Store, c SMTPConfig, audit store.AuditEntry) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for k, v := range map[string]string{SettingSMTPHost: c.Host, SettingSMTPPort: strconv.Itoa(c.Port),
		SettingSMTPSecurity: string(c.Security), SettingSMTPUser: c.User, SettingSMTPFrom: c.From} {
		if err := st.SetSetting(ctx, k, v); err != nil {
			return err
		}
	}
	if c.Password != "" {
		if err := st.SetSecret(ctx, SettingSMTPPassword, []byte(c.Password)); err != nil {
			return err
		}
	}
	// The recipients last, with the audit line: from now on alarms queue mail.
	return st.SetSetting(ctx, store.SettingAlarmMailTo, strings.Join(c.To, ", "), audit)
}

// send delivers messages over one SMTP session.
func send(ctx context.Context, c SMTPConfig, tlsConf *tls.Config, msgs ...*mail.Msg) error {
	opts := []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(15 * time.Second)}
	switch c.Security {
	case SecurityTLS:
		opts = append(opts, mail.WithSSL())
	case SecurityNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if tlsConf != nil {
		tc := tlsConf.Clone()
		tc.ServerName = c.Host
		opts = append(opts, mail.WithTLSConfig(tc))
	}
	if c.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.User), mail.WithPassword(c.Password))
	}
	cl, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return fmt.Errorf("health: smtp client: %w", err)
	}
	return cl.DialAndSendWithContext(ctx, msgs...)
}

// alarmMessage builds one alarm e-mail, German first, English below.
func alarmMessage(c SMTPConfig, m store.AlarmMail, site string) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(c.From); err != nil {
		return nil, fmt.Errorf("health: from: %w", err)
	}
	if err := msg.To(c.To...); err != nil {
		return nil, fmt.Errorf("health: to: %w", err)
	}
	de, en := "Alarm", "Alarm"
	if m.Kind == store.AlarmMailResolved {
		de, en = "Behoben", "Resolved"
	}
	msg.Subject(fmt.Sprintf("[Pforte %s] %s: %s", site, de, m.Message))
	msg.SetMessageIDWithValue(fmt.Sprintf("pforte-alarm-%d@%s", m.ID, site))
	body := fmt.Sprintf("%s (%s)\n\n%s\n\nSchlüssel / key: %s\nZeit / time: %s\n\nPforte meldet jeden Alarm einmal und noch einmal, wenn er behoben ist.\nPforte mails each alarm once, and once more when it clears.\n",
		de, en, m.Message, m.AlarmKey, time.Unix(m.CreatedAt, 0).UTC().Format(time.RFC3339))
	msg.SetBodyString(mail.TypeTextPlain, body)
	return msg, nil
}
