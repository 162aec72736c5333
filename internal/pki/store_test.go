package pki

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOpenCreatesOwnCertificate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	log, lb := newLogger()
	s, err := Open(dir, "urn:tagbridge:line1-gw", []string{"gw1.example", "10.9.8.7"}, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"own/certs", "own/private", "trusted/certs", "trusted/crl", "issuers/certs", "issuers/crl", "rejected/certs"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Errorf("folder %s missing: %v", d, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "own/private")); fi.Mode().Perm() != 0o700 {
		t.Errorf("own/private mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "own/private/key.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem mode %v, want 0600", fi.Mode().Perm())
	}
	if s.CertPath() != filepath.Join(dir, "own/certs/cert.der") {
		t.Errorf("CertPath %s", s.CertPath())
	}
	onDisk, err := os.ReadFile(s.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(onDisk)
	if got, want := s.Thumbprint(), strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
		t.Errorf("Thumbprint %s, want %s", got, want)
	}
	if !strings.Contains(lb.String(), s.Thumbprint()) {
		t.Errorf("creation log does not name the thumbprint: %s", lb)
	}

	c, err := x509.ParseCertificate(s.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.PrivateKey().N.BitLen(); n != 2048 {
		t.Errorf("key bits %d", n)
	}
	if c.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("signature %v", c.SignatureAlgorithm)
	}
	if uris := uriStrings(c); !slices.Equal(uris, []string{"urn:tagbridge:line1-gw"}) {
		t.Errorf("URIs %v", uris)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"gw1.example", "localhost", host} {
		if !slices.Contains(c.DNSNames, want) {
			t.Errorf("DNS names %v lack %s", c.DNSNames, want)
		}
	}
	for _, want := range []string{"127.0.0.1", "10.9.8.7"} {
		if !slices.ContainsFunc(c.IPAddresses, net.ParseIP(want).Equal) {
			t.Errorf("IPs %v lack %s", c.IPAddresses, want)
		}
	}
	for _, ip := range c.IPAddresses {
		if ip.IsLinkLocalUnicast() {
			t.Errorf("link-local address %v in the SAN", ip)
		}
	}
	if c.Subject.CommonName != "Tagbridge@"+host || !slices.Equal(c.Subject.Organization, []string{"Tagbridge"}) {
		t.Errorf("subject %v", c.Subject)
	}
	wantKU := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	if c.KeyUsage&wantKU != wantKU {
		t.Errorf("key usage %b lacks %b", c.KeyUsage, wantKU)
	}
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("ext key usage %v", c.ExtKeyUsage)
	}
	if !c.BasicConstraintsValid || c.IsCA {
		t.Errorf("basic constraints valid=%v CA=%v", c.BasicConstraintsValid, c.IsCA)
	}
	if d := c.NotAfter.Sub(time.Now()); d < 4*365*24*time.Hour || d > 5*366*24*time.Hour {
		t.Errorf("validity ends in %v, want about 5 years", d)
	}
	if !c.NotBefore.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("NotBefore %v is not back-dated", c.NotBefore)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("self-signature: %v", err)
	}

	// Second start: same certificate and key; a changed URI only warns.
	log2, lb2 := newLogger()
	s2, err := Open(dir, "urn:tagbridge:other", []string{"gw1.example"}, log2)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Thumbprint() != s.Thumbprint() || !s2.PrivateKey().Equal(s.PrivateKey()) {
		t.Error("second Open did not reuse the certificate and key")
	}
	if !strings.Contains(lb2.String(), "application URI differs") {
		t.Errorf("no warning for the changed URI: %s", lb2)
	}
}

func TestOpenRefusesHalfAPair(t *testing.T) {
	t.Parallel()
	for _, remove := range []string{ownCertFile, ownKeyFile} {
		t.Run(remove, func(t *testing.T) {
			t.Parallel()
			s, _ := openStore(t)
			if err := os.Remove(s.path(remove)); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(s.Dir(), "urn:tagbridge:test", nil, nil); err == nil {
				t.Fatal("Open succeeded with half a key pair")
			}
			if _, err := os.Stat(s.path(remove)); err == nil {
				t.Error("Open re-created the missing half")
			}
		})
	}
}

func TestOpenRefusesKeyOfAnotherCert(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	other := makeCert(t, certSpec{cn: "other", pub: &key(1).PublicKey, signer: key(1)})
	writeFile(t, s.CertPath(), other.Raw)
	if _, err := Open(s.Dir(), "urn:tagbridge:test", nil, nil); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("err = %v", err)
	}
}

func TestNormalizeThumbprint(t *testing.T) {
	t.Parallel()
	const want = "00112233445566778899AABBCCDDEEFF00112233"
	for _, in := range []string{want, strings.ToLower(want), "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33", " 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF 00 11 22 33 "} {
		if got := NormalizeThumbprint(in); got != want {
			t.Errorf("NormalizeThumbprint(%q) = %q", in, got)
		}
	}
	for _, in := range []string{"", "zz", want[:38], want + "00"} {
		if got := NormalizeThumbprint(in); got != "" {
			t.Errorf("NormalizeThumbprint(%q) = %q, want empty", in, got)
		}
	}
}
