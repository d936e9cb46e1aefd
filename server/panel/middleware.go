package panel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// roleSet is the set of store roles allowed on a panel route, one bit a
// role. The empty set means the route needs no session at all.
type roleSet uint8

// One bit for each store.Role; roleBit maps between them.
const (
	roleAdmin roleSet = 1 << iota
	roleAgent
	roleAuditor
)

// Roles allowed on a panel route.
const (
	anyone   roleSet = 0                                   // also without a session (login, setup, static files)
	everyone         = roleAdmin | roleAgent | roleAuditor // any logged-in user
	admins           = roleAdmin
	agents           = roleAdmin | roleAgent   // admins and agents: inbox, contacts, templates
	auditors         = roleAdmin | roleAuditor // admins and auditors: audit log
)

// roleBit is the set holding only role; an unknown role is in no set.
func roleBit(role store.Role) roleSet {
	switch role {
	case store.RoleAdmin:
		return roleAdmin
	case store.RoleAgent:
		return roleAgent
	case store.RoleAuditor:
		return roleAuditor
	}
	return 0
}

// admits reports whether a user of role may use a route of this set.
func (rs roleSet) admits(role store.Role) bool { return rs&roleBit(role) != 0 }

// panelRoute wraps a panel handler with, from outside in: security
// headers and CSP nonce, cross-origin (CSRF) protection, the session, the
// role check, and the body limit. Every panel route goes through it. The
// body is read only after the role check, so a large upload is spooled
// for a permitted user only.
func (s *Server) panelRoute(roles roleSet, body bodyKind, h http.HandlerFunc) http.Handler {
	inner := s.limitBody(body, h)
	if roles != anyone {
		inner = s.requireRole(roles, s.hideRestricted(inner))
	}
	return s.securityHeaders(s.panel.cop.Handler(s.loadSession(inner)))
}

// securityHeaders sets the baseline on every panel response: a strict CSP
// whose only scripts are our own files carrying this response's nonce.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nb := make([]byte, 16)
		rand.Read(nb)
		nonce := base64.StdEncoding.EncodeToString(nb)
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; "+
			"media-src 'self'; connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		if s.secure(r) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, web.StaticPrefix) {
			h.Set("Cache-Control", "no-store")
		}
		ctx := templ.WithNonce(r.Context(), nonce)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// loadSession finds the session the cookie names and enforces its
// timeouts. A request without a valid session continues anonymously.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := web.WithLocation(web.WithLang(r.Context(), preferredLang(r)), s.cfg.Location)
		if s.panel.cfg.MarkUntranslated {
			ctx = web.WithMarkedMisses(ctx)
		}
		token := s.sessionToken(r)
		if token == "" {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		sess, user, err := s.store.SessionByToken(ctx, token)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.storeFail(w, r.WithContext(ctx), err)
				return
			}
			s.clearSessionCookie(w, r)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		now := s.now()
		if s.sessionOver(sess, user, now) {
			if err := s.store.DeleteSession(ctx, token); err != nil {
				s.log.Warn("expired session not deleted", "err", err)
			}
			s.clearSessionCookie(w, r)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		if sess.SSO && !s.ssoRecheck(r.WithContext(ctx), sess, user, now) {
			// The provider no longer vouches for the account (disabled,
			// deleted, token revoked) or cannot be asked: the session ends.
			if err := s.store.DeleteSession(ctx, token); err != nil {
				s.log.Warn("session not deleted", "err", err)
			}
			s.clearSessionCookie(w, r)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		if now.Unix()-sess.LastSeenAt >= 60 && r.URL.Path != eventsPath {
			// At most one write a minute per session keeps the idle clock.
			if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
				s.log.Warn("session not touched", "err", err)
			}
		}
		ctx = web.WithLang(ctx, user.Lang)
		ctx = context.WithValue(ctx, panelCtxKey{}, &viewer{session: sess, user: user, token: token})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// sessionOver says whether a session has ended: idle or absolute timeout,
// or its user disabled. (A deleted session or user is not found at all.)
func (s *Server) sessionOver(sess *store.Session, user *store.User, now time.Time) bool {
	idle := now.Unix()-sess.LastSeenAt > int64(s.panel.cfg.IdleTimeout.Seconds())
	old := now.Unix()-sess.CreatedAt > int64(s.panel.cfg.AbsoluteTimeout.Seconds())
	return user.Disabled || idle || old
}

// preferredLang picks the login page's language from the browser.
func preferredLang(r *http.Request) string {
	al := strings.ToLower(r.Header.Get("Accept-Language"))
	if strings.HasPrefix(al, "en") {
		return "en"
	}
	return "de"
}

// requireRole admits only complete sessions of the given roles.
func (s *Server) requireRole(roles roleSet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		if v == nil {
			s.toLogin(w, r)
			return
		}
		if v.session.MFAPending {
			s.goTo(w, r, "/login/2fa")
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/account") && !v.user.HasSecondFactor() && !v.session.SSO && s.require2FA(r.Context()) {
			s.goTo(w, r, "/account/2fa")
			return
		}
		if !roles.admits(v.user.Role) {
			// ASVS 16.3.2: refused authorisation is an audit event.
			if err := s.store.Audit(r.Context(), store.AuditEntry{Actor: v.actor(), Action: store.AuditAuthzDenied,
				Target: r.Method + " " + r.URL.Path, IP: tlsmgr.ClientIP(r)}); err != nil {
				s.log.Warn("audit", "err", err)
			}
			s.failPage(w, r, http.StatusForbidden, "Ihre Rolle darf diese Seite nicht öffnen.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// toLogin sends an anonymous visitor to the login (or first-run) page.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.failPage(w, r, http.StatusUnauthorized, "Bitte melden Sie sich an.")
		return
	}
	s.goTo(w, r, "/login")
}

// goTo redirects, also out of an htmx request (which would otherwise swap
// the login page into a fragment).
func (s *Server) goTo(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

const settingRequire2FA = "panel.require_2fa"

func (s *Server) require2FA(ctx context.Context) bool {
	v, ok, err := s.store.Setting(ctx, settingRequire2FA)
	return err == nil && ok && v == "1"
}
