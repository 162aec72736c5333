package interop

// The secure parts of the OPC UA server (issue 4), driven by node-opcua
// against the real binary: endpoints, a client certificate rejected and then
// trusted by moving it from pki/rejected/certs to pki/trusted/certs,
// Basic256Sha256 and Aes256_Sha256_RsaPss SignAndEncrypt with users and
// roles, None and anonymous refused when configured off, and the 10k-node
// browse, read, subscription, deadbands and delete under load.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
	"golang.org/x/crypto/bcrypt"
)

// secConfig is a gateway config with the users operator (write) and viewer
// (read), whose passwords are their names, and three sim devices: Sec (a
// writable setpoint and a counter with an EURange), Big (10,001 const
// tags in one folder) and Load (10,000 counters scanned every 100 ms).
func secConfig(t *testing.T, security, anonymous string, autoTrust bool) string {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `gateway: { name: interop-sec, log: { level: info, format: text } }
opcua:
  listen: 127.0.0.1:0
  application_uri: urn:tagbridge:interop-sec
  security: %s
  anonymous: %s
  pki: ./pki
  auto_trust: %v
  users:
    - { name: operator, password_hash: %q, role: write }
    - { name: viewer, password_hash: %q, role: read }
devices:
  - name: sec
    driver: sim
    scan: 100ms
    folder: Sec
    tags:
      - { name: Setpoint, address: "memory:float64=0", type: float64, access: readwrite }
      - { name: Count, address: "counter:step=1", type: float64, range: [0, 1000] }
  - name: big
    driver: sim
    scan: 1s
    folder: Big
    tags:
`, security, anonymous, autoTrust, hash("operator"), hash("viewer"))
	for i := range 10001 {
		fmt.Fprintf(&b, "      - { name: T%d, address: \"const:1\", type: float64 }\n", i)
	}
	b.WriteString("  - name: load\n    driver: sim\n    scan: 100ms\n    folder: Load\n    tags:\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "      - { name: C%d, address: \"counter:step=1\", type: float64 }\n", i)
	}
	return b.String()
}

func startSecGateway(t *testing.T, cfg string) (*gateway, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tagbridge.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, dir, "--config", "tagbridge.yaml"), dir
}

func TestSecurityNodeOPCUA(t *testing.T) {
	requireInterop(t)
	gw, dir := startSecGateway(t, secConfig(t, "[none, basic256sha256, aes128_sha256_rsaoaep, aes256_sha256_rsapss]", "read", false))
	if _, err := os.Stat(filepath.Join(dir, "pki", "own", "certs", "cert.der")); err != nil {
		t.Fatalf("no server certificate at first start: %v\n%s", err, gw.logs.String())
	}
	if !strings.Contains(gw.logs.String(), "thumbprint") {
		t.Errorf("the server did not log its certificate's thumbprint\n%s", gw.logs.String())
	}
	t.Logf("endpoints: %v", node(t, 60*time.Second, "security.js", "endpoints", gw.Endpoint))

	clientPKI := t.TempDir()
	t.Logf("untrusted: %v", node(t, 60*time.Second, "security.js", "reject", gw.Endpoint, clientPKI))
	rejected, _ := filepath.Glob(filepath.Join(dir, "pki", "rejected", "certs", "*"))
	if len(rejected) == 0 {
		t.Fatalf("the refused client certificate is not in pki/rejected/certs\n%s", gw.logs.String())
	}
	for _, p := range rejected { // what an operator does to trust a client
		if err := os.Rename(p, filepath.Join(dir, "pki", "trusted", "certs", filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("secure: %v", node(t, 90*time.Second, "security.js", "secure", gw.Endpoint, clientPKI))
	t.Logf("load: %v", node(t, 180*time.Second, "security.js", "load", gw.Endpoint))
}

func TestSecurityLockedNodeOPCUA(t *testing.T) {
	requireInterop(t)
	// auto_trust: the node client's certificate is stored on first use.
	gw, dir := startSecGateway(t, secConfig(t, "[basic256sha256]", "off", true))
	t.Logf("locked: %v", node(t, 90*time.Second, "security.js", "locked", gw.Endpoint, t.TempDir()))
	// node-opcua refuses None and anonymous itself (they are not in the
	// endpoints); a client that insists must be refused by the server.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := opcua.NewClient(gw.Endpoint, opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AutoReconnect(false), opcua.AuthAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.Connect(ctx); !errors.Is(err, ua.StatusBadSecurityPolicyRejected) {
		t.Errorf("a session on None without a None endpoint: got %v, want BadSecurityPolicyRejected", err)
	}
	if trusted, _ := filepath.Glob(filepath.Join(dir, "pki", "trusted", "certs", "*")); len(trusted) == 0 {
		t.Errorf("auto_trust stored no certificate in pki/trusted/certs")
	}
}
