// Package uaserver is Tagbridge's own OPC UA server core: the listener and
// Hello/Acknowledge, secure channels, sessions, the address space built from
// the mapping tag table (folders from tag paths, variables, the _Devices
// status folder, a minimal namespace 0), and the Browse, Read, Write and
// subscription services fed from the mapping store.
//
// It is written on gopcua's transport and codec packages (ua, uacp, uasc,
// uapolicy, id) and imports mapping for the tag table and the store,
// internal/pki for its certificate and the trust of client certificates, and
// internal/uaauth for users, roles and user tokens. It never
// imports gopcua's server package, config, internal/poll or any driver:
// writes leave through the small Writer interface it declares.
package uaserver
