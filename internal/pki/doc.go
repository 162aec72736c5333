// Package pki owns Tagbridge's OPC UA certificate store: the folder layout
// under opcua.pki (own/, trusted/, issuers/, rejected/ with certs/, crl/ and
// private/ as UA .NET and open62541 lay them out), the server's own
// application instance certificate (created at first start, reused after),
// and the validation of client certificates for each new secure channel
// (trust lists and CRLs are re-read from disk, so an operator can trust a
// client without a restart).
//
// It uses only the standard library and gopcua's ua package (for status
// codes). It must never import anything of Tagbridge's: the OPC UA server
// calls it, not the other way round.
package pki
