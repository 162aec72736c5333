package uaserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/internal/pki"
	"github.com/tagbridge/tagbridge/internal/uaauth"
)

func newAuth(opt Options, lg *slog.Logger) (*uaauth.Authenticator, error) {
	if opt.Anonymous == "off" && len(opt.Users) == 0 {
		return nil, errors.New("opcua: anonymous is off and there are no users: nobody could connect")
	}
	us := make([]uaauth.User, 0, len(opt.Users))
	var errs []error
	for i, u := range opt.Users {
		role, err := uaauth.ParseRole(u.Role)
		if err != nil {
			errs = append(errs, fmt.Errorf("opcua: users[%d] %q: %w", i, u.Name, err))
			continue
		}
		us = append(us, uaauth.User{Name: u.Name, PasswordHash: u.PasswordHash, Role: role, Thumbprint: u.Thumbprint})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a, err := uaauth.New(opt.Anonymous, us, lg)
	if err != nil {
		return nil, fmt.Errorf("opcua: %w", err)
	}
	return a, nil
}

func hasPasswords(us []User) bool {
	for _, u := range us {
		if u.PasswordHash != "" {
			return true
		}
	}
	return false
}

func hasThumbprints(us []User) bool {
	for _, u := range us {
		if u.Thumbprint != "" {
			return true
		}
	}
	return false
}

// openPKI opens (at first start creates) the certificate store when a
// secure policy or X509 users need it. With None alone no folder is
// created: the demo and plain None setups leave no files behind.
func (s *Server) openPKI() error {
	if !s.sec.secure() && !hasThumbprints(s.opt.Users) {
		return nil
	}
	if s.opt.PKIDir == "" {
		return errors.New("opcua: a secure policy or certificate users need a pki folder (opcua.pki)")
	}
	st, err := pki.Open(s.opt.PKIDir, s.opt.ApplicationURI, []string{s.hostname()}, s.log)
	if err != nil {
		return fmt.Errorf("opcua: %w", err)
	}
	s.sec.store = st
	s.log.Info("opcua: server certificate", "path", st.CertPath(), "thumbprint", st.Thumbprint())
	if hasThumbprints(s.opt.Users) && !s.sec.secure() {
		s.log.Warn("opcua: X509 user tokens need a secure policy in opcua.security to be signed; certificate users cannot log in")
	}
	if s.opt.AutoTrust {
		s.log.Warn("opcua: auto_trust is on: every client certificate is accepted and stored in trusted/ (commissioning only)")
	}
	return nil
}

// identity is who activated a session.
type identity struct {
	user string // "" = anonymous; the configured user name for passwords and X509 certificates
	role uaauth.Role
	x509 bool // logged in with a user certificate
}

// identify checks the identity token of an ActivateSession on channel c:
// anonymous, a UserName with its password decrypted per the token policy
// (and the server nonce checked), or an X509 certificate whose signature
// over our certificate and nonce proves the key. nonce is the session's
// last server nonce.
func (s *Server) identify(ctx context.Context, c *channel, r *ua.ActivateSessionRequest, nonce []byte) (identity, ua.StatusCode) {
	var tok any
	if r.UserIdentityToken != nil {
		tok = r.UserIdentityToken.Value
	}
	policy := s.sec.userTokenURI(c.policyURI())
	switch t := tok.(type) {
	case nil, *ua.AnonymousIdentityToken:
		role, st := s.auth.Anonymous()
		return identity{role: role}, st
	case *ua.UserNameIdentityToken:
		if !hasPasswords(s.opt.Users) {
			return identity{user: t.UserName}, ua.StatusBadIdentityTokenRejected
		}
		if t.EncryptionAlgorithm != uaauth.PasswordAlgorithm(policy) {
			// A clear-text password where we asked for an encrypted one,
			// or another algorithm than the token policy's.
			s.log.Warn("opcua: login refused: password not encrypted as the token policy requires",
				"peer", c.peer, "user", t.UserName, "algorithm", t.EncryptionAlgorithm, "policy", policy)
			return identity{user: t.UserName}, ua.StatusBadIdentityTokenInvalid
		}
		pw, st := uaauth.DecryptPassword(policy, s.sec.key(), t.Password, nonce)
		if st != ua.StatusOK {
			s.log.Warn("opcua: login refused: password token cannot be decrypted or carries another nonce",
				"peer", c.peer, "user", t.UserName, "status", st)
			return identity{user: t.UserName}, st
		}
		role, st := s.auth.UserName(ctx, c.peer, t.UserName, pw)
		clear(pw)
		return identity{user: t.UserName, role: role}, st
	case *ua.X509IdentityToken:
		if !hasThumbprints(s.opt.Users) {
			return identity{}, ua.StatusBadIdentityTokenRejected
		}
		var sig []byte
		if r.UserTokenSignature != nil {
			sig = r.UserTokenSignature.Signature
		}
		if st := uaauth.VerifyUserTokenSignature(policy, t.CertificateData, s.sec.cert(), nonce, sig); st != ua.StatusOK {
			s.log.Warn("opcua: login refused: bad user token signature", "peer", c.peer, "status", st)
			return identity{}, st
		}
		name, role, st := s.auth.X509User(ctx, c.peer, t.CertificateData)
		if st != ua.StatusOK {
			// No user: the log line of the refusal names the certificate.
			return identity{user: "x509:" + pki.Thumbprint(t.CertificateData)}, st
		}
		return identity{user: name, role: role, x509: true}, st
	}
	return identity{}, ua.StatusBadIdentityTokenInvalid
}

// userLabel names a session's user in logs ("" is anonymous).
func userLabel(user string) string {
	if user == "" {
		return "(anonymous)"
	}
	return user
}
