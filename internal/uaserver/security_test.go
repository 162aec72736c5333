package uaserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/internal/pki"
	"github.com/tagbridge/tagbridge/mapping"
)

var (
	keyOnce sync.Once
	keys    [3]*rsa.PrivateKey
)

// testKey returns one of a few RSA 2048 keys made once per test binary.
func testKey(t testing.TB, i int) *rsa.PrivateKey {
	keyOnce.Do(func() {
		for j := range keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[j] = k
		}
	})
	return keys[i]
}

// clientCert makes a self-signed client application certificate.
func clientCert(t testing.TB, key *rsa.PrivateKey, appURI string) []byte {
	t.Helper()
	u, err := url.Parse(appURI)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs:        []*url.URL{u}, DNSNames: []string{"localhost"}, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func trust(t testing.TB, dir string, der []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "trusted", "certs", "client.der"), der, 0o644); err != nil {
		t.Fatal(err)
	}
}

func allPolicies(o *Options) {
	o.Security = []string{"none", "basic256sha256", "aes128_sha256_rsaoaep", "aes256_sha256_rsapss"}
}

// connectSecure dials with a policy, mode and user ("" = anonymous).
func (f *fixture) connectSecure(t testing.TB, policy string, mode ua.MessageSecurityMode, cert []byte, key *rsa.PrivateKey, user, pass string) (*opcua.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps, err := opcua.GetEndpoints(ctx, f.srv.EndpointURL())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := opcua.SelectEndpoint(eps, policy, mode)
	if err != nil {
		t.Fatal(err)
	}
	opts := []opcua.Option{opcua.AutoReconnect(false), opcua.RequestTimeout(5 * time.Second), opcua.DialTimeout(5 * time.Second),
		opcua.SecurityPolicy(policy), opcua.SecurityMode(mode)}
	if cert != nil {
		opts = append(opts, opcua.Certificate(cert), opcua.PrivateKey(key))
	}
	tokType := ua.UserTokenTypeAnonymous
	if user != "" {
		tokType = ua.UserTokenTypeUserName
		opts = append(opts, opcua.AuthUsername(user, pass))
	} else {
		opts = append(opts, opcua.AuthAnonymous())
	}
	opts = append(opts, opcua.SecurityFromEndpoint(ep, tokType))
	c, err := opcua.NewClient(f.srv.EndpointURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, nil
}

func TestSecureEndpoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := start(t, func(o *Options) { allPolicies(o); o.PKIDir = dir })
	eps, err := opcua.GetEndpoints(context.Background(), f.srv.EndpointURL())
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 7 {
		t.Fatalf("got %d endpoints, want 7 (None + 3 policies x Sign, SignAndEncrypt)", len(eps))
	}
	own, err := os.ReadFile(filepath.Join(dir, "own", "certs", "cert.der"))
	if err != nil {
		t.Fatalf("server certificate not created: %v", err)
	}
	for _, ep := range eps {
		if strings.HasSuffix(ep.SecurityPolicyURI, "#Basic128Rsa15") || strings.HasSuffix(ep.SecurityPolicyURI, "#Basic256") {
			t.Errorf("deprecated policy offered: %s", ep.SecurityPolicyURI)
		}
		if string(ep.ServerCertificate) != string(own) {
			t.Errorf("%s/%s: endpoint does not carry the server certificate", ep.SecurityPolicyURI, ep.SecurityMode)
		}
		for _, tok := range ep.UserIdentityTokens {
			if tok.TokenType == ua.UserTokenTypeUserName && tok.SecurityPolicyURI == ua.SecurityPolicyURINone {
				t.Errorf("%s/%s: passwords would travel in clear text", ep.SecurityPolicyURI, ep.SecurityMode)
			}
			if ep.SecurityMode == ua.MessageSecurityModeNone && tok.TokenType == ua.UserTokenTypeUserName &&
				tok.SecurityPolicyURI != ua.SecurityPolicyURIAes256Sha256RsaPss {
				t.Errorf("None endpoint: user token policy %q, want the strongest configured", tok.SecurityPolicyURI)
			}
		}
	}
}

func TestSecureChannelsReadWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := start(t, func(o *Options) { allPolicies(o); o.PKIDir = dir })
	cert := clientCert(t, testKey(t, 0), "urn:test:client")
	trust(t, dir, cert)
	cases := []struct {
		policy string
		mode   ua.MessageSecurityMode
		user   string
		write  ua.StatusCode
	}{
		{ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt, "operator", ua.StatusOK},
		{ua.SecurityPolicyURIAes256Sha256RsaPss, ua.MessageSecurityModeSignAndEncrypt, "operator", ua.StatusOK},
		{ua.SecurityPolicyURIAes128Sha256RsaOaep, ua.MessageSecurityModeSign, "viewer", ua.StatusBadUserAccessDenied},
		{ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSign, "", ua.StatusBadUserAccessDenied},
		{ua.SecurityPolicyURINone, ua.MessageSecurityModeNone, "operator", ua.StatusOK}, // password encrypted with Aes256 on None
	}
	for _, tc := range cases {
		t.Run(tc.policy[strings.Index(tc.policy, "#")+1:]+"/"+tc.mode.String()+"/"+tc.user, func(t *testing.T) {
			var c *opcua.Client
			var err error
			if tc.mode == ua.MessageSecurityModeNone {
				c, err = f.connectSecure(t, tc.policy, tc.mode, nil, nil, tc.user, "secret")
			} else {
				c, err = f.connectSecure(t, tc.policy, tc.mode, cert, testKey(t, 0), tc.user, "secret")
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			f.store.Entry("Line1/Press3/Temperature").Set(mapping.Value{V: 21.5, Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
			resp, err := c.Read(context.Background(), &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: nid("Line1/Press3/Temperature"), AttributeID: ua.AttributeIDValue}}})
			if err != nil || resp.Results[0].Status != ua.StatusOK || resp.Results[0].Value.Value() != 21.5 {
				t.Fatalf("read: %v %+v", err, resp)
			}
			w, err := c.Write(context.Background(), &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
				NodeID: nid("Line1/Press3/Setpoint"), AttributeID: ua.AttributeIDValue,
				Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(float32(7))},
			}}})
			if err != nil || w.Results[0] != tc.write {
				t.Fatalf("write: %v %v, want %v", err, w, tc.write)
			}
		})
	}
}

func TestUntrustedClientRejectedThenTrusted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := start(t, func(o *Options) { allPolicies(o); o.PKIDir = dir })
	cert := clientCert(t, testKey(t, 1), "urn:test:untrusted")
	_, err := f.connectSecure(t, ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt, cert, testKey(t, 1), "operator", "secret")
	if err == nil {
		t.Fatal("an untrusted client certificate was accepted")
	}
	if !errors.Is(err, ua.StatusBadCertificateUntrusted) && !strings.Contains(err.Error(), "Untrusted") {
		t.Logf("refused with %v (want BadCertificateUntrusted; client reports what it saw)", err)
	}
	rej, _ := filepath.Glob(filepath.Join(dir, "rejected", "certs", "*"))
	if len(rej) != 1 {
		t.Fatalf("rejected/certs holds %v, want the client's certificate", rej)
	}
	if err := os.Rename(rej[0], filepath.Join(dir, "trusted", "certs", filepath.Base(rej[0]))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.connectSecure(t, ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt, cert, testKey(t, 1), "operator", "secret"); err != nil {
		t.Fatalf("trusted after the move, still refused: %v", err)
	}
}

func TestAutoTrust(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := start(t, func(o *Options) { allPolicies(o); o.PKIDir = dir; o.AutoTrust = true })
	cert := clientCert(t, testKey(t, 2), "urn:test:auto")
	if _, err := f.connectSecure(t, ua.SecurityPolicyURIAes256Sha256RsaPss, ua.MessageSecurityModeSignAndEncrypt, cert, testKey(t, 2), "", ""); err != nil {
		t.Fatalf("auto_trust refused a client: %v", err)
	}
	if got, _ := filepath.Glob(filepath.Join(dir, "trusted", "certs", "*")); len(got) != 1 {
		t.Fatalf("trusted/certs holds %v, want the auto-trusted certificate", got)
	}
}

func TestPolicyNotConfiguredRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := start(t, func(o *Options) { o.Security = []string{"basic256sha256"}; o.PKIDir = dir; o.Anonymous = "off" })
	cert := clientCert(t, testKey(t, 0), "urn:test:client")
	trust(t, dir, cert)
	// The client asks for a policy the server does not offer: it must not
	// get a usable channel.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		policy string
		mode   ua.MessageSecurityMode
	}{
		{ua.SecurityPolicyURINone, ua.MessageSecurityModeNone},
		{ua.SecurityPolicyURIAes256Sha256RsaPss, ua.MessageSecurityModeSignAndEncrypt},
	} {
		opts := []opcua.Option{opcua.AutoReconnect(false), opcua.RequestTimeout(3 * time.Second), opcua.SecurityPolicy(tc.policy), opcua.SecurityMode(tc.mode)}
		if tc.mode != ua.MessageSecurityModeNone {
			opts = append(opts, opcua.Certificate(cert), opcua.PrivateKey(testKey(t, 0)), opcua.RemoteCertificate(f.srv.sec.cert()))
		}
		c, err := opcua.NewClient(f.srv.EndpointURL(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Connect(ctx)
		c.Close(context.Background())
		if err == nil {
			t.Fatalf("%s: a policy that is not configured was served", tc.policy)
		}
		if tc.policy == ua.SecurityPolicyURINone && !errors.Is(err, ua.StatusBadSecurityPolicyRejected) {
			t.Errorf("None: refused with %v, want BadSecurityPolicyRejected at CreateSession", err)
		}
	}
	// Discovery still works over None, so clients can find the secure endpoints.
	eps, err := opcua.GetEndpoints(ctx, f.srv.EndpointURL())
	if err != nil || len(eps) != 2 {
		t.Fatalf("GetEndpoints over None without a None endpoint: %v, %d endpoints (want Basic256Sha256 Sign and SignAndEncrypt)", err, len(eps))
	}
}

func TestPlainPasswordRefusedWhenEncryptionOffered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := start(t, func(o *Options) { allPolicies(o); o.PKIDir = dir })
	// A client that ignores the token policy and sends the password in clear.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := opcua.NewClient(f.srv.EndpointURL(), opcua.AutoReconnect(false), opcua.SecurityMode(ua.MessageSecurityModeNone),
		opcua.AuthUsername("operator", "secret"), opcua.AuthPolicyID(policyUserName))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.Connect(ctx); !errors.Is(err, ua.StatusBadIdentityTokenInvalid) {
		t.Fatalf("clear-text password on None with a secure token policy: got %v, want BadIdentityTokenInvalid", err)
	}
}

func TestFailedLoginsCounted(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	for _, pw := range []string{"wrong", "bad"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := opcua.NewClient(f.srv.EndpointURL(), opcua.AutoReconnect(false), opcua.SecurityMode(ua.MessageSecurityModeNone),
			opcua.AuthUsername("operator", pw), opcua.AuthPolicyID(policyUserName))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); !errors.Is(err, ua.StatusBadUserAccessDenied) {
			t.Errorf("wrong password: got %v, want BadUserAccessDenied", err)
		}
		c.Close(context.Background())
		cancel()
	}
	if n := f.srv.Stats().LoginFailures; n != 2 {
		t.Fatalf("LoginFailures = %d, want 2", n)
	}
}

func TestAnonymousOffRefused(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.Anonymous = "off" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := opcua.NewClient(f.srv.EndpointURL(), opcua.AutoReconnect(false), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AuthAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.Connect(ctx); !errors.Is(err, ua.StatusBadIdentityTokenRejected) {
		t.Fatalf("anonymous with anonymous off: got %v, want BadIdentityTokenRejected", err)
	}
}

func TestX509UserToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	userCert := clientCert(t, testKey(t, 2), "urn:test:user")
	var logs syncBuffer
	f := start(t, func(o *Options) {
		allPolicies(o)
		o.Logger = newTextLogger(&logs)
		o.PKIDir = dir
		o.Users = append(o.Users, User{Name: "cell", Role: "write", Thumbprint: pki.Thumbprint(userCert)})
	})
	cert := clientCert(t, testKey(t, 0), "urn:test:client")
	trust(t, dir, cert)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eps, err := opcua.GetEndpoints(ctx, f.srv.EndpointURL())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := opcua.SelectEndpoint(eps, ua.SecurityPolicyURIBasic256Sha256, ua.MessageSecurityModeSignAndEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  *rsa.PrivateKey
		want ua.StatusCode
	}{
		{"own key", testKey(t, 2), ua.StatusOK},
		{"someone else's key", testKey(t, 1), ua.StatusBadUserSignatureInvalid},
	} {
		c, err := opcua.NewClient(f.srv.EndpointURL(), opcua.AutoReconnect(false), opcua.RequestTimeout(5*time.Second),
			opcua.SecurityPolicy(ua.SecurityPolicyURIBasic256Sha256), opcua.SecurityMode(ua.MessageSecurityModeSignAndEncrypt),
			opcua.Certificate(cert), opcua.PrivateKey(testKey(t, 0)),
			opcua.AuthCertificate(userCert), opcua.AuthPrivateKey(tc.key), opcua.SecurityFromEndpoint(ep, ua.UserTokenTypeCertificate))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Connect(ctx)
		if tc.want != ua.StatusOK {
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
			c.Close(context.Background())
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		w, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
			NodeID: nid("Line1/Press3/Setpoint"), AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(float32(2))},
		}}})
		c.Close(context.Background())
		if err != nil || w.Results[0] != ua.StatusOK {
			t.Fatalf("certificate user with the write role: %v %v", err, w)
		}
		// Logs name the configured user, not the certificate.
		if l := logs.String(); !strings.Contains(l, `msg="opcua: session activated"`) || !strings.Contains(l, "user=cell") {
			t.Errorf("no activation log line naming user cell:\n%s", l)
		}
	}
}
