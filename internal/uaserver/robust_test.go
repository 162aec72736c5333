package uaserver

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
	"go.uber.org/goleak"

	"github.com/tagbridge/tagbridge/drivers"
	"github.com/tagbridge/tagbridge/mapping"
)

func hello(url string) []byte {
	b, _ := ua.Encode(&uacp.Hello{ReceiveBufSize: 65535, SendBufSize: 65535, MaxMessageSize: 0, MaxChunkCount: 0, EndpointURL: url})
	h := make([]byte, 8)
	copy(h, "HELF")
	binary.LittleEndian.PutUint32(h[4:], uint32(8+len(b)))
	return append(h, b...)
}

func TestGarbageConnections(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	addr := f.srv.Addr().String()
	for _, payload := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		append(hello(f.srv.EndpointURL()), []byte("MSGF\x20\x00\x00\x00garbagegarbagegarbage!!!")...),
		append(hello(f.srv.EndpointURL()), []byte("OPNF\x10\x00\x00\x00\x01\x00\x00\x00\xff\xff\xff\xff")...),
		append(hello(f.srv.EndpointURL()), []byte("OPNF\xff\xff\x00\x00")...),
		hello(f.srv.EndpointURL())[:20],
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(payload)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1024)
		for range 4 {
			if _, err := conn.Read(buf); err != nil {
				break
			}
		}
		conn.Close()
	}
	// The server still serves a real client.
	c := f.connect(t)
	if _, err := c.NamespaceArray(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Stats(); st.HandlerPanics != 0 {
		t.Errorf("panics: %d", st.HandlerPanics)
	}
}

func TestReloadKeepsItems(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.connect(t)
	_, ch, _ := subscribe(t, c, 50*time.Millisecond, monItem("Line1/Press3/Temperature", 1), monItem("Line1/Running", 2))
	// Reload without Line1/Running: handle 2 reports BadNodeIdUnknown,
	// handle 1 keeps delivering.
	var tags []*mapping.Tag
	for _, tg := range f.tbl.Tags {
		if tg.Path != "Line1/Running" {
			tags = append(tags, tg)
		}
	}
	f.srv.SetTable(&mapping.Table{Tags: tags})
	f.store.Entry("Line1/Press3/Temperature").Set(mapping.Value{V: 99.0, Quality: drivers.Good, Source: time.Now(), Server: time.Now()})
	gone, live := false, false
	deadline := time.After(10 * time.Second)
	for !gone || !live {
		select {
		case <-deadline:
			t.Fatalf("gone=%v live=%v", gone, live)
		case n := <-ch:
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, it := range dc.MonitoredItems {
				if it.ClientHandle == 2 && it.Value.Status == ua.StatusBadNodeIDUnknown {
					gone = true
				}
				if it.ClientHandle == 1 && it.Value.Value.Value() == 99.0 {
					live = true
				}
			}
		}
	}
	r := read(t, c, 3, &ua.ReadValueID{NodeID: nid("Line1/Running"), AttributeID: ua.AttributeIDValue})
	if r[0].Status != ua.StatusBadNodeIDUnknown {
		t.Errorf("removed node read: %v", r[0].Status)
	}
}

// TestNoLeaks runs a full client life cycle under load and checks that
// Close leaves no goroutine of ours behind.
func TestNoLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f := start(t, nil)
	var clients []*opcua.Client
	for range 3 {
		c := f.connect(t)
		clients = append(clients, c)
		subscribe(t, c, 50*time.Millisecond, monItem("Line1/Press3/Temperature", 1))
		e := f.store.Entry("Line1/Press3/Temperature")
		for i := range 200 {
			e.Set(mapping.Value{V: float64(i), Quality: drivers.Good})
		}
	}
	// One client vanishes without closing its session; the others close.
	clients[0].SecureChannel().Close()
	for _, c := range clients[1:] {
		c.Close(context.Background())
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	clients[0].Close(context.Background())
	goleak.VerifyNone(t, before)
}

// TestChannelRenew lets the client renew its security token (at 75 % of a
// 1 s lifetime) and keeps using the channel.
func TestChannelRenew(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("gopcua v0.9.1's client races with itself when it renews (uasc scheduleRenewal vs SendRequest); run without -race")
	}
	f := start(t, nil)
	c := f.connect(t, opcua.Lifetime(time.Second))
	for range 3 {
		time.Sleep(600 * time.Millisecond)
		if _, err := c.NamespaceArray(ctx5(t)); err != nil {
			t.Fatal(err)
		}
	}
}
