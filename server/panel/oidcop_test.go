package panel_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// testOP is a real OpenID Provider (zitadel/oidc's op package with its
// example storage and login page) on loopback: discovery, JWKS, RS256
// signatures, PKCE, refresh tokens and end_session are the library's own.
// The test changes only what an admin would change at a real provider:
// users, their groups, a disabled account, and (for the audience test) a
// provider that issues the ID token for another client.
type testOP struct {
	Issuer        string
	ClientID      string
	Secret        string
	mu            sync.Mutex
	users         map[string]*opUser // by id
	wrongAudience atomic.Bool
	srv           *http.Server
}

type opUser struct {
	storage.User
	groups   []string
	disabled bool
}

const opClientID, opSecret = "pforte-panel", "op-client-secret"

// startOP starts a provider whose client may redirect to pforteBase.
func startOP(t testing.TB, pforteBase string) *testOP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &testOP{Issuer: "http://" + l.Addr().String(), ClientID: opClientID, Secret: opSecret, users: map[string]*opUser{}}
	client := storage.WebClient(opClientID, opSecret, pforteBase+"/login/sso/callback")
	st := &opStorage{Storage: storage.NewStorageWithClients(opUsers{o}, map[string]*storage.Client{opClientID: client}), op: o,
		postLogout: []string{pforteBase + "/login"}}
	o.srv = &http.Server{Handler: exampleop.SetupServer(o.Issuer, st, nil, false)}
	go o.srv.Serve(l)
	t.Cleanup(func() { o.srv.Close() })
	return o
}

// Stop makes the provider unreachable.
func (o *testOP) Stop() { o.srv.Close() }

// AddUser adds an account at the provider (password "op-password").
func (o *testOP) AddUser(id, email string, verified bool, groups ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.users[id] = &opUser{User: storage.User{ID: id, Username: id, Password: "op-password", FirstName: strings.ToUpper(id[:1]) + id[1:],
		LastName: "Test", Email: email, EmailVerified: verified}, groups: groups}
}

func (o *testOP) SetGroups(id string, groups ...string) {
	o.mu.Lock()
	o.users[id].groups = groups
	o.mu.Unlock()
}

func (o *testOP) Disable(id string) {
	o.mu.Lock()
	o.users[id].disabled = true
	o.mu.Unlock()
}

func (o *testOP) user(id string) *opUser {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.users[id]
}

// opUsers is the example storage's user directory.
type opUsers struct{ o *testOP }

func (u opUsers) GetUserByID(id string) *storage.User {
	if x := u.o.user(id); x != nil {
		c := x.User
		return &c
	}
	return nil
}

func (u opUsers) GetUserByUsername(name string) *storage.User {
	x := u.o.user(name)
	if x == nil || x.disabled { // a disabled account cannot sign in
		return nil
	}
	c := x.User
	return &c
}

func (u opUsers) ExampleClientID() string { return "service" }

// opStorage adds groups to the claims, refuses refresh tokens of disabled
// accounts (as Entra ID and Google do), registers the post-logout URI,
// and can issue ID tokens for another audience.
type opStorage struct {
	*storage.Storage
	op         *testOP
	postLogout []string
}

func (s *opStorage) groups(ui *oidc.UserInfo) {
	if x := s.op.user(ui.Subject); x != nil && x.groups != nil {
		ui.AppendClaims("groups", x.groups)
	}
}

func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	if ui.Subject == "" {
		ui.Subject = token.GetSubject()
	}
	s.groups(ui)
	return nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.groups(ui)
	return nil
}

func (s *opStorage) TokenRequestByRefreshToken(ctx context.Context, rt string) (op.RefreshTokenRequest, error) {
	req, err := s.Storage.TokenRequestByRefreshToken(ctx, rt)
	if err != nil {
		return nil, err
	}
	if x := s.op.user(req.GetSubject()); x == nil || x.disabled {
		return nil, errors.New("account disabled")
	}
	return req, nil
}

// otherAudience is an authorization that passes the token endpoint's
// client check (the first question for its client) and then has the ID
// token issued for another application, as a provider mixing up two
// applications would: the token is signed by the provider's real key.
type otherAudience struct {
	op.AuthRequest
	asked atomic.Int32
}

func (o *otherAudience) GetAudience() []string { return []string{"some-other-app"} }

func (o *otherAudience) GetClientID() string {
	if o.asked.Add(1) == 1 {
		return o.AuthRequest.GetClientID()
	}
	return "some-other-app"
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	req, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil || !s.op.wrongAudience.Load() {
		return req, err
	}
	return &otherAudience{AuthRequest: req}, nil
}

type opClient struct {
	op.Client
	postLogout []string
}

func (c opClient) PostLogoutRedirectURIs() []string { return c.postLogout }

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return opClient{c, s.postLogout}, nil
}

// signInAtOP follows a Pforte /login/sso redirect (loc) through the provider's
// login page as user and returns the URL the provider sends the browser
// back to (Pforte's callback with code and state).
func signInAtOP(t testing.TB, hc *http.Client, loc, user string) string {
	t.Helper()
	for range 10 {
		if strings.Contains(loc, "/login/sso/callback") {
			return loc
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		var resp *http.Response
		if id := u.Query().Get("authRequestID"); id != "" && strings.HasPrefix(u.Path, "/login/username") {
			resp, err = hc.PostForm(u.Scheme+"://"+u.Host+"/login/username", url.Values{"username": {user}, "password": {"op-password"}, "id": {id}})
		} else {
			resp, err = hc.Get(loc)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("provider at %s answered %d", loc, resp.StatusCode)
		}
		next, err := u.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		loc = next.String()
	}
	t.Fatalf("no way back to Pforte from the provider (last %s)", loc)
	return ""
}
