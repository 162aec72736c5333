package uaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/tagbridge/tagbridge/internal/uaauth"
	"github.com/tagbridge/tagbridge/mapping"
)

// Writer carries a client's write to the device. internal/poll implements
// it. It is called from the requesting client's channel goroutine; it
// returns when the device confirmed the write or failed. An error wrapping
// *drivers.QualityError is answered with that Quality as the status.
type Writer interface {
	Write(ctx context.Context, t *mapping.Tag, v any) error
}

// User is one entry of the users list: a name, a bcrypt hash and/or a
// certificate thumbprint, and a role.
type User struct {
	Name         string
	PasswordHash string // bcrypt ($2a$/$2b$/$2y$); "" for a certificate-only user
	Role         string // "read" | "write"
	Thumbprint   string // optional: SHA-1 (hex) of the certificate of an X509 user token
}

// Limits bound what one client may ask for. Zero fields take the defaults.
type Limits struct {
	MaxSessions                 int
	MaxSubscriptionsPerSession  int
	MaxMonitoredItems           int // per session
	MaxNodesPerRead             uint32
	MaxNodesPerWrite            uint32
	MaxNodesPerBrowse           uint32
	MaxMonitoredItemsPerCall    uint32
	MaxBrowseContinuationPoints int // per session
	MaxReferencesPerNode        uint32
	MaxPublishRequests          int // queued per session
	WriteTimeout                time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def32 := func(v *uint32, d uint32) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxSessions, 100)
	def(&l.MaxSubscriptionsPerSession, 50)
	def(&l.MaxMonitoredItems, 200000)
	def32(&l.MaxNodesPerRead, 100000)
	def32(&l.MaxNodesPerWrite, 10000)
	def32(&l.MaxNodesPerBrowse, 10000)
	def32(&l.MaxMonitoredItemsPerCall, 100000)
	def(&l.MaxBrowseContinuationPoints, 16)
	def32(&l.MaxReferencesPerNode, 10000)
	def(&l.MaxPublishRequests, 32)
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 10 * time.Second
	}
	return l
}

// Options configure a Server.
type Options struct {
	Listen         string // host:port, e.g. "127.0.0.1:4840"; required (never defaults to all interfaces)
	Hostname       string // host in endpoint URLs; "" = os.Hostname, or the listen IP when it is not unspecified
	ApplicationURI string // NamespaceArray[1]: the namespace of every tag node (ns=1)
	ProductName    string
	Version        string
	Commit         string
	Security       []string // none | basic256sha256 | aes128_sha256_rsaoaep | aes256_sha256_rsapss
	Anonymous      string   // "read" (default) | "off"
	Users          []User   // UserName logins (checked with bcrypt) and X509 user tokens (by thumbprint)
	PKIDir         string   // own/ trusted/ rejected/ ...; required with a secure policy or X509 users
	AutoTrust      bool     // accept and store unknown client certificates (commissioning only)
	Limits         Limits
	Logger         *slog.Logger
	Writer         Writer // nil: every write answers BadNotWritable
}

// Stats are counters for metrics.
type Stats struct {
	Channels          int
	Sessions          int
	Subscriptions     int
	MonitoredItems    int
	NotificationsSent uint64
	PublishResponses  uint64
	Requests          uint64
	HandlerPanics     uint64
	LoginFailures     uint64 // refused UserName and X509 logins
}

// Server is an OPC UA server over a mapping tag table.
type Server struct {
	opt    Options
	log    *slog.Logger
	sec    *security
	auth   *uaauth.Authenticator
	info   *serverInfo
	lim    Limits
	writer Writer

	space atomic.Pointer[space]
	table atomic.Pointer[mapping.Table]

	ln   net.Listener
	url  atomic.Pointer[string]
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu       sync.Mutex
	channels map[*channel]struct{}
	sessions *sessions
	nextChan uint32

	closeOnce sync.Once

	nNotif, nPublish, nReq, nPanic atomic.Uint64

	// publishHook, when set (benchmarks, before Start), is told of every
	// Publish response written: when its cycle was due and when the
	// response was on the wire.
	publishHook func(due, written time.Time, notes int)
}

// New checks opt and builds the address space of tbl. It does not listen.
func New(opt Options, tbl *mapping.Table) (*Server, error) {
	if opt.Listen == "" {
		return nil, errors.New("opcua: no listen address (want host:port, e.g. 127.0.0.1:4840)")
	}
	if _, _, err := net.SplitHostPort(opt.Listen); err != nil {
		return nil, fmt.Errorf("opcua: listen %q: %w", opt.Listen, err)
	}
	if opt.ApplicationURI == "" {
		return nil, errors.New("opcua: no application_uri")
	}
	if len(opt.Security) == 0 {
		opt.Security = []string{"none"}
	}
	eps, tokenURI, err := parseSecurity(opt.Security)
	if err != nil {
		return nil, err
	}
	if opt.Anonymous == "" {
		opt.Anonymous = "read"
	}
	if opt.ProductName == "" {
		opt.ProductName = "Tagbridge"
	}
	lg := opt.Logger
	if lg == nil {
		lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		opt: opt, log: lg, lim: opt.Limits.withDefaults(), writer: opt.Writer,
		done: make(chan struct{}), channels: map[*channel]struct{}{},
		sec: &security{endpoints: eps, tokenURI: tokenURI, autoTrust: opt.AutoTrust},
	}
	if s.auth, err = newAuth(opt, lg); err != nil {
		return nil, err
	}
	if err := s.openPKI(); err != nil {
		return nil, err
	}
	s.info = &serverInfo{
		namespaces: []string{"http://opcfoundation.org/UA/", opt.ApplicationURI},
		appURI:     opt.ApplicationURI, product: opt.ProductName, version: opt.Version, commit: opt.Commit,
		start: time.Now().UTC(), now: func() time.Time { return time.Now().UTC() }, limits: s.lim,
	}
	s.sessions = newSessions(s)
	s.SetTable(tbl)
	if hasPasswords(opt.Users) && !s.sec.secure() {
		lg.Warn("opcua: only the None security policy is configured: user passwords travel in clear text; use it only on a trusted network")
	}
	return s, nil
}

// SetTable replaces the address space with one built from tbl (hot reload).
// Monitored items on paths that still exist keep their store entry; items
// on removed paths get one BadNodeIdUnknown notification and stop.
func (s *Server) SetTable(tbl *mapping.Table) {
	sp, skipped := buildSpace(s.info, tbl)
	for _, p := range skipped {
		s.log.Warn("opcua: tag skipped: its path collides with a folder or another tag", "path", p)
	}
	s.table.Store(tbl)
	s.space.Store(sp)
	s.sessions.reloaded(sp)
}

// Start listens on Options.Listen and serves in background goroutines. It
// returns once the listener is bound (an error if the port is taken).
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opt.Listen)
	if err != nil {
		return fmt.Errorf("opcua: listen %s: %w", s.opt.Listen, err)
	}
	s.ln = ln
	u := "opc.tcp://" + net.JoinHostPort(s.hostname(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	s.url.Store(&u)
	s.log.Info("opcua: listening", "addr", ln.Addr().String(), "endpoint", u)
	s.wg.Add(2)
	go s.acceptLoop()
	go s.sessions.janitor()
	return nil
}

func (s *Server) hostname() string {
	if s.opt.Hostname != "" {
		return s.opt.Hostname
	}
	host, _, _ := net.SplitHostPort(s.opt.Listen)
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host
	}
	if host != "" && net.ParseIP(host) == nil {
		return host
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// Addr is the bound address (nil before Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// EndpointURL is opc.tcp://host:port ("" before Start).
func (s *Server) EndpointURL() string {
	if p := s.url.Load(); p != nil {
		return *p
	}
	return ""
}

// Close stops listening, closes every channel and session and waits (at
// most about 5 s) for the server's goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.ln != nil {
			s.ln.Close()
		}
		s.mu.Lock()
		for c := range s.channels {
			c.close()
		}
		s.mu.Unlock()
		s.sessions.closeAll()
	})
	wait := make(chan struct{})
	go func() { s.wg.Wait(); close(wait) }()
	t := time.NewTimer(4500 * time.Millisecond)
	defer t.Stop()
	select {
	case <-wait:
		return nil
	case <-t.C:
		return errors.New("opcua: close: timed out waiting for client goroutines")
	}
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	nch := len(s.channels)
	s.mu.Unlock()
	ns, nsub, nmi := s.sessions.counts()
	return Stats{
		Channels: nch, Sessions: ns, Subscriptions: nsub, MonitoredItems: nmi,
		NotificationsSent: s.nNotif.Load(), PublishResponses: s.nPublish.Load(),
		Requests: s.nReq.Load(), HandlerPanics: s.nPanic.Load(), LoginFailures: s.auth.Failures(),
	}
}

// status maps an error to a StatusCode for a response.
func statusOf(err error) ua.StatusCode {
	var sc ua.StatusCode
	if errors.As(err, &sc) {
		return sc
	}
	return ua.StatusBadInternalError
}
