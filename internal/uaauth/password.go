package uaauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/gopcua/opcua/ua"
)

// Encryption algorithm URIs a client puts in UserNameIdentityToken.EncryptionAlgorithm.
const (
	AlgRsaOaep       = "http://www.w3.org/2001/04/xmlenc#rsa-oaep"              // OAEP with SHA-1
	AlgRsaOaepSha256 = "http://opcfoundation.org/UA/security/rsa-oaep-sha2-256" // OAEP with SHA-256
)

// maxSecretBlocks bounds the work a client can ask of DecryptPassword: 8
// blocks of a 4096-bit key hold far more than a 72-byte password.
const maxSecretBlocks = 8

// oaepHash returns the OAEP hash of a policy offered for user tokens, or
// false for None and for policies Tagbridge never offers (Basic128Rsa15,
// Basic256).
func oaepHash(policyURI string) (func() hash.Hash, bool) {
	switch policyURI {
	case ua.SecurityPolicyURIBasic256Sha256, ua.SecurityPolicyURIAes128Sha256RsaOaep:
		return sha1.New, true
	case ua.SecurityPolicyURIAes256Sha256RsaPss:
		return sha256.New, true
	}
	return nil, false
}

// PasswordAlgorithm returns the EncryptionAlgorithm URI a client must name
// in its UserNameIdentityToken for a user-token policy ("" for None), so the
// server can refuse a token that names another one.
func PasswordAlgorithm(policyURI string) string {
	switch policyURI {
	case ua.SecurityPolicyURIBasic256Sha256, ua.SecurityPolicyURIAes128Sha256RsaOaep:
		return AlgRsaOaep
	case ua.SecurityPolicyURIAes256Sha256RsaPss:
		return AlgRsaOaepSha256
	}
	return ""
}

// DecryptPassword recovers the password of a UserNameIdentityToken (OPC UA
// Part 4, 7.36.3). policyURI is the user-token policy's security policy, or
// the secure channel's when the token policy names none; serverKey is the
// server's private key; serverNonce is the nonce the server sent in its last
// CreateSession or ActivateSession response.
//
// For None (or "") the token's bytes are the password. For the secure
// policies they are RSA-OAEP blocks (SHA-1 for Basic256Sha256 and
// Aes128_Sha256_RsaOaep, SHA-256 for Aes256_Sha256_RsaPss), one per key
// size, over [length uint32 LE][password][serverNonce], where length counts
// the password and the nonce. Malformed, undecryptable, or carrying another
// nonce (a replay): BadIdentityTokenInvalid. Basic128Rsa15 and Basic256:
// BadSecurityPolicyRejected. Never panics.
func DecryptPassword(policyURI string, serverKey *rsa.PrivateKey, encrypted []byte, serverNonce []byte) ([]byte, ua.StatusCode) {
	if policyURI == "" || policyURI == ua.SecurityPolicyURINone {
		return append([]byte(nil), encrypted...), ua.StatusOK
	}
	newHash, ok := oaepHash(policyURI)
	if !ok {
		return nil, ua.StatusBadSecurityPolicyRejected
	}
	if serverKey == nil || serverKey.N == nil || len(serverNonce) == 0 {
		return nil, ua.StatusBadInternalError // the server's own mistake, not the client's
	}
	k := serverKey.Size()
	if len(encrypted) == 0 || len(encrypted)%k != 0 || len(encrypted)/k > maxSecretBlocks {
		return nil, ua.StatusBadIdentityTokenInvalid
	}
	var plain []byte
	for off := 0; off < len(encrypted); off += k {
		p, err := rsa.DecryptOAEP(newHash(), nil, serverKey, encrypted[off:off+k], nil)
		if err != nil {
			return nil, ua.StatusBadIdentityTokenInvalid
		}
		plain = append(plain, p...)
	}
	if len(plain) < 4 {
		return nil, ua.StatusBadIdentityTokenInvalid
	}
	n := binary.LittleEndian.Uint32(plain)
	secret := plain[4:]
	if uint64(n) != uint64(len(secret)) || len(secret) < len(serverNonce) {
		return nil, ua.StatusBadIdentityTokenInvalid
	}
	pw, nonce := secret[:len(secret)-len(serverNonce)], secret[len(secret)-len(serverNonce):]
	if subtle.ConstantTimeCompare(nonce, serverNonce) != 1 {
		return nil, ua.StatusBadIdentityTokenInvalid
	}
	return pw, ua.StatusOK
}

// EncryptPassword does what a client does with a password for a
// UserNameIdentityToken: the inverse of DecryptPassword. Tests of the server
// use it; it returns the password itself for None.
func EncryptPassword(policyURI string, serverCert *x509.Certificate, password, serverNonce []byte) ([]byte, error) {
	if policyURI == "" || policyURI == ua.SecurityPolicyURINone {
		return append([]byte(nil), password...), nil
	}
	newHash, ok := oaepHash(policyURI)
	if !ok {
		return nil, fmt.Errorf("uaauth: encrypt password: unsupported policy %s", policyURI)
	}
	if serverCert == nil {
		return nil, errors.New("uaauth: encrypt password: no server certificate")
	}
	pub, ok := serverCert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("uaauth: encrypt password: server key is %T, not RSA", serverCert.PublicKey)
	}
	secret := binary.LittleEndian.AppendUint32(nil, uint32(len(password)+len(serverNonce)))
	secret = append(secret, password...)
	secret = append(secret, serverNonce...)
	block := pub.Size() - 2*newHash().Size() - 2 // the most OAEP fits in one block
	var out []byte
	for len(secret) > 0 {
		n := min(block, len(secret))
		c, err := rsa.EncryptOAEP(newHash(), rand.Reader, pub, secret[:n], nil)
		if err != nil {
			return nil, fmt.Errorf("uaauth: encrypt password: %w", err)
		}
		out = append(out, c...)
		secret = secret[n:]
	}
	return out, nil
}
