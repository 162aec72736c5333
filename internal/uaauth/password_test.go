package uaauth

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"github.com/gopcua/opcua/uasc"
)

var (
	testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
		var ks [2]*rsa.PrivateKey
		for i := range ks {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			ks[i] = k
		}
		return ks
	})
	testKey  = func() *rsa.PrivateKey { return testKeys()[0] }
	otherKey = func() *rsa.PrivateKey { return testKeys()[1] }
)

// serverCert is the server's certificate for testKey.
func serverCert(t testing.TB) *x509.Certificate {
	t.Helper()
	now := time.Now()
	c, err := x509.ParseCertificate(selfSigned(t, testKey(), now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var securePolicies = []string{
	ua.SecurityPolicyURIBasic256Sha256,
	ua.SecurityPolicyURIAes128Sha256RsaOaep,
	ua.SecurityPolicyURIAes256Sha256RsaPss,
}

func nonce(t testing.TB) []byte {
	n := make([]byte, 32)
	if _, err := rand.Read(n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDecryptPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	cert := serverCert(t)
	passwords := []string{"", "pw", "pässwörd ✓", strings.Repeat("x", 72), strings.Repeat("y", 300)} // 300: several RSA blocks
	for _, policy := range append([]string{ua.SecurityPolicyURINone, ""}, securePolicies...) {
		for _, pw := range passwords {
			n := nonce(t)
			enc, err := EncryptPassword(policy, cert, []byte(pw), n)
			if err != nil {
				t.Fatalf("%s: encrypt: %v", policy, err)
			}
			if policy != ua.SecurityPolicyURINone && policy != "" && bytes.Contains(enc, []byte(pw)) && pw != "" {
				t.Fatalf("%s: password in clear", policy)
			}
			got, code := DecryptPassword(policy, testKey(), enc, n)
			if code != ua.StatusOK || string(got) != pw {
				t.Errorf("%s %q: DecryptPassword = %q %v", policy, pw, got, code)
			}
		}
	}
}

// gopcuaEncrypt runs gopcua v0.9.1's own client code for a UserNameIdentityToken
// (uasc.SecureChannel.EncryptUserPassword, called by Client.ActivateSession).
func gopcuaChannel(t *testing.T, policy string, userKey *rsa.PrivateKey) *uasc.SecureChannel {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tc, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close(); srv.Close() })
	conn, err := uacp.NewConn(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := uasc.NewSecureChannel("opc.tcp://127.0.0.1:4840", conn, &uasc.Config{
		SecurityPolicyURI: policy,
		SecurityMode:      ua.MessageSecurityModeSignAndEncrypt,
		LocalKey:          otherKey(),
		UserKey:           userKey,
	}, make(chan error, 1))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestDecryptPasswordFromGopcuaClient(t *testing.T) {
	t.Parallel()
	cert := serverCert(t)
	for _, policy := range securePolicies {
		sc := gopcuaChannel(t, policy, nil)
		for _, pw := range []string{"operator-pw", strings.Repeat("z", 200)} {
			n := nonce(t)
			enc, alg, err := sc.EncryptUserPassword(policy, pw, cert.Raw, n)
			if err != nil {
				t.Fatalf("%s: gopcua encrypt: %v", policy, err)
			}
			if alg != PasswordAlgorithm(policy) {
				t.Errorf("%s: gopcua names algorithm %s, PasswordAlgorithm says %s", policy, alg, PasswordAlgorithm(policy))
			}
			got, code := DecryptPassword(policy, testKey(), enc, n)
			if code != ua.StatusOK || string(got) != pw {
				t.Errorf("%s: DecryptPassword(gopcua) = %q %v", policy, got, code)
			}
		}
		// A token policy that names no policy falls back to the channel's in
		// gopcua; the server must then pass the channel's policy.
		n := nonce(t)
		enc, _, err := sc.EncryptUserPassword("", "pw", cert.Raw, n)
		if err != nil {
			t.Fatal(err)
		}
		if got, code := DecryptPassword(policy, testKey(), enc, n); code != ua.StatusOK || string(got) != "pw" {
			t.Errorf("%s, empty token policy: %q %v", policy, got, code)
		}
	}
	// And None: the password travels as is.
	sc := gopcuaChannel(t, ua.SecurityPolicyURIBasic256Sha256, nil)
	enc, _, err := sc.EncryptUserPassword(ua.SecurityPolicyURINone, "plain", cert.Raw, nonce(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, code := DecryptPassword(ua.SecurityPolicyURINone, testKey(), enc, nil); code != ua.StatusOK || string(got) != "plain" {
		t.Errorf("None: %q %v", got, code)
	}
}

func TestDecryptPasswordRejects(t *testing.T) {
	t.Parallel()
	cert := serverCert(t)
	const policy = ua.SecurityPolicyURIBasic256Sha256
	n := nonce(t)
	enc, err := EncryptPassword(policy, cert, []byte("pw"), n)
	if err != nil {
		t.Fatal(err)
	}
	// A block with a lying length field.
	badLen := func(delta int) []byte {
		secret := binary.LittleEndian.AppendUint32(nil, uint32(2+len(n)+delta))
		secret = append(append(secret, "pw"...), n...)
		c, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &testKey().PublicKey, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	junk := make([]byte, 256)
	rand.Read(junk)
	tests := []struct {
		name   string
		policy string
		key    *rsa.PrivateKey
		data   []byte
		nonce  []byte
		want   ua.StatusCode
	}{
		{"wrong nonce (replay)", policy, testKey(), enc, nonce(t), ua.StatusBadIdentityTokenInvalid},
		{"shorter nonce", policy, testKey(), enc, n[:16], ua.StatusBadIdentityTokenInvalid},
		{"truncated", policy, testKey(), enc[:len(enc)-1], n, ua.StatusBadIdentityTokenInvalid},
		{"half a block", policy, testKey(), enc[:128], n, ua.StatusBadIdentityTokenInvalid},
		{"empty", policy, testKey(), nil, n, ua.StatusBadIdentityTokenInvalid},
		{"random block", policy, testKey(), junk, n, ua.StatusBadIdentityTokenInvalid},
		{"other key", policy, otherKey(), enc, n, ua.StatusBadIdentityTokenInvalid},
		{"other OAEP hash", ua.SecurityPolicyURIAes256Sha256RsaPss, testKey(), enc, n, ua.StatusBadIdentityTokenInvalid},
		{"length too long", policy, testKey(), badLen(1), n, ua.StatusBadIdentityTokenInvalid},
		{"length too short", policy, testKey(), badLen(-1), n, ua.StatusBadIdentityTokenInvalid},
		{"length huge", policy, testKey(), badLen(1 << 30), n, ua.StatusBadIdentityTokenInvalid},
		{"too many blocks", policy, testKey(), bytes.Repeat(enc, maxSecretBlocks+1), n, ua.StatusBadIdentityTokenInvalid},
		{"Basic128Rsa15 never offered", ua.SecurityPolicyURIBasic128Rsa15, testKey(), enc, n, ua.StatusBadSecurityPolicyRejected},
		{"Basic256 never offered", ua.SecurityPolicyURIBasic256, testKey(), enc, n, ua.StatusBadSecurityPolicyRejected},
		{"unknown policy", "http://example.com/policy", testKey(), enc, n, ua.StatusBadSecurityPolicyRejected},
		{"no server key", policy, nil, enc, n, ua.StatusBadInternalError},
		{"no server nonce", policy, testKey(), enc, nil, ua.StatusBadInternalError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, code := DecryptPassword(tc.policy, tc.key, tc.data, tc.nonce)
			if code != tc.want || got != nil {
				t.Fatalf("DecryptPassword = %q %v, want nil %v", got, code, tc.want)
			}
		})
	}
}

func TestEncryptPasswordErrors(t *testing.T) {
	t.Parallel()
	if _, err := EncryptPassword(ua.SecurityPolicyURIBasic256Sha256, nil, []byte("pw"), nonce(t)); err == nil {
		t.Error("no certificate accepted")
	}
	if _, err := EncryptPassword(ua.SecurityPolicyURIBasic128Rsa15, serverCert(t), []byte("pw"), nonce(t)); err == nil {
		t.Error("Basic128Rsa15 accepted")
	}
}

func TestUserTokenSignatureFromGopcuaClient(t *testing.T) {
	t.Parallel()
	now := time.Now()
	user := testKeys()[1]
	userCert := selfSigned(t, user, now.Add(-time.Hour), now.Add(time.Hour))
	server := serverCert(t)
	for _, policy := range securePolicies {
		sc := gopcuaChannel(t, policy, user)
		n := nonce(t)
		sig, _, err := sc.NewUserTokenSignature(policy, server.Raw, n)
		if err != nil {
			t.Fatalf("%s: gopcua sign: %v", policy, err)
		}
		if code := VerifyUserTokenSignature(policy, userCert, server.Raw, n, sig); code != ua.StatusOK {
			t.Errorf("%s: good signature: %v", policy, code)
		}
		if code := VerifyUserTokenSignature(policy, userCert, server.Raw, nonce(t), sig); code != ua.StatusBadUserSignatureInvalid {
			t.Errorf("%s: other nonce: %v", policy, code)
		}
		if code := VerifyUserTokenSignature(policy, userCert, server.Raw, n, nil); code != ua.StatusBadUserSignatureInvalid {
			t.Errorf("%s: no signature: %v", policy, code)
		}
		if code := VerifyUserTokenSignature(policy, []byte("junk"), server.Raw, n, sig); code != ua.StatusBadIdentityTokenInvalid {
			t.Errorf("%s: junk certificate: %v", policy, code)
		}
	}
	if code := VerifyUserTokenSignature(ua.SecurityPolicyURINone, userCert, server.Raw, nil, nil); code != ua.StatusBadIdentityTokenInvalid {
		t.Errorf("None: %v", code)
	}
	if code := VerifyUserTokenSignature(ua.SecurityPolicyURIBasic256, userCert, server.Raw, nil, []byte{1}); code != ua.StatusBadSecurityPolicyRejected {
		t.Errorf("Basic256: %v", code)
	}
}

func FuzzDecryptPassword(f *testing.F) {
	cert := serverCert(f)
	n := bytes.Repeat([]byte{7}, 32)
	for i, policy := range securePolicies {
		enc, err := EncryptPassword(policy, cert, []byte("pw"), n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), enc)
		f.Add(uint8(i), enc[:len(enc)-3])
	}
	f.Add(uint8(3), []byte("plain"))
	f.Add(uint8(4), []byte{})
	policies := append([]string{ua.SecurityPolicyURINone, ua.SecurityPolicyURIBasic128Rsa15}, securePolicies...)
	f.Fuzz(func(t *testing.T, p uint8, data []byte) {
		policy := policies[int(p)%len(policies)]
		got, code := DecryptPassword(policy, testKey(), data, n)
		if code == ua.StatusOK && policy == ua.SecurityPolicyURINone && !bytes.Equal(got, data) {
			t.Fatalf("None changed the password")
		}
		if code != ua.StatusOK && got != nil {
			t.Fatalf("password returned with %v", code)
		}
	})
}
