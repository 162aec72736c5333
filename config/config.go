package config

import "time"

// Config is the whole YAML file (DESIGN.md section 5).
type Config struct {
	Gateway Gateway  `mapstructure:"gateway"`
	OPCUA   OPCUA    `mapstructure:"opcua"`
	Metrics Metrics  `mapstructure:"metrics"`
	Devices []Device `mapstructure:"devices"`

	// File is the path the config was loaded from ("" for the built-in demo).
	File string `mapstructure:"-"`
	// Lines maps a key path ("devices[2].tags[5].type") to its line in File,
	// for error messages. Nil when unknown.
	Lines map[string]int `mapstructure:"-"`
	// Env maps a key path ("opcua.listen") to the TAGBRIDGE_* variable that
	// overrode it, so an error names the variable instead of a file line.
	Env map[string]string `mapstructure:"-"`

	// explicit holds the key paths written in the file with a non-null value,
	// so ApplyDefaults leaves an explicit zero ("scan: 0s") for Validate to
	// reject instead of silently replacing it.
	explicit map[string]bool
}

// Gateway holds process-wide settings.
type Gateway struct {
	Name string `mapstructure:"name"`
	Log  Log    `mapstructure:"log"`
}

// Log configures log/slog.
type Log struct {
	Level  string `mapstructure:"level"`  // debug | info | warn | error
	Format string `mapstructure:"format"` // text | json
}

// OPCUA configures the northbound server.
type OPCUA struct {
	Listen         string   `mapstructure:"listen"`
	Hostname       string   `mapstructure:"hostname"` // host in endpoint URLs; default: detected
	ApplicationURI string   `mapstructure:"application_uri"`
	Security       []string `mapstructure:"security"`  // none | basic256sha256 | aes128_sha256_rsaoaep | aes256_sha256_rsapss
	Anonymous      string   `mapstructure:"anonymous"` // off | read
	Users          []User   `mapstructure:"users"`
	PKI            string   `mapstructure:"pki"`
	AutoTrust      bool     `mapstructure:"auto_trust"`
	Limits         Limits   `mapstructure:"limits"`
}

// User is one UserName-token user.
type User struct {
	Name         string `mapstructure:"name"`
	PasswordHash string `mapstructure:"password_hash"`
	Role         string `mapstructure:"role"`       // read | write
	Thumbprint   string `mapstructure:"thumbprint"` // optional X509 user token (hex SHA-1 of the cert)
}

// Limits bound what clients may ask of the server. Zero means the default.
type Limits struct {
	MaxSessions                  int `mapstructure:"max_sessions"`
	MaxSubscriptionsPerSession   int `mapstructure:"max_subscriptions_per_session"`
	MaxMonitoredItems            int `mapstructure:"max_monitored_items"`
	MaxNodesPerRead              int `mapstructure:"max_nodes_per_read"`
	MaxNodesPerWrite             int `mapstructure:"max_nodes_per_write"`
	MaxNodesPerBrowse            int `mapstructure:"max_nodes_per_browse"`
	MaxMonitoredItemsPerCall     int `mapstructure:"max_monitored_items_per_call"`
	MaxBrowseContinuationPoints  int `mapstructure:"max_browse_continuation_points"`
	MaxReferencesPerBrowseResult int `mapstructure:"max_references_per_browse"`
}

// Metrics configures the HTTP endpoint for /metrics, /healthz and /readyz.
type Metrics struct {
	Listen string `mapstructure:"listen"` // "" disables it
}

// Device is one southbound device.
type Device struct {
	Name    string         `mapstructure:"name"`
	Driver  string         `mapstructure:"driver"`
	Scan    time.Duration  `mapstructure:"scan"`
	Folder  string         `mapstructure:"folder"`
	Enabled *bool          `mapstructure:"enabled"` // default true
	Options map[string]any `mapstructure:"options"` // decoded by the driver, strictly

	// Reliability (issue 5); zero means the default.
	DemoteAfter  int           `mapstructure:"demote_after"` // consecutive timeouts before demotion; 0 = never
	DemoteFor    time.Duration `mapstructure:"demote_for"`
	BackoffMin   time.Duration `mapstructure:"backoff_min"`
	BackoffMax   time.Duration `mapstructure:"backoff_max"`
	WriteTimeout time.Duration `mapstructure:"write_timeout"`

	Tags []Tag `mapstructure:"tags"`
}

// Tag is one point of a device.
type Tag struct {
	Name        string         `mapstructure:"name"` // may hold '/' for sub-folders
	Address     string         `mapstructure:"address"`
	Type        string         `mapstructure:"type"`
	Length      int            `mapstructure:"length"`     // bytes, for strings
	ByteOrder   string         `mapstructure:"byte_order"` // overrides the device's
	Unit        string         `mapstructure:"unit"`
	Scale       *Scale         `mapstructure:"scale"`
	Range       []float64      `mapstructure:"range"` // EURange [low, high] when there is no scale.eng
	Deadband    *Deadband      `mapstructure:"deadband"`
	Access      string         `mapstructure:"access"` // read | readwrite
	Scan        time.Duration  `mapstructure:"scan"`
	Description string         `mapstructure:"description"`
	Options     map[string]any `mapstructure:"options"` // per-tag driver options
}

// Scale is linear scaling: either raw/eng ranges or gain/offset.
// eng = raw*gain + offset.
type Scale struct {
	Raw    []float64 `mapstructure:"raw"`
	Eng    []float64 `mapstructure:"eng"`
	Gain   *float64  `mapstructure:"gain"`
	Offset *float64  `mapstructure:"offset"`
	Clamp  bool      `mapstructure:"clamp"`
}

// Deadband suppresses changes smaller than a threshold.
type Deadband struct {
	Absolute float64 `mapstructure:"absolute"`
	Percent  float64 `mapstructure:"percent"` // of the eng range
}

// Compact drops what only error messages need (key path -> line, the keys
// written explicitly), once a config has passed validation. With 100k tags
// these maps hold tens of megabytes a running gateway never reads again;
// errors found later simply carry no line number.
func (c *Config) Compact() {
	c.Lines = nil
	c.explicit = nil
}
