package sso

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseRoleMap(t *testing.T) {
	m, err := ParseRoleMap("# Pforte\npforte-admins = Admin\n\nstaff=agent\nrevision=AUDITOR\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{{"pforte-admins", "admin"}, {"staff", "agent"}, {"revision", "auditor"}}
	if !slices.Equal(m, want) {
		t.Fatalf("got %v", m)
	}
	if _, err := ParseRoleMap("staff=agent\nrevision=auditor"); !errors.Is(err, ErrNoAdmin) {
		t.Fatalf("mapping without admin: %v", err)
	}
	for _, bad := range []string{"staff", "=admin", "staff=boss", "a=admin\nb"} {
		if _, err := ParseRoleMap(bad); !errors.Is(err, ErrMapping) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if m, err := ParseRoleMap(" \n# nothing\n"); err != nil || m != nil {
		t.Fatalf("empty mapping: %v %v", m, err)
	}
}

func TestMapRoleTakesTheHighest(t *testing.T) {
	m := []Mapping{{"staff", "agent"}, {"it", "admin"}, {"revision", "auditor"}}
	for _, c := range []struct {
		groups []string
		role   string
		ok     bool
	}{
		{[]string{"staff"}, "agent", true},
		{[]string{"revision", "staff"}, "agent", true},
		{[]string{"revision", "it", "staff"}, "admin", true},
		{[]string{"revision"}, "auditor", true},
		{[]string{"other"}, "", false},
		{nil, "", false},
	} {
		if role, ok := MapRole(c.groups, m); role != c.role || ok != c.ok {
			t.Errorf("%v: %q %v", c.groups, role, ok)
		}
	}
}

func TestDomainAllowed(t *testing.T) {
	d := []string{"example.de", "@Example.com"}
	for email, want := range map[string]bool{"a@example.de": true, "a@EXAMPLE.DE": true, "a@example.com": true,
		"a@evil-example.de": false, "a@example.de.evil": false, "example.de": false, "a@b@example.de": true} {
		if got := DomainAllowed(email, d); got != want {
			t.Errorf("%s: %v", email, got)
		}
	}
	if !DomainAllowed("x@any.where", nil) {
		t.Error("an empty list allows every domain")
	}
}

func TestReasonNamesEveryError(t *testing.T) {
	for _, err := range []error{ErrUnreachable, ErrWrongIssuer, ErrWrongAudience, ErrBadToken, ErrNonce, ErrRevoked, ErrDenied} {
		if r := Reason(err); r == "error" || strings.Contains(r, " ") {
			t.Errorf("%v: %q", err, r)
		}
	}
}

// FuzzParseRoleMap: any text either parses into valid lines with at least
// one admin, or is refused; it never panics, and every parsed role is known.
func FuzzParseRoleMap(f *testing.F) {
	for _, s := range []string{"a=admin", "a=admin\nb=agent", "x=auditor", "=", "a==admin", "a=admin=b", "# c\n\n", "ä=Admin\r\nb=agent"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseRoleMap(s)
		if err != nil {
			return
		}
		admin := false
		for _, l := range m {
			if !slices.Contains(Roles, l.Role) || l.Group == "" || strings.TrimSpace(l.Group) != l.Group {
				t.Fatalf("bad line %+v from %q", l, s)
			}
			admin = admin || l.Role == Roles[0]
		}
		if len(m) > 0 && !admin {
			t.Fatalf("accepted a mapping without admin: %q", s)
		}
	})
}
