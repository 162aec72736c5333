package uaserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/mapping"
)

// rawChannel is a hand-driven client connection: Hello, then an
// OpenSecureChannel on None, then whatever the test sends.
type rawChannel struct {
	conn          net.Conn
	chanID, tokID uint32
	seq           uint32
}

func readMsg(conn net.Conn) (string, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(conn, h[:]); err != nil {
		return "", nil, err
	}
	n := binary.LittleEndian.Uint32(h[4:])
	if n < 8 || n > 1<<20 {
		return "", nil, errors.New("bad size")
	}
	b := make([]byte, n-8)
	_, err := io.ReadFull(conn, b)
	return string(h[:4]), b, err
}

func frame(typ string, body []byte) []byte {
	b := make([]byte, 8, 8+len(body))
	copy(b, typ)
	binary.LittleEndian.PutUint32(b[4:], uint32(8+len(body)))
	return append(b, body...)
}

func uaString(s string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(s)))
	return append(b, s...)
}

func openRaw(t testing.TB, srv *Server) *rawChannel {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write(hello(srv.EndpointURL()))
	if typ, _, err := readMsg(conn); err != nil || typ != "ACKF" {
		t.Fatalf("hello: %s %v", typ, err)
	}
	opn := &ua.OpenSecureChannelRequest{RequestHeader: hdr(), RequestType: ua.SecurityTokenRequestTypeIssue,
		SecurityMode: ua.MessageSecurityModeNone, RequestedLifetime: 60000}
	body := binary.LittleEndian.AppendUint32(nil, 0) // secure channel id
	body = append(body, uaString(ua.SecurityPolicyURINone)...)
	body = binary.LittleEndian.AppendUint32(body, 0xffffffff) // no certificate
	body = binary.LittleEndian.AppendUint32(body, 0xffffffff) // no thumbprint
	body = binary.LittleEndian.AppendUint32(body, 1)          // sequence number
	body = binary.LittleEndian.AppendUint32(body, 1)          // request id
	body = append(body, encodeRequest(t, opn)...)
	conn.Write(frame("OPNF", body))
	typ, b, err := readMsg(conn)
	if err != nil || typ != "OPNF" {
		t.Fatalf("open: %s %v", typ, err)
	}
	// channel id, policy, certificate, thumbprint, sequence header.
	off := 4
	for range 3 {
		n := int32(binary.LittleEndian.Uint32(b[off:]))
		off += 4 + max(int(n), 0)
	}
	off += 8
	_, v, err := ua.DecodeService(b[off:])
	if err != nil {
		t.Fatal(err)
	}
	tok := v.(*ua.OpenSecureChannelResponse).SecurityToken
	conn.SetDeadline(time.Time{})
	return &rawChannel{conn: conn, chanID: tok.ChannelID, tokID: tok.TokenID, seq: 2}
}

// msg frames body as one final MSG chunk of this channel.
func (r *rawChannel) msg(reqID uint32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, r.chanID)
	b = binary.LittleEndian.AppendUint32(b, r.tokID)
	b = binary.LittleEndian.AppendUint32(b, r.seq)
	b = binary.LittleEndian.AppendUint32(b, reqID)
	r.seq++
	return frame("MSGF", append(b, body...))
}

// FuzzSecureChannel sends arbitrary bytes after a valid Hello and
// OpenSecureChannel on None: framed as a MSG chunk body (first byte even)
// or raw on the wire (odd). The server must never panic, and must keep
// serving other clients.
func FuzzSecureChannel(f *testing.F) {
	srv, err := New(Options{Listen: "127.0.0.1:0", ApplicationURI: "urn:fuzz", Writer: &fakeWriter{}, Users: users(f)}, testTable(mapping.NewStore()))
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	for _, req := range []ua.Request{
		&ua.GetEndpointsRequest{RequestHeader: hdr(), EndpointURL: srv.EndpointURL()},
		&ua.CreateSessionRequest{RequestHeader: hdr(), ClientDescription: &ua.ApplicationDescription{ApplicationName: &ua.LocalizedText{}}, RequestedSessionTimeout: 60000},
		&ua.ReadRequest{RequestHeader: hdr(), NodesToRead: []*ua.ReadValueID{{NodeID: nid("Line1/Name"), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}}},
		&ua.ActivateSessionRequest{RequestHeader: hdr(), ClientSignature: &ua.SignatureData{}, UserTokenSignature: &ua.SignatureData{}, UserIdentityToken: ua.NewExtensionObject(&ua.UserNameIdentityToken{UserName: "operator", Password: []byte("x")})},
	} {
		f.Add(append([]byte{0}, encodeRequest(f, req)...))
	}
	f.Add([]byte{1, 'M', 'S', 'G', 'F', 0xff, 0xff, 0, 0})
	f.Add([]byte{1, 'O', 'P', 'N', 'F', 8, 0, 0, 0})
	f.Add([]byte{1, 'C', 'L', 'O', 'F', 16, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		r := openRaw(t, srv)
		defer r.conn.Close()
		if data[0]&1 == 0 {
			r.conn.Write(r.msg(7, data[1:]))
		} else {
			r.conn.Write(data[1:])
		}
		r.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		readMsg(r.conn)
		if n := srv.Stats().HandlerPanics; n != 0 {
			t.Fatalf("%d handler panics", n)
		}
		// Another client is still served.
		r2 := openRaw(t, srv)
		r2.conn.Close()
	})
}
