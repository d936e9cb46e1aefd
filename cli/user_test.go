package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/store"
)

func TestUserAdd(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"user", "add", "--data-dir", dir, "--email", "Anna@Example.de", "--role", "admin", "--name", "Anna Berger"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	pw := strings.TrimSpace(out.String())
	if !regexp.MustCompile(`^[a-z2-9]{4}(-[a-z2-9]{4}){4}$`).MatchString(pw) {
		t.Fatalf("generated password %q", pw)
	}
	out.Reset()
	if code := run(ctx, []string{"user", "add", "--data-dir", dir, "--email", "lea@example.de", "--role", "agent", "--password-stdin"},
		strings.NewReader("ein langer Satz als Passwort\n"), &out, &errOut); code != 0 || out.Len() != 0 {
		t.Fatalf("stdin password: exit %d, stdout %q: %s", code, out.String(), errOut.String())
	}
	// Refusals change nothing and say why.
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--email", "anna@example.de", "--role", "agent"}, "", "exists already"},
		{[]string{"--email", "x@example.de", "--role", "root"}, "", "want admin, agent or auditor"},
		{[]string{"--email", "kein-at", "--role", "agent"}, "", "want an e-mail address"},
		{[]string{"--email", "y@example.de", "--role", "agent", "--password-stdin"}, "kurz\n", "zu kurz"},
	} {
		errOut.Reset()
		if code := run(ctx, append([]string{"user", "add", "--data-dir", dir}, c.args...), strings.NewReader(c.stdin), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errOut.String(), c.want)
		}
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users, _ := st.Users(ctx)
	if len(users) != 2 || users[0].Email != "anna@example.de" || users[0].Role != "admin" || users[0].Name != "Anna Berger" {
		t.Fatalf("users %+v", users)
	}
	hashes := map[string]string{}
	for _, u := range users {
		hashes[u.Email] = u.PasswordHash
	}
	if !panel.CheckPassword(hashes["anna@example.de"], pw) || !panel.CheckPassword(hashes["lea@example.de"], "ein langer Satz als Passwort") {
		t.Fatal("stored hashes do not match the passwords")
	}
	entries, _ := st.AuditLog(ctx, 0, 10)
	if len(entries) != 2 || entries[0].Actor != "cli" || entries[0].Action != "user.create" {
		t.Fatalf("audit %+v", entries)
	}
}
