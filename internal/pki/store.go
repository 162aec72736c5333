package pki

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Folder names below the store's root, as UA .NET and open62541 use them.
const (
	ownCertFile    = "own/certs/cert.der"
	ownKeyFile     = "own/private/key.pem"
	trustedCerts   = "trusted/certs"
	trustedCRL     = "trusted/crl"
	issuerCerts    = "issuers/certs"
	issuerCRL      = "issuers/crl"
	rejectedCerts  = "rejected/certs"
	maxRejected    = 1000 // a client cannot fill the disk by sending many new certificates
	expiryWarnTime = 30 * 24 * time.Hour
)

// Store is the server's PKI folder. It is safe for concurrent use: Verify is
// called from every connecting client's goroutine.
type Store struct {
	dir  string
	cert []byte
	leaf *x509.Certificate
	key  *rsa.PrivateKey
	log  *slog.Logger
	now  func() time.Time // tests move the clock

	mu    sync.Mutex // guards trust
	trust *trustList
}

// Open opens (and at first start creates) the PKI folder at dir. When
// own/certs/cert.der and own/private/key.pem exist they are reused, whatever
// they hold: replacing them would break every client that trusts them. When
// neither exists a self-signed RSA 2048 / SHA-256 certificate valid for
// five years is created for applicationURI, the hostnames, "localhost", the
// machine's host name and its interface addresses. When only one of the two
// exists Open fails rather than overwrite it.
func Open(dir, applicationURI string, hostnames []string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		return nil, errors.New("pki: empty folder name")
	}
	s := &Store{dir: dir, log: log, now: time.Now}
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	certPath, keyPath := s.path(ownCertFile), s.path(ownKeyFile)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		cert, key, err := createOwn(applicationURI, hostnames, s.now())
		if err != nil {
			return nil, fmt.Errorf("pki %s: create own certificate: %w", dir, err)
		}
		if err := writeOwn(certPath, keyPath, cert, key); err != nil {
			return nil, fmt.Errorf("pki %s: %w", dir, err)
		}
		log.Info("opcua: created the server's application instance certificate",
			"path", certPath, "uri", applicationURI, "thumbprint", Thumbprint(cert))
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("pki %s: %w", dir, certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("pki %s: %w", dir, keyErr)
	case certErr != nil:
		return nil, fmt.Errorf("pki %s: %s exists but %s does not: restore it, or remove both to create a new certificate", dir, keyPath, certPath)
	case keyErr != nil:
		return nil, fmt.Errorf("pki %s: %s exists but %s does not: restore it, or remove both to create a new certificate", dir, certPath, keyPath)
	}
	if err := s.loadOwn(certPath, keyPath); err != nil {
		return nil, fmt.Errorf("pki %s: %w", dir, err)
	}
	s.checkOwn(applicationURI, hostnames)
	return s, nil
}

func (s *Store) path(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

func (s *Store) makeDirs() error {
	for _, d := range []string{"own/certs", trustedCerts, trustedCRL, issuerCerts, issuerCRL, rejectedCerts} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			return fmt.Errorf("pki %s: create %s: %w", s.dir, d, err)
		}
	}
	// The private key folder is the owner's alone, even when it already existed.
	priv := s.path("own/private")
	if err := os.MkdirAll(priv, 0o700); err != nil {
		return fmt.Errorf("pki %s: create own/private: %w", s.dir, err)
	}
	if err := os.Chmod(priv, 0o700); err != nil {
		return fmt.Errorf("pki %s: chmod own/private: %w", s.dir, err)
	}
	return nil
}

func (s *Store) loadOwn(certPath, keyPath string) error {
	der, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	if b, _ := pem.Decode(der); b != nil { // tolerate a PEM file under the .der name
		der = b.Bytes
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("parse %s: %w", certPath, err)
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%s: OPC UA needs an RSA key, this certificate has %T", certPath, leaf.PublicKey)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("parse %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(pub) {
		return fmt.Errorf("%s does not belong to %s", keyPath, certPath)
	}
	s.cert, s.leaf, s.key = der, leaf, key
	return nil
}

func parseKey(data []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("OPC UA needs an RSA key, found %T", k)
	}
	return rk, nil
}

// checkOwn warns about a reused certificate that no longer fits the config:
// it is never replaced automatically, because clients trust it by thumbprint.
func (s *Store) checkOwn(applicationURI string, hostnames []string) {
	p := s.path(ownCertFile)
	if applicationURI != "" && !hasURI(s.leaf, applicationURI) {
		s.log.Warn("opcua: the server certificate's application URI differs from opcua.application_uri; clients may refuse it (remove own/certs/cert.der and own/private/key.pem to create a new one)",
			"path", p, "cert_uris", uriStrings(s.leaf), "configured", applicationURI)
	}
	for _, h := range hostnames {
		if h != "" && s.leaf.VerifyHostname(h) != nil {
			s.log.Warn("opcua: the server certificate does not name this host; clients that check host names may refuse it",
				"path", p, "hostname", h)
		}
	}
	now := s.now()
	switch {
	case now.After(s.leaf.NotAfter):
		s.log.Error("opcua: the server certificate has expired; secure clients will refuse it", "path", p, "not_after", s.leaf.NotAfter)
	case now.Add(expiryWarnTime).After(s.leaf.NotAfter):
		s.log.Warn("opcua: the server certificate expires soon", "path", p, "not_after", s.leaf.NotAfter)
	}
	if n := s.key.N.BitLen(); n < 2048 {
		s.log.Warn("opcua: the server key is shorter than 2048 bits; the offered security policies need 2048 to 4096", "path", p, "bits", n)
	}
}

// Certificate returns the server's own certificate (DER). Callers must not modify it.
func (s *Store) Certificate() []byte { return s.cert }

// PrivateKey returns the server's private key.
func (s *Store) PrivateKey() *rsa.PrivateKey { return s.key }

// Thumbprint returns the OPC UA thumbprint of the server's certificate.
func (s *Store) Thumbprint() string { return Thumbprint(s.cert) }

// CertPath returns the path of the server's certificate file.
func (s *Store) CertPath() string { return s.path(ownCertFile) }

// Dir returns the store's root folder.
func (s *Store) Dir() string { return s.dir }

// Thumbprint returns the OPC UA thumbprint of a DER certificate: the SHA-1
// of the DER bytes as upper-case hex (as UA .NET and Windows show it).
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// NormalizeThumbprint turns a thumbprint as a user may paste it ("aa:bb:..",
// "AA BB ..", lower or upper case) into Thumbprint's form. It returns "" when
// the input is not 20 hex bytes.
func NormalizeThumbprint(s string) string {
	s = strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha1.Size {
		return ""
	}
	return strings.ToUpper(s)
}

func hasURI(c *x509.Certificate, uri string) bool {
	for _, u := range c.URIs {
		if u.String() == uri {
			return true
		}
	}
	return false
}

func uriStrings(c *x509.Certificate) []string {
	out := make([]string, 0, len(c.URIs))
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}
