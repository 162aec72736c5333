package uaserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uacp"
)

func TestDataValueEncoding(t *testing.T) {
	t.Parallel()
	now := time.Now()
	both := byte(ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp)
	for _, dv := range []*ua.DataValue{
		{EncodingMask: both, Value: ua.MustVariant(1.5), SourceTimestamp: now, ServerTimestamp: now},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(true)},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(int16(-3))},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(uint64(1 << 60))},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(float32(2))},
		{EncodingMask: ua.DataValueValue | ua.DataValueStatusCode, Value: ua.MustVariant("press 3"), Status: ua.StatusBadCommunicationError},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant("")},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(ua.NewLocalizedText("Platen"))},
		{EncodingMask: ua.DataValueValue, Value: ua.MustVariant([]float64{1, 2, 3})},
		{EncodingMask: ua.DataValueValue | ua.DataValueServerPicoseconds | ua.DataValueSourcePicoseconds, Value: ua.MustVariant(now)},
		tooLargeValue(),
	} {
		b, err := ua.Encode(dv)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendDataValue([]byte{7}, dv); !bytes.Equal(got[1:], b) {
			t.Errorf("%v: appendDataValue\n got %x\nwant %x", dv.Value, got[1:], b)
		}
		checkDataChangeEncoder(t, dv)
	}
	checkDataChangeEncoder(t, nil)
}

// checkDataChangeEncoder compares our encoder with gopcua's for one value
// (nil: an empty notification list) inside a NotificationMessage.
func checkDataChangeEncoder(t *testing.T, dv *ua.DataValue) {
	t.Helper()
	var notes []*ua.MonitoredItemNotification
	if dv != nil {
		notes = []*ua.MonitoredItemNotification{{ClientHandle: 3, Value: dv}, {ClientHandle: 4, Value: dv}}
	}
	msg := func(eo *ua.ExtensionObject) []byte {
		b, err := ua.Encode(&ua.NotificationMessage{SequenceNumber: 1, NotificationData: []*ua.ExtensionObject{eo}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := msg(ua.NewExtensionObject(&ua.DataChangeNotification{MonitoredItems: notes}))
	if got := msg(newDataChange(notes)); !bytes.Equal(got, want) {
		t.Fatalf("%v: dataChangeEncoder\n got %x\nwant %x", dv, got, want)
	}
}

func FuzzDataValueEncoding(f *testing.F) {
	f.Add("Line1", 1.5, int64(7), byte(0xff))
	f.Add("", 0.0, int64(-1), byte(0))
	f.Fuzz(func(t *testing.T, s string, x float64, i int64, mask byte) {
		for _, v := range []any{s, x, i, uint32(i), int8(i), []byte(s)} {
			dv := &ua.DataValue{EncodingMask: mask & 0x3f, Value: ua.MustVariant(v), Status: ua.StatusBadOutOfRange,
				SourceTimestamp: time.Unix(i, 0), ServerTimestamp: time.Now()}
			b, err := ua.Encode(dv)
			if err != nil {
				continue
			}
			if got := appendDataValue(nil, dv); !bytes.Equal(got, b) {
				t.Fatalf("%T %v mask %x: appendDataValue\n got %x\nwant %x", v, v, mask, got, b)
			}
			checkDataChangeEncoder(t, dv)
		}
	})
}

// msgSizeProxy forwards one OPC UA TCP connection and records the largest
// message body (the chunk bodies of one request id, None security) that
// the server sent: what Part 6 measures against MaxMessageSize.
type msgSizeProxy struct {
	ln  net.Listener
	mu  sync.Mutex
	max int
	wg  sync.WaitGroup
}

func newMsgSizeProxy(t *testing.T, target string) *msgSizeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &msgSizeProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		cl, err := ln.Accept()
		if err != nil {
			return
		}
		sv, err := net.Dial("tcp", target)
		if err != nil {
			cl.Close()
			return
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); io.Copy(sv, cl); sv.Close() }()
		p.measure(cl, sv)
		cl.Close()
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *msgSizeProxy) measure(dst io.Writer, src io.Reader) {
	sum := map[uint32]int{}
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(src, hdr); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(hdr[4:]))
		if n < 8 || n > 1<<20 {
			return
		}
		body := make([]byte, n-8)
		if _, err := io.ReadFull(src, body); err != nil {
			return
		}
		if string(hdr[:3]) == "MSG" && len(body) >= 16 {
			// channel id, token id, sequence number, request id, body.
			req := binary.LittleEndian.Uint32(body[12:])
			sum[req] += len(body) - 16
			if hdr[3] != 'C' {
				p.mu.Lock()
				p.max = max(p.max, sum[req])
				p.mu.Unlock()
				delete(sum, req)
			}
		}
		if _, err := dst.Write(append(hdr, body...)); err != nil {
			return
		}
	}
}

func (p *msgSizeProxy) largest() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// A client that takes at most 64 KiB per message gets the initial values
// of 10k items in several Publish responses, none larger than that.
func TestPublishRespectsMaxMessageSize(t *testing.T) {
	t.Parallel()
	const n, limit = 10000, 64 << 10
	srv, tbl := newLoadServer(t, n, true)
	startLoadServer(t, srv)
	px := newMsgSizeProxy(t, srv.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := opcua.NewClient("opc.tcp://"+px.ln.Addr().String(), opcua.SecurityMode(ua.MessageSecurityModeNone),
		opcua.AutoReconnect(false), opcua.RequestTimeout(10*time.Second),
		opcua.Dialer(&uacp.Dialer{Dialer: &net.Dialer{}, ClientACK: &uacp.Acknowledge{
			ReceiveBufSize: 0xffff, SendBufSize: 0xffff, MaxMessageSize: limit}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	_, ch := monitorAll(t, ctx, c, tbl, 100*time.Millisecond, 0)
	seen := map[uint32]bool{}
	msgs := 0
	for len(seen) < n {
		select {
		case d := <-ch:
			if d.Error != nil {
				t.Fatalf("after %d of %d items: %v", len(seen), n, d.Error)
			}
			if dc, ok := d.Value.(*ua.DataChangeNotification); ok {
				msgs++
				for _, mi := range dc.MonitoredItems {
					seen[mi.ClientHandle] = true
				}
			}
		case <-ctx.Done():
			t.Fatalf("initial values of %d of %d items arrived", len(seen), n)
		}
	}
	if got := px.largest(); got > limit {
		t.Errorf("largest message %d bytes, client limit %d", got, limit)
	}
	if msgs < 2 {
		t.Errorf("10k values in %d message(s): want them split", msgs)
	}
}

// newDataChange encodes notes as a DataChangeNotification with the
// server's own encoder (appendDataValue, dataChangeObject), for comparison
// with ua.Encode's bytes.
func newDataChange(notes []*ua.MonitoredItemNotification) *ua.ExtensionObject {
	b := make([]byte, 0, 8+32*len(notes))
	if notes == nil {
		b = le.AppendUint32(b, 0xffffffff)
	} else {
		b = le.AppendUint32(b, uint32(len(notes)))
	}
	for _, mi := range notes {
		if mi == nil || mi.Value == nil {
			eb, _ := ua.Encode(mi)
			b = append(b, eb...)
			continue
		}
		b = le.AppendUint32(b, mi.ClientHandle)
		b = appendDataValue(b, mi.Value)
	}
	b = le.AppendUint32(b, 0xffffffff) // no DiagnosticInfos
	return dataChangeObject(b)
}
