package uaserver

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uapolicy"

	"github.com/tagbridge/tagbridge/internal/pki"
)

// policyNames maps the config's names to the policy URIs we offer, weakest
// first. Basic128Rsa15 and Basic256 (SHA-1) are deliberately absent.
var policyNames = []struct{ name, uri string }{
	{"none", ua.SecurityPolicyURINone},
	{"basic256sha256", ua.SecurityPolicyURIBasic256Sha256},
	{"aes128_sha256_rsaoaep", ua.SecurityPolicyURIAes128Sha256RsaOaep},
	{"aes256_sha256_rsapss", ua.SecurityPolicyURIAes256Sha256RsaPss},
}

// secPolicy is one configured (policy, mode) pair: one endpoint.
type secPolicy struct {
	uri  string
	mode ua.MessageSecurityMode
}

// security is what the server offers: its endpoints' policies and modes,
// its certificate and key (nil with only None), the policy user tokens are
// protected with on None endpoints.
type security struct {
	endpoints []secPolicy
	store     *pki.Store // nil when only None is configured and no PKI folder is set
	autoTrust bool
	tokenURI  string // strongest configured secure policy; None when there is none
}

// parseSecurity turns the config's security list into endpoints, strongest
// last in the list order of policyNames.
func parseSecurity(list []string) (eps []secPolicy, tokenURI string, err error) {
	seen := map[string]bool{}
	for _, p := range list {
		name := strings.ToLower(strings.TrimSpace(p))
		switch name {
		case "basic128rsa15", "basic256":
			return nil, "", fmt.Errorf("opcua: security policy %q is deprecated (SHA-1) and never offered; use basic256sha256, aes128_sha256_rsaoaep or aes256_sha256_rsapss", p)
		}
		found := false
		for _, pn := range policyNames {
			if pn.name == name {
				found = true
				seen[pn.uri] = true
			}
		}
		if !found {
			return nil, "", fmt.Errorf("opcua: security policy %q: want none, basic256sha256, aes128_sha256_rsaoaep or aes256_sha256_rsapss", p)
		}
	}
	tokenURI = ua.SecurityPolicyURINone
	for _, pn := range policyNames {
		if !seen[pn.uri] {
			continue
		}
		if pn.uri == ua.SecurityPolicyURINone {
			eps = append(eps, secPolicy{pn.uri, ua.MessageSecurityModeNone})
			continue
		}
		eps = append(eps, secPolicy{pn.uri, ua.MessageSecurityModeSign}, secPolicy{pn.uri, ua.MessageSecurityModeSignAndEncrypt})
		tokenURI = pn.uri
	}
	return eps, tokenURI, nil
}

func (sec *security) secure() bool { return sec.tokenURI != ua.SecurityPolicyURINone }

// offers reports whether a channel with this policy and mode is configured.
func (sec *security) offers(uri string, mode ua.MessageSecurityMode) bool {
	for _, e := range sec.endpoints {
		if e.uri == uri && e.mode == mode {
			return true
		}
	}
	return false
}

func (sec *security) cert() []byte {
	if sec.store == nil {
		return nil
	}
	return sec.store.Certificate()
}

func (sec *security) key() *rsa.PrivateKey {
	if sec.store == nil {
		return nil
	}
	return sec.store.PrivateKey()
}

// userTokenURI is the policy a user token is protected with on a channel:
// the channel's own when it is secure, else the strongest configured one
// (advertised in the token policies of None endpoints), so passwords never
// travel in clear text when the server has a certificate.
func (sec *security) userTokenURI(channelURI string) string {
	if channelURI != "" && channelURI != ua.SecurityPolicyURINone {
		return channelURI
	}
	return sec.tokenURI
}

// leafCert returns the first certificate of a DER chain.
func leafCert(der []byte) (*x509.Certificate, error) {
	certs, err := x509.ParseCertificates(der)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return certs[0], nil
}

func rsaKeyOf(der []byte) (*rsa.PublicKey, []byte, bool) {
	c, err := leafCert(der)
	if err != nil {
		return nil, nil, false
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	return k, c.Raw, ok
}

// sameLeaf reports whether two DER chains start with the same certificate.
func sameLeaf(a, b []byte) bool {
	la, err1 := leafCert(a)
	lb, err2 := leafCert(b)
	return err1 == nil && err2 == nil && bytes.Equal(la.Raw, lb.Raw)
}

// serverSignature signs clientCert+clientNonce with our key for
// CreateSession (Part 4, 5.6.2), with the channel's policy.
func (sec *security) serverSignature(policyURI string, clientCert, clientNonce []byte) (*ua.SignatureData, error) {
	pub, _, ok := rsaKeyOf(clientCert)
	if !ok {
		return nil, ua.StatusBadCertificateInvalid
	}
	enc, err := uapolicy.Asymmetric(policyURI, sec.key(), pub)
	if err != nil {
		return nil, ua.StatusBadSecurityPolicyRejected
	}
	// Over the certificate bytes exactly as the client sent them: that is
	// what clients check against.
	msg := append(append([]byte(nil), clientCert...), clientNonce...)
	sig, err := enc.Signature(msg)
	if err != nil {
		return nil, ua.StatusBadInternalError
	}
	return &ua.SignatureData{Algorithm: enc.SignatureURI(), Signature: sig}, nil
}

// verifyClientSignature checks ActivateSession's ClientSignature over
// serverCert+serverNonce with the client's key.
func (sec *security) verifyClientSignature(policyURI string, clientCert, serverNonce []byte, sd *ua.SignatureData) ua.StatusCode {
	if sd == nil || len(sd.Signature) == 0 {
		return ua.StatusBadApplicationSignatureInvalid
	}
	pub, _, ok := rsaKeyOf(clientCert)
	if !ok {
		return ua.StatusBadCertificateInvalid
	}
	enc, err := uapolicy.Asymmetric(policyURI, sec.key(), pub)
	if err != nil {
		return ua.StatusBadSecurityPolicyRejected
	}
	if sd.Algorithm != "" && sd.Algorithm != enc.SignatureURI() {
		return ua.StatusBadApplicationSignatureInvalid
	}
	msg := append(append([]byte(nil), sec.cert()...), serverNonce...)
	if enc.VerifySignature(msg, sd.Signature) != nil {
		return ua.StatusBadApplicationSignatureInvalid
	}
	return ua.StatusOK
}
