package uaauth

import (
	"crypto/rsa"
	"crypto/x509"

	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uapolicy"
)

// VerifyUserTokenSignature checks the userTokenSignature of an
// ActivateSession that carries an X509IdentityToken: the user's private key
// must have signed the server's certificate followed by the server's last
// nonce (Part 4, 5.6.3), with the asymmetric signature algorithm of
// policyURI (the user-token policy's, or the channel's when it names none).
// Call it before X509. X509 tokens prove nothing without a signature, so
// None is refused (BadIdentityTokenInvalid): offer X509 user tokens with a
// secure policy URI in the token policy, even on a None endpoint.
// A bad signature is BadUserSignatureInvalid. Never panics.
func VerifyUserTokenSignature(policyURI string, userCertDER, serverCertDER, serverNonce, signature []byte) (code ua.StatusCode) {
	defer func() {
		if recover() != nil {
			code = ua.StatusBadUserSignatureInvalid
		}
	}()
	if policyURI == "" || policyURI == ua.SecurityPolicyURINone {
		return ua.StatusBadIdentityTokenInvalid
	}
	if _, ok := oaepHash(policyURI); !ok {
		return ua.StatusBadSecurityPolicyRejected
	}
	c, err := x509.ParseCertificate(userCertDER)
	if err != nil {
		return ua.StatusBadIdentityTokenInvalid
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return ua.StatusBadIdentityTokenInvalid
	}
	enc, err := uapolicy.Asymmetric(policyURI, nil, pub)
	if err != nil { // key size outside the policy's limits
		return ua.StatusBadIdentityTokenInvalid
	}
	msg := make([]byte, 0, len(serverCertDER)+len(serverNonce))
	msg = append(append(msg, serverCertDER...), serverNonce...)
	if len(signature) == 0 || enc.VerifySignature(msg, signature) != nil {
		return ua.StatusBadUserSignatureInvalid
	}
	return ua.StatusOK
}
