package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// RSA key generation is slow under -race: every test shares these.
var (
	testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
		ks := make([]*rsa.PrivateKey, 4)
		for i := range ks {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			ks[i] = k
		}
		return ks
	})
	shortKey = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func key(i int) *rsa.PrivateKey { return testKeys()[i] }

type certSpec struct {
	cn        string
	uri       string
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
	pub       crypto.PublicKey // default key(0)
	signer    crypto.Signer    // default: self-signed with key(0)
	parent    *x509.Certificate
	sigAlg    x509.SignatureAlgorithm
	serial    int64
}

func makeCert(t testing.TB, sp certSpec) *x509.Certificate {
	t.Helper()
	now := time.Now()
	if sp.notBefore.IsZero() {
		sp.notBefore = now.Add(-time.Hour)
	}
	if sp.notAfter.IsZero() {
		sp.notAfter = now.Add(24 * time.Hour)
	}
	if sp.pub == nil {
		sp.pub = &key(0).PublicKey
	}
	if sp.signer == nil {
		sp.signer = key(0)
	}
	if sp.serial == 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		sp.serial = n.Int64() + 1
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(sp.serial),
		Subject:               pkix.Name{CommonName: sp.cn, Organization: []string{"test"}},
		NotBefore:             sp.notBefore,
		NotAfter:              sp.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  sp.isCA,
		SignatureAlgorithm:    sp.sigAlg,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if sp.isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.ExtKeyUsage = nil
	}
	if sp.uri != "" {
		tmpl.URIs = []*url.URL{mustURL(t, sp.uri)}
	}
	parent := sp.parent
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, sp.pub, sp.signer)
	if err != nil {
		t.Fatalf("create %s: %v", sp.cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ecdsaCert(t testing.TB) *x509.Certificate {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return makeCert(t, certSpec{cn: "ec", uri: "urn:client", pub: &k.PublicKey, signer: k})
}

func makeCRL(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, revoked ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// ownPair is one server certificate shared by the tests that do not test
// its creation: Open reuses it instead of generating a key per test.
var ownPair = sync.OnceValues(func() ([]byte, *rsa.PrivateKey) {
	der, k, err := createOwn("urn:tagbridge:test", []string{"gw1.example"}, time.Now())
	if err != nil {
		panic(err)
	}
	return der, k
})

func openStore(t testing.TB) (*Store, *logBuf) {
	t.Helper()
	log, lb := newLogger()
	dir := filepath.Join(t.TempDir(), "pki")
	der, k := ownPair()
	for _, d := range []string{"own/certs", "own/private"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeOwn(filepath.Join(dir, ownCertFile), filepath.Join(dir, ownKeyFile), der, k); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, "urn:tagbridge:test", []string{"gw1.example"}, log)
	if err != nil {
		t.Fatal(err)
	}
	return s, lb
}

func files(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
