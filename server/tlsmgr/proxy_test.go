package tlsmgr_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/tlsmgr"
)

// echo answers with what the handler chain made of the request.
var echo = tlsmgr.HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	https := "http"
	if tlsmgr.IsHTTPS(r) {
		https = "https"
	}
	io.WriteString(w, r.RemoteAddr+" "+https)
}))

func mustPrefixes(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := tlsmgr.ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrustProxies(t *testing.T) {
	cases := []struct {
		name    string
		trusted string
		header  string
		set     map[string]string
		want    string // address (without port) and scheme; "peer" = unchanged
		hsts    bool
	}{
		{"client from X-Forwarded-For", "127.0.0.1", "", map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}, "203.0.113.9 https", true},
		{"spoofed leftmost entry ignored", "127.0.0.0/8", "", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.7, 127.0.0.2"}, "198.51.100.7 http", false},
		{"IPv6 client", "127.0.0.1,::1", "", map[string]string{"X-Forwarded-For": "2001:db8::5"}, "[2001:db8::5] http", false},
		{"single-value header", "127.0.0.1", "X-Real-IP", map[string]string{"X-Real-IP": "192.0.2.44", "X-Forwarded-For": "1.1.1.1"}, "192.0.2.44 http", false},
		{"untrusted peer keeps its address", "10.0.0.0/8", "", map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}, "peer http", false},
		{"garbage header ignored", "127.0.0.1", "", map[string]string{"X-Forwarded-For": "not-an-ip", "X-Forwarded-Proto": "https"}, "peer https", true},
		{"no proxies configured", "", "", map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}, "peer http", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(tlsmgr.TrustProxies(mustPrefixes(t, c.trusted), c.header, echo))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			for k, v := range c.set {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := string(b)
			addr, scheme, _ := strings.Cut(got, " ")
			if strings.HasPrefix(c.want, "peer ") {
				if !strings.HasPrefix(addr, "127.0.0.1:") || "peer "+scheme != c.want {
					t.Fatalf("got %q, want the peer's own address and %q", got, c.want)
				}
			} else if ap, err := netip.ParseAddrPort(addr); err != nil || ap.Addr().String()+" "+scheme != strings.Trim(strings.Split(c.want, " ")[0], "[]")+" "+strings.Split(c.want, " ")[1] {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if has := resp.Header.Get("Strict-Transport-Security") != ""; has != c.hsts {
				t.Fatalf("HSTS present %v, want %v", has, c.hsts)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	p, err := tlsmgr.ParseTrustedProxies(" 127.0.0.1, 10.1.2.3/8 ,::1,, ::ffff:192.0.2.1 ")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range p {
		got = append(got, x.String())
	}
	if want := "127.0.0.1/32 10.0.0.0/8 ::1/128 192.0.2.1/32"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	for _, bad := range []string{"proxy.local", "10.0.0.0/33", "1.2.3", "127.0.0.1:80"} {
		if _, err := tlsmgr.ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.0/8,::1", "", ",", "fe80::1%eth0", "1.2.3.4/0", "::ffff:1.2.3.4/104"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := tlsmgr.ParseTrustedProxies(s)
		if err != nil {
			return
		}
		for _, x := range p {
			if !x.IsValid() || x != x.Masked() {
				t.Fatalf("%q gave invalid or unmasked prefix %v", s, x)
			}
		}
	})
}

// Whatever a client writes into X-Forwarded-For, the address the
// handler sees is the peer's own or one that the header names.
func FuzzTrustProxiesHeader(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "1.2.3.4, 127.0.0.1", "::1, 2001:db8::1", "a, b", "", ",,,", "1.2.3.4:5678", "[::1]:80", "127.0.0.1"} {
		f.Add(s, "https")
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, xff, proto string) {
		var seen string
		h := tlsmgr.TrustProxies(trusted, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "127.0.0.1:4242"
		req.Header["X-Forwarded-For"] = []string{xff}
		req.Header["X-Forwarded-Proto"] = []string{proto}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if seen == req.RemoteAddr {
			return
		}
		ap, err := netip.ParseAddrPort(seen)
		if err != nil {
			t.Fatalf("RemoteAddr %q is not an address", seen)
		}
		found := false
		for _, hop := range strings.Split(xff, ",") {
			hop = strings.TrimSpace(hop)
			if a, err := netip.ParseAddr(hop); err == nil && a.Unmap() == ap.Addr() {
				found = true
			} else if hp, err := netip.ParseAddrPort(hop); err == nil && hp.Addr().Unmap() == ap.Addr() {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %v is not named in %q", ap.Addr(), xff)
		}
	})
}
