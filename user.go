package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pforte/pforte/server"
	"github.com/pforte/pforte/store"
)

func cmdUser(ctx context.Context, args []string, env envLookup, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, "usage: pforte user add --email E --role admin|agent|auditor [--name N] [--password-stdin]")
		return errUsage
	}
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
	switch *role {
	case store.RoleAdmin, store.RoleAgent, store.RoleAuditor:
	default:
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
		if problem := server.PasswordProblem(pw, e); problem != "" {
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
	u, err := st.CreateUser(ctx, store.NewUser{Email: e, Name: *name, Role: *role, PasswordHash: server.HashPassword(pw)}, false,
		store.AuditEntry{Actor: "cli", Action: store.AuditUserCreate, Detail: fmt.Sprintf(`{"role":%q}`, *role)})
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
