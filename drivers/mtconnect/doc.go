// Package mtconnect is the Tagbridge driver for MTConnect agents (CNC
// machines). It reads an agent's /probe, takes a /current baseline and then
// follows /sample by sequence number, either by polling or by an HTTP
// multipart stream, keeping the latest value of every DataItem in a cache
// that Device.Read serves from.
//
// It owns the MTConnect XML parsing (probe, streams and error documents, by
// local element names so that every namespace from 1.3 to 2.x parses), the
// sequence tracking (gaps, agent restarts, heartbeats) and the mapping of
// MTConnect categories, types and units to Tagbridge types and unit names.
//
// It imports only drivers and the standard library; never mapping, config,
// internal/* or another driver.
package mtconnect
