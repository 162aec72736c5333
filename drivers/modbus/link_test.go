package modbus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	gb "github.com/goburrow/modbus"
	sv "github.com/simonvetter/modbus"

	"github.com/tagbridge/tagbridge/drivers"
)

// fakePort replays one reply and then reports the line closed.
type fakePort struct{ reply []byte }

func (p *fakePort) Write(b []byte) (int, error) { return len(b), nil }
func (p *fakePort) Close() error                { return nil }
func (p *fakePort) Read(b []byte) (int, error) {
	if len(p.reply) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.reply)
	p.reply = p.reply[n:]
	return n, nil
}

func asciiOver(reply []byte) *asciiLink {
	l := &asciiLink{cfg: linkConfig{timeout: time.Second}}
	l.port = &asciiPort{port: &fakePort{reply: reply}, timeout: time.Second}
	l.pack = gb.NewASCIIClientHandler("fake")
	l.client = gb.NewClient2(l.pack, l.port)
	return l
}

func TestASCIIResync(t *testing.T) {
	t.Parallel()
	// Noise, a stale half frame, then the real reply: unit 7, fc3, 2 bytes 0x1B58 (7000).
	good := ":0703021B58" + "81" + "\r\n"
	l := asciiOver([]byte("\x00\xffnoise:0703\r" + good))
	w, err := l.readRegisters(context.Background(), 7, 3, 0, 1)
	if err != nil || len(w) != 1 || w[0] != 7000 {
		t.Fatalf("read through noise: %v %v", w, err)
	}
	l = asciiOver([]byte(":078302" + "74" + "\r\n"))
	_, err = l.readRegisters(context.Background(), 7, 3, 0, 1)
	var exc Exception
	if !errors.As(err, &exc) || exc.Code != 2 {
		t.Errorf("exception reply: %v, want exception 2", err)
	}
	l = asciiOver([]byte(":0703021B5800\r\n"))
	if _, err = l.readRegisters(context.Background(), 7, 3, 0, 1); classify(err) != classFrame {
		t.Errorf("bad LRC: %v (class %v), want a frame error", err, classify(err))
	}
}

// FuzzASCIIReply feeds any bytes to the ASCII link as the device's reply:
// no panic, and a nil error only with the requested number of values.
func FuzzASCIIReply(f *testing.F) {
	f.Add([]byte(":0703021B5881\r\n"), uint16(1))
	f.Add([]byte(":07830274\r\n"), uint16(2))
	f.Add([]byte(":0701010ABC\r\n"), uint16(3))
	f.Add([]byte("::::\r\n:07\r\n"), uint16(0))
	f.Fuzz(func(t *testing.T, reply []byte, qty uint16) {
		qty = qty%125 + 1
		if w, err := asciiOver(reply).readRegisters(context.Background(), 7, 3, 0, qty); err == nil && len(w) != int(qty) {
			t.Errorf("%d registers for %d", len(w), qty)
		}
		if b, err := asciiOver(reply).readBits(context.Background(), 7, 1, 0, qty); err == nil && len(b) != int(qty) {
			t.Errorf("%d bits for %d", len(b), qty)
		}
	})
}

// FuzzTCPReply answers the driver's request with any PDU bytes in a
// well-formed MBAP frame: the device must not panic and must return either
// values or an error, never wrong-length data.
func FuzzTCPReply(f *testing.F) {
	f.Add([]byte{3, 4, 0, 1, 0, 2})
	f.Add([]byte{0x83, 2})
	f.Add([]byte{3, 2, 0})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, pdu []byte) {
		if len(pdu) == 0 || len(pdu) > 250 {
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			hdr := make([]byte, 12)
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			n := len(pdu) + 1
			_, _ = c.Write(append([]byte{hdr[0], hdr[1], 0, 0, byte(n >> 8), byte(n), hdr[6]}, pdu...))
			_, _ = io.Copy(io.Discard, c)
		}()
		d, err := NewDriver().Open(context.Background(), "fuzz", map[string]any{"address": l.Addr().String(), "timeout": "200ms"})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		out := make([]drivers.Sample, 2)
		_ = d.Read(context.Background(), []drivers.Address{{Addr: "hr:0", Type: drivers.Uint16}, {Addr: "hr:1", Type: drivers.Int16}}, out)
		for _, s := range out {
			if s.Quality == drivers.Good && s.Value == nil {
				t.Errorf("good sample without a value")
			}
		}
	})
}

// TestTLS reads through Modbus/TLS (MBAPS) with mutual certificates against
// simonvetter's tcp+tls server.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caCert, caKey := makeCert(t, dir, "ca", nil, nil)
	makeCert(t, dir, "server", caCert, caKey)
	makeCert(t, dir, "client", caCert, caKey)
	serverPair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := sv.LoadCertPool(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var srv *sv.ModbusServer
	var address string
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		address = l.Addr().String()
		_ = l.Close()
		srv, err = sv.NewServer(&sv.ServerConfiguration{URL: "tcp+tls://" + address, TLSServerCert: &serverPair,
			TLSClientCAs: pool, Logger: log.New(io.Discard, "", 0)}, constHandler{})
		if err == nil {
			if err = srv.Start(); err == nil {
				break
			}
		}
	}
	t.Cleanup(func() { _ = srv.Stop() })
	d := openDev(t, nil, "secure", map[string]any{"transport": "tls", "address": address,
		"cert": filepath.Join(dir, "client.pem"), "key": filepath.Join(dir, "client.key"), "ca": filepath.Join(dir, "ca.pem")})
	out, err := read(t, d, []drivers.Address{addr("hr:4", drivers.Uint16)})
	if err != nil || out[0].Value != uint16(4) {
		t.Fatalf("read over TLS: %v %v", out[0], err)
	}
}

// constHandler answers every register read with the register's address.
type constHandler struct{}

func (constHandler) HandleCoils(*sv.CoilsRequest) ([]bool, error) { return nil, sv.ErrIllegalFunction }
func (constHandler) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (constHandler) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}
func (constHandler) HandleHoldingRegisters(r *sv.HoldingRegistersRequest) ([]uint16, error) {
	out := make([]uint16, r.Quantity)
	for i := range out {
		out[i] = r.Addr + uint16(i)
	}
	return out, nil
}

// makeCert writes name.pem and name.key into dir: a CA when parent is nil,
// else a leaf for 127.0.0.1 signed by parent, usable by client and server.
func makeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		signer, signKey = parent, parentKey
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+".key", "EC PRIVATE KEY", kder)
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}
