// Package uaauth owns who may do what on Tagbridge's OPC UA server: the
// roles (read, write), the check of the identity tokens a client presents
// in ActivateSession (anonymous, user name and password against bcrypt
// hashes, X509 certificates mapped to users by thumbprint), the slowing of
// repeated failed logins, and the decryption of UserName token passwords
// as OPC UA Part 4 (7.36.3) lays them out.
//
// It uses golang.org/x/crypto/bcrypt and gopcua's ua and uapolicy packages.
// It must never import anything of Tagbridge's: the OPC UA server calls it.
package uaauth
