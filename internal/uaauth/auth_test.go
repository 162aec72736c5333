package uaauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"golang.org/x/crypto/bcrypt"
)

func mkHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clock is a fake clock and sleep: sleeping advances it and records the delay.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	delays []time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.delays = append(c.delays, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}
func (c *clock) last() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.delays) == 0 {
		return 0
	}
	return c.delays[len(c.delays)-1]
}

func newAuth(t testing.TB, anonymous string, users ...User) (*Authenticator, *logBuf, *clock) {
	t.Helper()
	lb := &logBuf{}
	a, err := New(anonymous, users, slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	a.now, a.sleep = c.now, c.sleep
	return a, lb, c
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	good := mkHash(t, "pw")
	const tp = "00112233445566778899AABBCCDDEEFF00112233"
	tests := []struct {
		name      string
		anonymous string
		users     []User
		want      string
	}{
		{"anonymous write", "write", nil, "anonymous"},
		{"anonymous empty", "", nil, "anonymous"},
		{"empty name", "off", []User{{PasswordHash: good, Role: RoleRead}}, "empty name"},
		{"duplicate", "off", []User{{Name: "a", PasswordHash: good, Role: RoleRead}, {Name: "a", PasswordHash: good, Role: RoleRead}}, "duplicate name"},
		{"plain password", "off", []User{{Name: "a", PasswordHash: "secret", Role: RoleRead}}, "not a bcrypt hash"},
		{"no role", "off", []User{{Name: "a", PasswordHash: good}}, "role none"},
		{"nothing to log in with", "off", []User{{Name: "a", Role: RoleRead}}, "needs a password_hash"},
		{"bad thumbprint", "off", []User{{Name: "a", Role: RoleRead, Thumbprint: "abc"}}, "40 hex digits"},
		{"thumbprint twice", "off", []User{{Name: "a", Role: RoleRead, Thumbprint: tp}, {Name: "b", Role: RoleRead, Thumbprint: strings.ToLower(tp)}}, "already mapped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.anonymous, tc.users, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
	t.Run("every problem reported", func(t *testing.T) {
		t.Parallel()
		_, err := New("maybe", []User{{Name: "a", PasswordHash: "x", Role: RoleRead}, {Name: "b"}}, nil)
		if err == nil || strings.Count(err.Error(), "\n") < 2 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Role{"read": RoleRead, "write": RoleWrite} {
		if r, err := ParseRole(in); err != nil || r != want || r.String() != in {
			t.Errorf("ParseRole(%q) = %v, %v", in, r, err)
		}
	}
	if _, err := ParseRole("admin"); err == nil {
		t.Error("ParseRole(admin) succeeded")
	}
	if RoleRead.CanWrite() || !RoleWrite.CanWrite() || RoleNone.CanRead() || !RoleRead.CanRead() {
		t.Error("CanRead/CanWrite wrong")
	}
}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	users := []User{{Name: "op", PasswordHash: mkHash(t, "pw"), Role: RoleWrite}}
	off, _, _ := newAuth(t, "off", users...)
	if r, code := off.Anonymous(); r != RoleNone || code != ua.StatusBadIdentityTokenRejected {
		t.Errorf("off: %v %v", r, code)
	}
	read, _, _ := newAuth(t, "read", users...)
	if r, code := read.Anonymous(); r != RoleRead || code != ua.StatusOK || r.CanWrite() {
		t.Errorf("read: %v %v", r, code)
	}
}

func TestUserName(t *testing.T) {
	t.Parallel()
	a, lb, _ := newAuth(t, "off",
		User{Name: "operator", PasswordHash: mkHash(t, "op-secret"), Role: RoleWrite},
		User{Name: "viewer", PasswordHash: mkHash(t, "view-secret"), Role: RoleRead},
		User{Name: "robot", Role: RoleRead, Thumbprint: "00112233445566778899AABBCCDDEEFF00112233"},
	)
	long := strings.Repeat("a", 72)
	b, _, _ := newAuth(t, "off", User{Name: "long", PasswordHash: mkHash(t, long), Role: RoleRead})
	tests := []struct {
		a        *Authenticator
		user, pw string
		want     Role
		code     ua.StatusCode
	}{
		{a, "operator", "op-secret", RoleWrite, ua.StatusOK},
		{a, "viewer", "view-secret", RoleRead, ua.StatusOK},
		{a, "operator", "view-secret", RoleNone, ua.StatusBadUserAccessDenied},
		{a, "operator", "", RoleNone, ua.StatusBadUserAccessDenied},
		{a, "Operator", "op-secret", RoleNone, ua.StatusBadUserAccessDenied}, // names are case-sensitive
		{a, "nobody", "op-secret", RoleNone, ua.StatusBadUserAccessDenied},   // indistinguishable from a wrong password
		{a, "", "", RoleNone, ua.StatusBadUserAccessDenied},
		{a, "robot", "", RoleNone, ua.StatusBadUserAccessDenied}, // certificate-only user
		{b, "long", long, RoleRead, ua.StatusOK},
		{b, "long", long + "b", RoleNone, ua.StatusBadUserAccessDenied}, // bcrypt would ignore byte 73
	}
	var fails uint64
	for _, tc := range tests {
		r, code := tc.a.UserName(context.Background(), "127.0.0.1:50000", tc.user, []byte(tc.pw))
		if r != tc.want || code != tc.code {
			t.Errorf("UserName(%q, %q) = %v %v, want %v %v", tc.user, tc.pw, r, code, tc.want, tc.code)
		}
		if code != ua.StatusOK && tc.a == a {
			fails++
		}
	}
	if a.Failures() != fails {
		t.Errorf("Failures() = %d, want %d", a.Failures(), fails)
	}
	log := lb.String()
	for _, secret := range []string{"op-secret", "view-secret"} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds a password:\n%s", log)
		}
	}
	if !strings.Contains(log, "login failed") || !strings.Contains(log, "user=nobody") {
		t.Errorf("failure not logged with the user name:\n%s", log)
	}
}

func TestFailedLoginsSlowDown(t *testing.T) {
	t.Parallel()
	a, _, c := newAuth(t, "off", User{Name: "op", PasswordHash: mkHash(t, "pw"), Role: RoleWrite})
	ctx := context.Background()
	login := func(peer, pw string) ua.StatusCode {
		_, code := a.UserName(ctx, peer, "op", []byte(pw))
		return code
	}
	var got []time.Duration
	for i := range 14 {
		login("10.0.0.1:"+string(rune('0'+i%10))+"000", "wrong") // a new port each time: same peer
		got = append(got, a.thr.delay("10.0.0.1", c.now()))
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("delay shrank after more failures: %v", got)
		}
	}
	if got[0] != failStep || got[1] <= got[0] || got[len(got)-1] != maxDelay {
		t.Fatalf("delays %v: want to start at %v, grow, and stop at %v", got, failStep, maxDelay)
	}
	// The next attempt from that peer, even with the right password, waits first.
	if code := login("10.0.0.1:4000", "pw"); code != ua.StatusOK {
		t.Fatalf("right password refused: %v", code)
	}
	if c.last() != maxDelay {
		t.Errorf("waited %v before checking, want %v", c.last(), maxDelay)
	}
	// Success clears the peer's record.
	if d := a.thr.delay("10.0.0.1", c.now()); d != 0 {
		t.Errorf("delay after success %v", d)
	}
	// Another peer is not slowed by the first one's failures.
	login("10.0.0.1:1", "wrong")
	if d := a.thr.delay("10.0.0.2", c.now()); d != 0 {
		t.Errorf("other peer delayed %v", d)
	}
	// Failures older than a minute no longer count.
	c.advance(failWindow)
	if d := a.thr.delay("10.0.0.1", c.now()); d != 0 {
		t.Errorf("delay a minute later %v", d)
	}
}

func TestSlowdownHonoursContext(t *testing.T) {
	t.Parallel()
	a, err := New("off", []User{{Name: "op", PasswordHash: mkHash(t, "pw"), Role: RoleWrite}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		a.thr.fail("192.0.2.7", time.Now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The real sleep returns at once on a cancelled context, before bcrypt runs.
	if r, code := a.UserName(ctx, "192.0.2.7:1", "op", []byte("pw")); r != RoleNone || code != ua.StatusBadUserAccessDenied {
		t.Fatalf("cancelled login = %v %v", r, code)
	}
	if a.Failures() != 0 {
		t.Errorf("a cancelled wait counted as a failure")
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	t.Parallel()
	var th throttle
	now := time.Now()
	for i := range maxPeers + 50 {
		th.fail(string(rune(i)), now)
	}
	if n := len(th.fails); n > maxPeers {
		t.Fatalf("%d peers kept, max %d", n, maxPeers)
	}
	for range 100 {
		th.fail("x", now)
	}
	if n := len(th.fails["x"]); n > maxKept {
		t.Fatalf("%d failures kept for one peer, max %d", n, maxKept)
	}
}

func selfSigned(t testing.TB, k *rsa.PrivateKey, notBefore, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "user"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestX509(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	k := testKey()
	cert := selfSigned(t, k, now.Add(-time.Hour), now.Add(time.Hour))
	other := selfSigned(t, k, now.Add(-2*time.Hour), now.Add(time.Hour))
	expired := selfSigned(t, k, now.Add(-2*time.Hour), now.Add(-time.Hour))
	// Thumbprints as users paste them: lower case with colons.
	colon := func(der []byte) string {
		tp := strings.ToLower(thumbprint(der))
		var parts []string
		for i := 0; i < len(tp); i += 2 {
			parts = append(parts, tp[i:i+2])
		}
		return strings.Join(parts, ":")
	}
	a, _, _ := newAuth(t, "off",
		User{Name: "line-robot", Role: RoleWrite, Thumbprint: colon(cert)},
		User{Name: "old", Role: RoleRead, Thumbprint: thumbprint(expired)},
	)
	tests := []struct {
		name string
		der  []byte
		user string
		want Role
		code ua.StatusCode
	}{
		{"mapped", cert, "line-robot", RoleWrite, ua.StatusOK},
		{"not mapped", other, "", RoleNone, ua.StatusBadUserAccessDenied},
		{"expired", expired, "", RoleNone, ua.StatusBadIdentityTokenRejected},
		{"garbage", []byte("junk"), "", RoleNone, ua.StatusBadIdentityTokenInvalid},
		{"empty", nil, "", RoleNone, ua.StatusBadIdentityTokenInvalid},
	}
	for _, tc := range tests {
		name, r, code := a.X509User(context.Background(), "127.0.0.1:1", tc.der)
		if name != tc.user || r != tc.want || code != tc.code {
			t.Errorf("%s: X509User = %q %v %v, want %q %v %v", tc.name, name, r, code, tc.user, tc.want, tc.code)
		}
	}
	if a.Failures() != 4 {
		t.Errorf("Failures() = %d, want 4 (each refused certificate counted once)", a.Failures())
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := HashPassword([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New("off", []User{{Name: "u", PasswordHash: h, Role: RoleRead}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := a.UserName(context.Background(), "p", "u", []byte("s3cret")); code != ua.StatusOK {
		t.Fatalf("hash from HashPassword refused: %v", code)
	}
	if _, err := HashPassword(nil); err == nil {
		t.Error("empty password hashed")
	}
	if _, err := HashPassword(bytes.Repeat([]byte("a"), 73)); err == nil {
		t.Error("73-byte password hashed")
	}
}
