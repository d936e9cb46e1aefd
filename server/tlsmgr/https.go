package tlsmgr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// HSTSValue is sent on every HTTPS response: one year, as ASVS 3.4.1 asks,
// including subdomains of the gateway's own name.
const HSTSValue = "max-age=31536000; includeSubDomains"

// HSTS tells browsers to use HTTPS only. It is set only on responses that
// travelled over HTTPS (directly or via a trusted proxy): browsers ignore
// it on plain HTTP anyway.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsHTTPS(r) {
			w.Header().Set("Strict-Transport-Security", HSTSValue)
		}
		next.ServeHTTP(w, r)
	})
}

type proxiedHTTPSCtx struct{}

// ClientIP is the address a request came from: the peer, or the client a
// trusted proxy named (TrustProxies rewrites RemoteAddr before this runs).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsHTTPS reports whether the client reached Pforte over HTTPS, either
// directly or through a trusted proxy that terminated TLS. Handlers use it
// to decide on Secure cookies and HSTS.
func IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	v, _ := r.Context().Value(proxiedHTTPSCtx{}).(bool)
	return v
}

// ParseTrustedProxies parses a comma-separated list of IP addresses and
// CIDR prefixes ("127.0.0.1,10.0.0.0/8,::1").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or prefix like 10.0.0.0/8", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or prefix like 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// TrustProxies is for running behind a reverse proxy that terminates TLS.
// For a request whose peer is one of trusted, the client address is taken
// from header (X-Forwarded-For: the rightmost address that is not itself
// a trusted proxy; any other header: its single value) and the scheme from
// X-Forwarded-Proto. Requests from anywhere else are left untouched, so a
// client cannot forge its address by sending the header itself.
func TrustProxies(trusted []netip.Prefix, header string, next http.Handler) http.Handler {
	if header == "" {
		header = "X-Forwarded-For"
	}
	header = http.CanonicalHeaderKey(header)
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || len(trusted) == 0 || !isTrusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		if client, ok := forwardedClient(r.Header.Values(header), header == "X-Forwarded-For", isTrusted); ok {
			r2.RemoteAddr = netip.AddrPortFrom(client, 0).String()
		}
		if proto := lastValue(r.Header.Values("X-Forwarded-Proto")); strings.EqualFold(proto, "https") {
			r2 = r2.WithContext(context.WithValue(r2.Context(), proxiedHTTPSCtx{}, true))
		}
		next.ServeHTTP(w, r2)
	})
}

// forwardedClient picks the client address out of the header values.
func forwardedClient(values []string, list bool, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	if !list && len(hops) > 0 {
		hops = hops[len(hops)-1:]
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			return netip.Addr{}, false
		}
		if i == 0 || !trusted(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func parseHop(h string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(h)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	parts := strings.Split(values[len(values)-1], ",")
	return strings.TrimSpace(parts[len(parts)-1])
}

// MetaWebhookClientCN is the subject Meta's webhook client certificate
// carries (Graph API webhooks, "mTLS for webhooks").
const MetaWebhookClientCN = "client.webhooks.fbclientcerts.com"

// WebhookMTLS admits POST /webhook only from a client that presented a
// certificate which the TLS handshake verified against the configured CA
// and whose common name is cn. Other routes are untouched, so browsers
// without a client certificate still reach the panel.
func WebhookMTLS(cn string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/webhook" && !verifiedClient(r, cn) {
			http.Error(w, "client certificate required", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func verifiedClient(r *http.Request, cn string) bool {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return false
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName == cn
}
