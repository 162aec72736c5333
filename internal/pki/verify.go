package pki

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopcua/opcua/ua"
)

// Key sizes the offered security policies accept (Basic256Sha256,
// Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss all say 2048..4096).
const (
	minKeyBits = 2048
	maxKeyBits = 4096
)

// Verify validates a client's application instance certificate, as sent in
// OpenSecureChannel (der may be the leaf followed by its issuers) or in
// CreateSession. It is called once per connection, from that connection's
// goroutine; it re-reads trusted/ and issuers/ when they changed.
//
// The checks, in order, and what each failure returns:
//   - not a parsable X.509 certificate, not RSA, or a self-signed
//     certificate whose signature does not verify: BadCertificateInvalid
//   - key shorter than 2048 or longer than 4096 bits, or signed with SHA-1
//     or MD5: BadCertificatePolicyCheckFailed
//   - outside its validity period: BadCertificateTimeInvalid (an issuer's:
//     BadCertificateIssuerTimeInvalid)
//   - wantAppURI is not empty and is not a URI in its SubjectAltName:
//     BadCertificateUriInvalid
//   - its serial is in a CRL (trusted/crl, issuers/crl) signed by its
//     issuer: BadCertificateRevoked (an issuer's: BadCertificateIssuerRevoked)
//   - it is in trusted/certs, or chains to a CA through trusted/certs and
//     issuers/certs with a certificate of trusted/certs on the chain: Good
//   - otherwise, with autoTrust: it is copied to trusted/certs, a warning is
//     logged, Good; without: it is copied to rejected/certs for an operator
//     to move, BadCertificateUntrusted.
//
// Verify never panics, whatever der holds.
func (s *Store) Verify(der []byte, wantAppURI string, autoTrust bool) (code ua.StatusCode) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("opcua pki: certificate check failed unexpectedly", "panic", r)
			code = ua.StatusBadCertificateInvalid
		}
	}()
	certs, err := x509.ParseCertificates(der)
	if err != nil || len(certs) == 0 {
		s.log.Warn("opcua: client certificate refused", "status", ua.StatusBadCertificateInvalid, "reason", "not an X.509 certificate", "err", err)
		return ua.StatusBadCertificateInvalid
	}
	leaf := certs[0]
	thumb := Thumbprint(leaf.Raw)
	refuse := func(code ua.StatusCode, reason string) ua.StatusCode {
		s.log.Warn("opcua: client certificate refused", "subject", leaf.Subject.String(),
			"thumbprint", thumb, "status", code, "reason", reason)
		return code
	}

	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return refuse(ua.StatusBadCertificateInvalid, "not an RSA key: the offered security policies use RSA only")
	}
	if n := pub.N.BitLen(); n < minKeyBits || n > maxKeyBits {
		return refuse(ua.StatusBadCertificatePolicyCheckFailed, "RSA key size outside 2048..4096 bits")
	}
	switch leaf.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA:
		return refuse(ua.StatusBadCertificatePolicyCheckFailed, "signed with "+leaf.SignatureAlgorithm.String()+", SHA-256 or better is required")
	}
	now := s.now()
	if now.Before(leaf.NotBefore) {
		return refuse(ua.StatusBadCertificateTimeInvalid, "not valid before "+leaf.NotBefore.String())
	}
	if now.After(leaf.NotAfter) {
		return refuse(ua.StatusBadCertificateTimeInvalid, "expired "+leaf.NotAfter.String())
	}
	if wantAppURI != "" && !hasURI(leaf, wantAppURI) {
		return refuse(ua.StatusBadCertificateURIInvalid, "application URI "+wantAppURI+" not in the certificate ("+strings.Join(uriStrings(leaf), ", ")+")")
	}

	tl := s.trustList()
	var chains [][]*x509.Certificate
	if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
		// CheckSignatureFrom would refuse a CA=false issuer; a self-signed
		// application certificate only has to be consistent with itself.
		if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
			return refuse(ua.StatusBadCertificateInvalid, "self-signed certificate with a bad signature")
		}
		chains = [][]*x509.Certificate{{leaf}}
	} else {
		inters := tl.inters.Clone()
		for _, c := range certs[1:] {
			inters.AddCert(c)
		}
		// Roots is never nil, so the system's web CAs are never consulted.
		chains, err = leaf.Verify(x509.VerifyOptions{
			Roots: tl.roots, Intermediates: inters, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return refuse(ua.StatusBadCertificateIssuerTimeInvalid, "an issuer certificate is expired or not yet valid")
		}
		// Any other error means no known issuer: only an exact entry in
		// trusted/certs can still trust it.
	}

	trusted := tl.trusted[string(leaf.Raw)]
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			if tl.revoked(chain[i], chain[i+1]) {
				if i == 0 {
					return refuse(ua.StatusBadCertificateRevoked, "revoked by a CRL of "+chain[1].Subject.String())
				}
				return refuse(ua.StatusBadCertificateIssuerRevoked, "issuer "+chain[i].Subject.String()+" revoked")
			}
		}
		for _, c := range chain {
			trusted = trusted || tl.trusted[string(c.Raw)]
		}
	}
	if trusted {
		s.log.Debug("opcua: client certificate trusted", "subject", leaf.Subject.String(), "thumbprint", thumb)
		return ua.StatusOK
	}
	if autoTrust {
		p := filepath.Join(s.path(trustedCerts), fileName(leaf))
		if err := s.store(p, leaf.Raw); err != nil {
			s.log.Error("opcua: auto_trust: cannot store the client certificate", "path", p, "err", err)
		}
		s.log.Warn("opcua: auto_trust accepted an unknown client certificate (turn auto_trust off after commissioning)",
			"subject", leaf.Subject.String(), "thumbprint", thumb, "path", p)
		return ua.StatusOK
	}
	s.reject(leaf)
	return refuse(ua.StatusBadCertificateUntrusted, "not in "+s.path(trustedCerts)+": move it there from "+s.path(rejectedCerts)+" to trust it")
}

// revoked reports whether a CRL signed by issuer lists c. CRLs whose
// signature does not verify are ignored: anyone can drop a file in a folder
// by mistake, but only the CA can revoke.
func (tl *trustList) revoked(c, issuer *x509.Certificate) bool {
	for _, crl := range tl.crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return true
			}
		}
	}
	return false
}

// reject copies an untrusted certificate to rejected/certs, unless it is
// already there or the folder holds maxRejected files.
func (s *Store) reject(leaf *x509.Certificate) {
	dir := s.path(rejectedCerts)
	p := filepath.Join(dir, fileName(leaf))
	if _, err := os.Stat(p); err == nil {
		return
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) >= maxRejected {
		s.log.Warn("opcua pki: rejected/certs is full, certificate not stored", "path", dir, "max", maxRejected)
		return
	}
	if err := s.store(p, leaf.Raw); err != nil {
		s.log.Error("opcua pki: cannot store the rejected certificate", "path", p, "err", err)
	}
}

func (s *Store) store(path string, der []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return writeFileAtomic(path, der, 0o644)
}

// fileName names a stored certificate as UA .NET does: "<CN> [<thumbprint>].der".
func fileName(c *x509.Certificate) string {
	cn := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune(" -_.@", r):
			return r
		}
		return '_'
	}, c.Subject.CommonName)
	cn = strings.Trim(cn, " .")
	if len(cn) > 64 {
		cn = cn[:64]
	}
	if cn == "" {
		cn = "cert"
	}
	return cn + " [" + Thumbprint(c.Raw) + "].der"
}
