package uaauth

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"
	"golang.org/x/crypto/bcrypt"
)

// User is one entry of opcua.users.
type User struct {
	Name         string
	PasswordHash string // bcrypt ($2a$, $2b$, $2y$); empty for a certificate-only user
	Role         Role
	Thumbprint   string // optional: hex SHA-1 of the DER certificate of an X509 user token
}

// Authenticator checks the identity tokens of ActivateSession. It is safe
// for concurrent use; build a new one when the users change.
type Authenticator struct {
	anonymous Role
	byName    map[string]*user
	byThumb   map[string]*user
	dummy     []byte        // compared against when the user is unknown, so timing does not tell
	sem       chan struct{} // bounds concurrent bcrypt work: each compare takes tens of ms of CPU
	log       *slog.Logger
	failures  atomic.Uint64
	thr       throttle

	now   func() time.Time                                 // tests replace the clock
	sleep func(ctx context.Context, d time.Duration) error // and the wait
}

type user struct {
	User
	hash []byte
}

// maxPasswordLen is bcrypt's limit: longer passwords could never have been
// hashed by `tagbridge passwd`.
const maxPasswordLen = 72

// New validates the users and the anonymous mode ("off" or "read") and
// returns an Authenticator. Every problem is reported, joined in one error.
func New(anonymous string, users []User, log *slog.Logger) (*Authenticator, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{
		byName:  map[string]*user{},
		byThumb: map[string]*user{},
		sem:     make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		log:     log,
		now:     time.Now,
		sleep:   sleepCtx,
	}
	var errs []error
	switch anonymous {
	case "off":
		a.anonymous = RoleNone
	case "read":
		a.anonymous = RoleRead
	default:
		errs = append(errs, fmt.Errorf("uaauth: anonymous %q: want off or read (anonymous clients never write)", anonymous))
	}
	cost := 0
	for i, in := range users {
		u := &user{User: in}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("uaauth: users[%d] (%s): %s", i, in.Name, fmt.Sprintf(format, args...)))
		}
		switch {
		case in.Name == "":
			bad("empty name")
		case a.byName[in.Name] != nil:
			bad("duplicate name")
		default:
			a.byName[in.Name] = u
		}
		if in.Role != RoleRead && in.Role != RoleWrite {
			bad("role %s: want read or write", in.Role)
		}
		if in.PasswordHash == "" && in.Thumbprint == "" {
			bad("needs a password_hash (from `tagbridge passwd`) or a certificate thumbprint")
		}
		if in.PasswordHash != "" {
			c, err := bcrypt.Cost([]byte(in.PasswordHash))
			if err != nil {
				bad("password_hash is not a bcrypt hash (make one with `tagbridge passwd`): %v", err)
			} else {
				u.hash = []byte(in.PasswordHash)
				cost = max(cost, c)
			}
		}
		if in.Thumbprint != "" {
			tp := normalizeThumbprint(in.Thumbprint)
			switch {
			case tp == "":
				bad("thumbprint %q: want 40 hex digits (the SHA-1 of the certificate)", in.Thumbprint)
			case a.byThumb[tp] != nil:
				bad("thumbprint %s is already mapped to user %s", tp, a.byThumb[tp].Name)
			default:
				u.Thumbprint = tp
				a.byThumb[tp] = u
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The dummy hash has the highest cost in use, so an unknown name takes
	// as long as a known one (but never longer, which would tell too).
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	dummy, err := bcrypt.GenerateFromPassword(secret, cost)
	if err != nil {
		return nil, fmt.Errorf("uaauth: dummy hash: %w", err)
	}
	a.dummy = dummy
	return a, nil
}

// Anonymous answers an AnonymousIdentityToken. With anonymous "off" it is
// BadIdentityTokenRejected: the token is well-formed, the server's policy
// refuses it (Part 4, 5.6.3).
func (a *Authenticator) Anonymous() (Role, ua.StatusCode) {
	if a.anonymous == RoleNone {
		return RoleNone, ua.StatusBadIdentityTokenRejected
	}
	return a.anonymous, ua.StatusOK
}

// UserName checks a user name and a password (already decrypted with
// DecryptPassword). It is called from the client's connection goroutine and
// may wait: after failed logins from the same peer host each new attempt is
// delayed (200 ms per failure in the last minute, at most 2 s); ctx ends the
// wait early. An unknown user and a wrong password both give
// BadUserAccessDenied, in about the same time. The password is never logged.
func (a *Authenticator) UserName(ctx context.Context, peer, name string, password []byte) (Role, ua.StatusCode) {
	host := peerHost(peer)
	if err := a.wait(ctx, host); err != nil {
		return RoleNone, ua.StatusBadUserAccessDenied
	}
	u := a.byName[name]
	hash := a.dummy
	if u != nil && u.hash != nil {
		hash = u.hash
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return RoleNone, ua.StatusBadUserAccessDenied
	}
	err := bcrypt.CompareHashAndPassword(hash, password)
	<-a.sem
	reason := ""
	switch {
	case u == nil:
		reason = "unknown user"
	case u.hash == nil:
		reason = "user has no password (certificate only)"
	case len(password) > maxPasswordLen:
		reason = "password longer than 72 bytes"
	case err != nil:
		reason = "wrong password"
	}
	if reason != "" {
		a.failed(host, peer, "user", name, reason)
		return RoleNone, ua.StatusBadUserAccessDenied
	}
	a.thr.reset(host)
	a.log.Debug("opcua: user logged in", "user", name, "role", u.Role, "peer", peer)
	return u.Role, ua.StatusOK
}

// X509User maps the certificate of an X509IdentityToken to the user whose
// thumbprint it has and returns that user's name ("" when the login failed)
// and role, so sessions, logs and diagnostics show who logged in. The caller
// must first have verified the token's signature (VerifyUserTokenSignature):
// this only maps. Not parsable: BadIdentityTokenInvalid; outside its
// validity: BadIdentityTokenRejected; no such user: BadUserAccessDenied.
// Failures count and slow down like UserName's.
func (a *Authenticator) X509User(ctx context.Context, peer string, certDER []byte) (string, Role, ua.StatusCode) {
	host := peerHost(peer)
	if err := a.wait(ctx, host); err != nil {
		return "", RoleNone, ua.StatusBadUserAccessDenied
	}
	tp := thumbprint(certDER)
	c, err := x509.ParseCertificate(certDER)
	if err != nil {
		a.failed(host, peer, "thumbprint", tp, "not a certificate")
		return "", RoleNone, ua.StatusBadIdentityTokenInvalid
	}
	if now := a.now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
		a.failed(host, peer, "thumbprint", tp, "user certificate expired or not yet valid")
		return "", RoleNone, ua.StatusBadIdentityTokenRejected
	}
	u := a.byThumb[tp]
	if u == nil {
		a.failed(host, peer, "thumbprint", tp, "no user has this certificate thumbprint")
		return "", RoleNone, ua.StatusBadUserAccessDenied
	}
	a.thr.reset(host)
	a.log.Debug("opcua: user logged in by certificate", "user", u.Name, "role", u.Role, "peer", peer)
	return u.Name, u.Role, ua.StatusOK
}

// Failures returns how many UserName and X509 logins failed since New.
func (a *Authenticator) Failures() uint64 { return a.failures.Load() }

func (a *Authenticator) wait(ctx context.Context, host string) error {
	d := a.thr.delay(host, a.now())
	if d <= 0 {
		return ctx.Err()
	}
	return a.sleep(ctx, d)
}

func (a *Authenticator) failed(host, peer, what, who, reason string) {
	a.failures.Add(1)
	a.thr.fail(host, a.now())
	if len(who) > 64 { // a client chooses the name: keep log lines short
		who = who[:64] + "..."
	}
	a.log.Warn("opcua: login failed", what, who, "peer", peer, "reason", reason)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// thumbprint is the OPC UA thumbprint: SHA-1 of the DER, upper-case hex.
func thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// normalizeThumbprint accepts "AA:BB:..", "aa bb ..", and returns "" unless
// the input is 20 hex bytes.
func normalizeThumbprint(s string) string {
	s = strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha1.Size {
		return ""
	}
	return strings.ToUpper(s)
}

// HashPassword returns the bcrypt hash (cost 10) of a password for the
// users list; `tagbridge passwd` prints it.
func HashPassword(password []byte) (string, error) {
	if len(password) == 0 {
		return "", errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword(password, bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}
