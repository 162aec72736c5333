package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	ownKeyBits = 2048
	// Five years: long enough that a gateway on a plant network is not
	// stopped by an expiry nobody planned for, short enough to be renewed
	// with the hardware. Open warns 30 days before the end.
	ownValidity = 5 * 365 * 24 * time.Hour
	// Back-date the start so a client whose clock is a little behind does
	// not see a certificate that is "not yet valid" (UA .NET does the same).
	ownBackdate = 24 * time.Hour
)

// createOwn makes the server's self-signed application instance certificate
// as OPC UA Part 6 (6.2.2) describes it.
func createOwn(applicationURI string, hostnames []string, now time.Time) (der []byte, key *rsa.PrivateKey, err error) {
	key, err = rsa.GenerateKey(rand.Reader, ownKeyBits)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	dns, ips := sanNames(append(slices.Clone(hostnames), host, "localhost"))
	ips = appendIP(ips, net.IPv4(127, 0, 0, 1))
	ips = append(ips, interfaceIPs()...)
	ips = dedupIPs(ips)

	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Tagbridge@" + host,
			Organization: []string{"Tagbridge"},
		},
		NotBefore: now.Add(-ownBackdate),
		NotAfter:  now.Add(ownValidity),
		// Part 6 Table 42: digitalSignature, nonRepudiation, keyEncipherment
		// and dataEncipherment; keyCertSign for a self-signed certificate, so
		// stacks that check the issuer's key usage accept it as its own issuer.
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment |
			x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              dns,
		IPAddresses:           ips,
		SignatureAlgorithm:    x509.SHA256WithRSA,
		SubjectKeyId:          subjectKeyID(&key.PublicKey),
	}
	if applicationURI != "" {
		u, err := url.Parse(applicationURI)
		if err != nil {
			return nil, nil, fmt.Errorf("application URI %q: %w", applicationURI, err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return der, key, nil
}

func subjectKeyID(pub *rsa.PublicKey) []byte {
	sum := sha1.Sum(x509.MarshalPKCS1PublicKey(pub))
	return sum[:]
}

// sanNames splits host names from IP literals and drops duplicates and blanks.
func sanNames(names []string) (dns []string, ips []net.IP) {
	for _, n := range names {
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			ips = appendIP(ips, ip)
			continue
		}
		if !slices.Contains(dns, n) {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// interfaceIPs lists the machine's usable addresses; loopback and link-local
// addresses are left out because no client reaches the server through them
// by name (127.0.0.1 is added on its own).
func interfaceIPs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsUnspecified() {
			continue
		}
		ips = append(ips, n.IP)
	}
	return ips
}

func appendIP(ips []net.IP, ip net.IP) []net.IP {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return append(ips, ip)
}

func dedupIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if !slices.ContainsFunc(out, ip.Equal) {
			out = appendIP(out, ip)
		}
	}
	return out
}

// writeOwn writes the key first (mode 0600) and the certificate last, each
// through a temporary file and a rename, so a crash never leaves a
// certificate without its key.
func writeOwn(certPath, keyPath string, der []byte, key *rsa.PrivateKey) error {
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, der, 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
