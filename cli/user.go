package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/store"
)

func cmdUser(ctx context.Context, args []string, env envLookup, stdin io.Reader, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && args[0] == "add":
		return cmdUserAdd(ctx, args, env, stdin, stdout, stderr)
	case len(args) > 0 && args[0] == "reset-password":
		return cmdUserResetPassword(ctx, args[1:], env, stdin, stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: pforte user add --email E --role admin|agent|auditor [--name N] [--password-stdin]")
	fmt.Fprintln(stderr, "       pforte user reset-password --email E [--stdin | --link] [--public-url URL]")
	return errUsage
}

func cmdUserAdd(ctx context.Context, args []string, env envLookup, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	email := fs.String("email", "", "the person's e-mail address, used to log in (required)")
	name := fs.String("name", "", "the person's name as shown to colleagues")
	role := fs.String("role", "", "admin, agent or auditor (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of generating one")
	if err := parseFlags(fs, args[1:], env); err != nil {
		return err
	}
	e := strings.ToLower(strings.TrimSpace(*email))
	if !strings.Contains(e, "@") || len(e) > 254 || strings.ContainsAny(e, " <>\"'") {
		return settingError("email", *email, "want an e-mail address")
	}
	if !store.Role(*role).Valid() {
		return settingError("role", *role, "want admin, agent or auditor")
	}
	if *name == "" {
		*name = strings.Split(e, "@")[0]
	}
	var pw string
	generated := false
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if problem := panel.PasswordProblem(pw, e); problem != "" {
			return fmt.Errorf("password refused: %s", problem)
		}
	} else {
		pw, generated = generatePassword(), true
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, store.NewUser{Email: e, Name: *name, Role: store.Role(*role), PasswordHash: panel.HashPassword(pw)}, false,
		store.AuditEntry{Actor: store.ActorCLI, Action: store.AuditUserCreate, Detail: fmt.Sprintf(`{"role":%q}`, *role)})
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("a user with the e-mail address %q exists already", e)
	}
	if err != nil {
		return err
	}
	if generated {
		fmt.Fprintln(stdout, pw)
		fmt.Fprintf(stderr, "User %s (%s) created. The password above is shown only now; hand it over safely.\n", u.Email, u.Role)
	} else {
		fmt.Fprintf(stderr, "User %s (%s) created.\n", u.Email, u.Role)
	}
	return nil
}

// generatePassword makes five groups of four lowercase letters and digits
// (about 100 bits), easy to read out and type.
func generatePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 20)
	rand.Read(b)
	var out strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out.WriteByte('-')
		}
		out.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return out.String()
}

// resetLinkValidity is how long a reset link printed by the CLI works.
const resetLinkValidity = time.Hour

// cmdUserResetPassword gets a user back in without the old password: it
// ends every session of the user and either sets a new password read from
// stdin, or makes the old one unusable and prints a one-time link (valid
// for resetLinkValidity) to choose a new one in the panel. Both are audited.
// Two-factor login stays as it is.
func cmdUserResetPassword(ctx context.Context, args []string, env envLookup, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user reset-password", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	email := fs.String("email", "", "the e-mail address of the account (required)")
	fromStdin := fs.Bool("stdin", false, "read the new password from the first line of stdin (the default when stdin is not a terminal and not empty)")
	link := fs.Bool("link", false, "print a one-time link to set a new password in the panel (the default on a terminal)")
	pub := fs.String("public-url", "", "how people reach the panel, for the link (default https://<first --domain>, else http://<--http-addr>)")
	domain := fs.String("domain", "", "host names of automatic HTTPS, for the link")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "the public listener, for the link when no URL or domain is set")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	e := strings.ToLower(strings.TrimSpace(*email))
	if e == "" {
		return settingError("email", *email, "want the account's e-mail address")
	}
	if *fromStdin && *link {
		return errors.New("give either --stdin or --link, not both")
	}
	var pw string
	useStdin := *fromStdin
	if !*link && !useStdin && !isTerminal(stdin) {
		// Piped in: a password if there is one, else (e.g. /dev/null in a
		// container) the link.
		line, err := readLine(stdin)
		if err != nil {
			return err
		}
		pw, useStdin = line, line != ""
	} else if useStdin {
		line, err := readLine(stdin)
		if err != nil {
			return err
		}
		pw = line
	}
	if useStdin {
		if problem := panel.PasswordProblem(pw, e); problem != "" {
			return fmt.Errorf("password refused: %s", problem)
		}
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, e)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user with the e-mail address %q", e)
	}
	if err != nil {
		return err
	}
	if useStdin {
		if err := st.SetPassword(ctx, u.ID, panel.HashPassword(pw), 0,
			store.AuditEntry{Actor: store.ActorCLI, Action: store.AuditPasswordReset, Detail: `{"via":"stdin"}`}); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "New password set for %s; every session of the account has ended.\n", u.Email)
		return nil
	}
	base := strings.TrimRight(*pub, "/")
	switch {
	case base != "":
	case *domain != "":
		host, _, _ := strings.Cut(*domain, ",")
		base = "https://" + strings.TrimSpace(host)
	default:
		base = "http://" + *httpAddr
	}
	token := randomToken()
	if err := st.StartPasswordReset(ctx, u.ID, store.HashToken(token), time.Now().Add(resetLinkValidity),
		store.AuditEntry{Actor: store.ActorCLI, Action: store.AuditPasswordReset, Detail: `{"via":"link"}`}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base+"/invite/"+token)
	fmt.Fprintf(stderr, "Open the link above within %v to choose a new password for %s. It works once; the old password and every session of the account have ended.\n",
		resetLinkValidity, u.Email)
	return nil
}

// readLine reads the first line of r without its line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
