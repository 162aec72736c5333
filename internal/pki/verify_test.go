package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	const uri = "urn:client"
	now := time.Now()
	self := func(t *testing.T) *x509.Certificate { return makeCert(t, certSpec{cn: "client", uri: uri}) }
	ca := func(t *testing.T) *x509.Certificate {
		return makeCert(t, certSpec{cn: "Plant CA", isCA: true, pub: &key(1).PublicKey, signer: key(1)})
	}
	issued := func(t *testing.T, ca *x509.Certificate) *x509.Certificate {
		return makeCert(t, certSpec{cn: "client", uri: uri, parent: ca, signer: key(1)})
	}
	trust := func(s *Store, c *x509.Certificate) { writeFile(t, filepath.Join(s.path(trustedCerts), "t.der"), c.Raw) }
	issuer := func(s *Store, c *x509.Certificate) { writeFile(t, filepath.Join(s.path(issuerCerts), "i.der"), c.Raw) }

	tests := []struct {
		name   string
		setup  func(t *testing.T, s *Store) []byte // returns what the client sends
		uri    string
		auto   bool
		want   ua.StatusCode
		wantIn string // folder the certificate must land in
	}{
		{name: "garbage", want: ua.StatusBadCertificateInvalid,
			setup: func(t *testing.T, s *Store) []byte { return []byte("not a certificate at all") }},
		{name: "empty", want: ua.StatusBadCertificateInvalid,
			setup: func(t *testing.T, s *Store) []byte { return nil }},
		{name: "truncated", want: ua.StatusBadCertificateInvalid,
			setup: func(t *testing.T, s *Store) []byte { c := self(t); return c.Raw[:len(c.Raw)/2] }},
		{name: "ecdsa", uri: uri, want: ua.StatusBadCertificateInvalid,
			setup: func(t *testing.T, s *Store) []byte { c := ecdsaCert(t); trust(s, c); return c.Raw }},
		{name: "rsa 1024", uri: uri, want: ua.StatusBadCertificatePolicyCheckFailed,
			setup: func(t *testing.T, s *Store) []byte {
				c := makeCert(t, certSpec{cn: "short", uri: uri, pub: &shortKey().PublicKey, signer: shortKey()})
				trust(s, c)
				return c.Raw
			}},
		{name: "sha1 signature", uri: uri, want: ua.StatusBadCertificatePolicyCheckFailed,
			setup: func(t *testing.T, s *Store) []byte {
				c := makeCert(t, certSpec{cn: "sha1", uri: uri, sigAlg: x509.SHA1WithRSA})
				trust(s, c)
				return c.Raw
			}},
		{name: "bad self-signature", uri: uri, want: ua.StatusBadCertificateInvalid,
			setup: func(t *testing.T, s *Store) []byte {
				der := bytes.Clone(self(t).Raw)
				der[len(der)-1] ^= 0xff
				return der
			}},
		{name: "expired", uri: uri, want: ua.StatusBadCertificateTimeInvalid,
			setup: func(t *testing.T, s *Store) []byte {
				c := makeCert(t, certSpec{cn: "old", uri: uri, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)})
				trust(s, c)
				return c.Raw
			}},
		{name: "not yet valid", uri: uri, want: ua.StatusBadCertificateTimeInvalid,
			setup: func(t *testing.T, s *Store) []byte {
				c := makeCert(t, certSpec{cn: "new", uri: uri, notBefore: now.Add(time.Hour), notAfter: now.Add(48 * time.Hour)})
				trust(s, c)
				return c.Raw
			}},
		{name: "wrong uri", uri: "urn:someone-else", want: ua.StatusBadCertificateURIInvalid,
			setup: func(t *testing.T, s *Store) []byte { c := self(t); trust(s, c); return c.Raw }},
		{name: "uri not checked when empty", uri: "", want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte { c := self(t); trust(s, c); return c.Raw }},
		{name: "self-signed trusted", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte { c := self(t); trust(s, c); return c.Raw }},
		{name: "trusted as PEM", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte {
				c := self(t)
				writeFile(t, filepath.Join(s.path(trustedCerts), "c.pem"), pemCert(c))
				return c.Raw
			}},
		{name: "self-signed unknown", uri: uri, want: ua.StatusBadCertificateUntrusted, wantIn: rejectedCerts,
			setup: func(t *testing.T, s *Store) []byte { return self(t).Raw }},
		{name: "auto trust", uri: uri, auto: true, want: ua.StatusOK, wantIn: trustedCerts,
			setup: func(t *testing.T, s *Store) []byte { return self(t).Raw }},
		{name: "CA in trusted", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte { c := ca(t); trust(s, c); return issued(t, c).Raw }},
		{name: "CA only in issuers", uri: uri, want: ua.StatusBadCertificateUntrusted, wantIn: rejectedCerts,
			setup: func(t *testing.T, s *Store) []byte { c := ca(t); issuer(s, c); return issued(t, c).Raw }},
		{name: "CA in issuers, leaf trusted", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte {
				c := ca(t)
				issuer(s, c)
				l := issued(t, c)
				trust(s, l)
				return l.Raw
			}},
		{name: "chain sent by the client", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte {
				root := ca(t)
				trust(s, root)
				inter := makeCert(t, certSpec{cn: "Line CA", isCA: true, pub: &key(2).PublicKey, parent: root, signer: key(1)})
				leaf := makeCert(t, certSpec{cn: "client", uri: uri, parent: inter, signer: key(2)})
				return append(bytes.Clone(leaf.Raw), inter.Raw...)
			}},
		{name: "issuer expired", uri: uri, want: ua.StatusBadCertificateIssuerTimeInvalid,
			setup: func(t *testing.T, s *Store) []byte {
				root := makeCert(t, certSpec{cn: "Old CA", isCA: true, pub: &key(1).PublicKey, signer: key(1),
					notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)})
				trust(s, root)
				return makeCert(t, certSpec{cn: "client", uri: uri, parent: root, signer: key(1)}).Raw
			}},
		{name: "revoked", uri: uri, want: ua.StatusBadCertificateRevoked,
			setup: func(t *testing.T, s *Store) []byte {
				c := ca(t)
				trust(s, c)
				l := issued(t, c)
				writeFile(t, filepath.Join(s.path(trustedCRL), "ca.crl"), makeCRL(t, c, key(1), l))
				return l.Raw
			}},
		{name: "revoked though leaf trusted", uri: uri, want: ua.StatusBadCertificateRevoked,
			setup: func(t *testing.T, s *Store) []byte {
				c := ca(t)
				issuer(s, c)
				l := issued(t, c)
				trust(s, l)
				writeFile(t, filepath.Join(s.path(issuerCRL), "ca.crl"), makeCRL(t, c, key(1), l))
				return l.Raw
			}},
		{name: "CRL of another CA ignored", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte {
				c := ca(t)
				trust(s, c)
				l := issued(t, c)
				other := makeCert(t, certSpec{cn: "Plant CA", isCA: true, pub: &key(3).PublicKey, signer: key(3)})
				writeFile(t, filepath.Join(s.path(trustedCRL), "forged.crl"), makeCRL(t, other, key(3), l))
				return l.Raw
			}},
		{name: "CRL not listing it", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte {
				c := ca(t)
				trust(s, c)
				writeFile(t, filepath.Join(s.path(trustedCRL), "ca.crl"), makeCRL(t, c, key(1), issued(t, c)))
				return issued(t, c).Raw
			}},
		{name: "junk files in the trust folders", uri: uri, want: ua.StatusOK,
			setup: func(t *testing.T, s *Store) []byte {
				writeFile(t, filepath.Join(s.path(trustedCerts), "junk.der"), []byte("junk"))
				writeFile(t, filepath.Join(s.path(trustedCRL), "junk.crl"), []byte("junk"))
				c := self(t)
				trust(s, c)
				return c.Raw
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, lb := openStore(t)
			der := tc.setup(t, s)
			if got := s.Verify(der, tc.uri, tc.auto); got != tc.want {
				t.Fatalf("Verify = %v, want %v\nlog:\n%s", got, tc.want, lb)
			}
			if tc.want != ua.StatusOK && !strings.Contains(lb.String(), "refused") {
				t.Errorf("refusal not logged:\n%s", lb)
			}
			if tc.wantIn != "" {
				leaf, _ := x509.ParseCertificate(der)
				name := fileName(leaf)
				if !slices.Contains(files(t, s.path(tc.wantIn)), name) {
					t.Errorf("%s not stored in %s: %v", name, tc.wantIn, files(t, s.path(tc.wantIn)))
				}
			}
			if tc.want != ua.StatusBadCertificateUntrusted {
				if got := files(t, s.path(rejectedCerts)); len(got) != 0 {
					t.Errorf("rejected/certs holds %v", got)
				}
			}
		})
	}
}

func TestVerifyRereadsTrustedWithoutRestart(t *testing.T) {
	t.Parallel()
	s, lb := openStore(t)
	c := makeCert(t, certSpec{cn: "SCADA/1 client", uri: "urn:scada"})
	if got := s.Verify(c.Raw, "urn:scada", false); got != ua.StatusBadCertificateUntrusted {
		t.Fatalf("first Verify = %v", got)
	}
	rejected := files(t, s.path(rejectedCerts))
	want := "SCADA_1 client [" + Thumbprint(c.Raw) + "].der"
	if !slices.Equal(rejected, []string{want}) {
		t.Fatalf("rejected/certs = %v, want [%s]", rejected, want)
	}
	// A second attempt does not duplicate the file.
	s.Verify(c.Raw, "urn:scada", false)
	if n := len(files(t, s.path(rejectedCerts))); n != 1 {
		t.Errorf("rejected/certs holds %d files", n)
	}
	// The operator moves it to trusted/certs: the same Store now accepts it.
	if err := os.Rename(filepath.Join(s.path(rejectedCerts), want), filepath.Join(s.path(trustedCerts), want)); err != nil {
		t.Fatal(err)
	}
	if got := s.Verify(c.Raw, "urn:scada", false); got != ua.StatusOK {
		t.Fatalf("after trusting: Verify = %v\n%s", got, lb)
	}
	// And removing it takes the trust away again.
	if err := os.Remove(filepath.Join(s.path(trustedCerts), want)); err != nil {
		t.Fatal(err)
	}
	if got := s.Verify(c.Raw, "urn:scada", false); got != ua.StatusBadCertificateUntrusted {
		t.Fatalf("after removing: Verify = %v", got)
	}
}

func TestVerifyAutoTrustIsRemembered(t *testing.T) {
	t.Parallel()
	s, lb := openStore(t)
	c := makeCert(t, certSpec{cn: "hmi", uri: "urn:hmi"})
	if got := s.Verify(c.Raw, "urn:hmi", true); got != ua.StatusOK {
		t.Fatalf("auto trust: %v", got)
	}
	if !strings.Contains(lb.String(), "auto_trust accepted") || !strings.Contains(lb.String(), "level=WARN") {
		t.Errorf("auto trust not logged as a warning:\n%s", lb)
	}
	// Turning auto_trust off keeps what it accepted.
	if got := s.Verify(c.Raw, "urn:hmi", false); got != ua.StatusOK {
		t.Fatalf("after auto trust, without it: %v", got)
	}
}

func TestVerifyOwnClockIsUsed(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	c := makeCert(t, certSpec{cn: "c", uri: "urn:c"})
	writeFile(t, filepath.Join(s.path(trustedCerts), "c.der"), c.Raw)
	s.now = func() time.Time { return c.NotAfter.Add(time.Second) }
	if got := s.Verify(c.Raw, "urn:c", false); got != ua.StatusBadCertificateTimeInvalid {
		t.Fatalf("Verify after expiry = %v", got)
	}
}

func TestRejectedFolderIsBounded(t *testing.T) {
	t.Parallel()
	s, lb := openStore(t)
	for i := range maxRejected {
		writeFile(t, filepath.Join(s.path(rejectedCerts), strings.Repeat("x", 1+i%50)+string(rune('a'+i%26))+time.Duration(i).String()), nil)
	}
	n := len(files(t, s.path(rejectedCerts)))
	c := makeCert(t, certSpec{cn: "c", uri: "urn:c"})
	if got := s.Verify(c.Raw, "urn:c", false); got != ua.StatusBadCertificateUntrusted {
		t.Fatalf("Verify = %v", got)
	}
	if got := len(files(t, s.path(rejectedCerts))); got != n {
		t.Errorf("rejected/certs grew from %d to %d past its bound", n, got)
	}
	if !strings.Contains(lb.String(), "full") {
		t.Errorf("full folder not logged")
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	for cn, want := range map[string]string{
		"UaExpert@pc1":           "UaExpert@pc1",
		"../../etc/passwd":       "_.._etc_passwd",
		"":                       "cert",
		"..":                     "cert",
		"a\x00b\nc":              "a_b_c",
		strings.Repeat("x", 100): strings.Repeat("x", 64),
	} {
		c := &x509.Certificate{Raw: []byte(cn)}
		c.Subject.CommonName = cn
		if got := fileName(c); got != want+" ["+Thumbprint(c.Raw)+"].der" {
			t.Errorf("fileName(%q) = %q", cn, got)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := openStore(f)
	good := makeCert(f, certSpec{cn: "c", uri: "urn:c"})
	f.Add(good.Raw)
	f.Add(good.Raw[:100])
	f.Add(append(bytes.Clone(good.Raw), good.Raw...))
	f.Add(ecdsaCert(f).Raw)
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		code := s.Verify(der, "urn:c", false)
		if code == ua.StatusOK {
			// Nothing is trusted in this store, so nothing may pass.
			t.Fatalf("untrusted input accepted: %x", der)
		}
	})
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	trusted := makeCert(t, certSpec{cn: "a", uri: "urn:a"})
	writeFile(t, filepath.Join(s.path(trustedCerts), "a.der"), trusted.Raw)
	unknown := makeCert(t, certSpec{cn: "b", uri: "urn:b"})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if i == 0 && j == 10 { // the trust list changes while others read it
					if err := os.WriteFile(filepath.Join(s.path(trustedCerts), "junk.der"), []byte("x"), 0o644); err != nil {
						errs <- err.Error()
					}
				}
				if got := s.Verify(trusted.Raw, "urn:a", false); got != ua.StatusOK {
					errs <- "trusted: " + got.Error()
				}
				if got := s.Verify(unknown.Raw, "urn:b", false); got != ua.StatusBadCertificateUntrusted {
					errs <- "unknown: " + got.Error()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
		break
	}
}
