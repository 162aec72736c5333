// Package interop drives the real tagbridge binary with independent peers:
// the node-opcua client and the jsmodbus server (npm, installed by `make
// test` from the committed package-lock.json). The tests run when
// TAGBRIDGE_INTEROP=1 (make test sets it) and skip otherwise.
package interop
