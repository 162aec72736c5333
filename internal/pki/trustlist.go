package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// trustList is what trusted/ and issuers/ held when it was read. It is
// immutable once built, so Verify can use it without the lock.
type trustList struct {
	stamp   string          // names, sizes and mtimes of every file it was built from
	trusted map[string]bool // DER of every certificate in trusted/certs
	roots   *x509.CertPool  // self-signed CAs from trusted/ and issuers/
	inters  *x509.CertPool  // other CAs from trusted/ and issuers/
	crls    []*x509.RevocationList
}

// trustDirs are the folders whose contents decide trust, re-read for each
// client so that moving a certificate into trusted/certs needs no restart.
var trustDirs = [...]string{trustedCerts, issuerCerts, trustedCRL, issuerCRL}

// trustList returns the current trust list, re-parsing the folders only
// when a file was added, removed or changed since the last call.
func (s *Store) trustList() *trustList {
	stamp, files := s.scanTrust()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trust != nil && s.trust.stamp == stamp {
		return s.trust
	}
	tl := &trustList{stamp: stamp, trusted: map[string]bool{}, roots: x509.NewCertPool(), inters: x509.NewCertPool()}
	for i, dir := range trustDirs {
		for _, f := range files[i] {
			data, err := os.ReadFile(f)
			if err != nil {
				s.log.Warn("opcua pki: cannot read", "path", f, "err", err)
				continue
			}
			if strings.HasSuffix(dir, "crl") {
				crls, err := parseCRLs(data)
				if err != nil {
					s.log.Warn("opcua pki: not a CRL, ignored", "path", f, "err", err)
				}
				tl.crls = append(tl.crls, crls...)
				continue
			}
			certs, err := parseCerts(data)
			if err != nil {
				s.log.Warn("opcua pki: not a certificate, ignored", "path", f, "err", err)
			}
			for _, c := range certs {
				if dir == trustedCerts {
					tl.trusted[string(c.Raw)] = true
				}
				if !c.IsCA {
					continue
				}
				if bytes.Equal(c.RawIssuer, c.RawSubject) {
					tl.roots.AddCert(c)
				} else {
					tl.inters.AddCert(c)
				}
			}
		}
	}
	s.trust = tl
	return tl
}

// scanTrust lists the files of the trust folders and a stamp that changes
// whenever one of them does.
func (s *Store) scanTrust() (string, [len(trustDirs)][]string) {
	var files [len(trustDirs)][]string
	var b strings.Builder
	for i, dir := range trustDirs {
		entries, err := os.ReadDir(s.path(dir))
		if err != nil {
			fmt.Fprintf(&b, "%s:%v;", dir, err)
			continue
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			p := filepath.Join(s.path(dir), e.Name())
			files[i] = append(files[i], p)
			fmt.Fprintf(&b, "%s/%s:%d:%d;", dir, e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return b.String(), files
}

// parseCerts reads DER (one certificate or a chain) or PEM (any number of
// CERTIFICATE blocks).
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return x509.ParseCertificates(data)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block")
	}
	return out, nil
}

// parseCRLs reads a DER CRL or PEM "X509 CRL" blocks.
func parseCRLs(data []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, err
		}
		return []*x509.RevocationList{c}, nil
	}
	var out []*x509.RevocationList
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		c, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no X509 CRL block")
	}
	return out, nil
}
